"""The ingress over real HTTP (gunicorn) on PostgreSQL and Redis: verify, validate, store, enqueue.

Signatures are made by the `standardwebhooks` reference library, not by our own signer.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest
import redis
import requests
from sqlalchemy import text
from standardwebhooks import Webhook

from cli import runtime
from db.session import get_engine

SECOND_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def ingress(stack_factory):
    stack = stack_factory()
    # two secrets during a rotation: the old one (the stack's) and the new one
    stack.env["WEBHOOK_SECRETS"] = f"{stack.webhook_secret},{SECOND_SECRET}"
    stack.env["MAX_BODY_BYTES"] = "4096"
    stack.start_ingress()
    return stack


def signed(secret: str, body: str, *, msg_id: str | None = None, when: datetime | None = None) -> dict:
    msg_id = msg_id or f"msg_{secrets.token_hex(6)}"
    when = when or datetime.now(timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body), "content-type": "application/json"}


def event(txn: int = 123456789, **data) -> str:
    return json.dumps({"type": "transaction.sale", "data": {"transaction_id": txn, **data}})


def queue_length(stack) -> int:
    return redis.Redis.from_url(stack.redis_url).llen("ingest")


def inbox_rows(stack) -> list[dict]:
    with get_engine(stack.database_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM inbox ORDER BY id"))]


def post(stack, body: str, headers: dict) -> requests.Response:
    return requests.post(f"{stack.ingress_url}/webhooks/paytrace", data=body, headers=headers, timeout=10)


def test_accepts_once_and_answers_repeats_with_200_enqueueing_nothing(ingress):
    body = event()
    headers = signed(ingress.webhook_secret, body, msg_id="evt_once")
    first = post(ingress, body, headers)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    assert len(inbox_rows(ingress)) == 1 and queue_length(ingress) == 1
    for _ in range(3):
        again = post(ingress, body, signed(ingress.webhook_secret, body, msg_id="evt_once"))
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(inbox_rows(ingress)) == 1 and queue_length(ingress) == 1


def test_a_pair_route_stores_for_its_pair_and_an_unknown_pair_is_a_clear_404(ingress):
    body = event(555)
    url = f"{ingress.ingress_url}/pairs/default/webhooks/paytrace"
    assert requests.post(url, data=body, headers=signed(ingress.webhook_secret, body), timeout=10).status_code == 202
    unknown = requests.post(f"{ingress.ingress_url}/pairs/nope/webhooks/paytrace", data=body,
                            headers=signed(ingress.webhook_secret, body), timeout=10)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert [(r["pair"], r["transaction_id"]) for r in inbox_rows(ingress)] == [("default", 555)]


def test_rotation_accepts_either_secret_and_a_header_with_one_good_signature(ingress):
    body = event(777)
    assert post(ingress, body, signed(SECOND_SECRET, body)).status_code == 202
    headers = signed(ingress.webhook_secret, event(778))
    headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + headers["webhook-signature"]
    assert post(ingress, event(778), headers).status_code == 202


@pytest.mark.parametrize("tamper", [
    "wrong_secret", "missing_headers", "too_old", "too_new", "mutated_body", "garbage_signature",
    "wrong_scheme", "reserialized_json", "bad_timestamp",
])
def test_unsigned_or_tampered_requests_get_401_and_store_nothing(ingress, tamper):
    body = event(42, invoice_id="INV-1")
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    headers = signed(ingress.webhook_secret, body)
    if tamper == "wrong_secret":
        headers = signed(other, body)
    elif tamper == "missing_headers":
        headers = {"content-type": "application/json"}
    elif tamper == "too_old":
        headers = signed(ingress.webhook_secret, body, when=datetime.now(timezone.utc) - timedelta(minutes=6))
    elif tamper == "too_new":
        headers = signed(ingress.webhook_secret, body, when=datetime.now(timezone.utc) + timedelta(minutes=6))
    elif tamper == "mutated_body":
        body = body.replace("INV-1", "INV-2")
    elif tamper == "garbage_signature":
        headers["webhook-signature"] = "not-a-signature,,, v1 v1,@@@"
    elif tamper == "wrong_scheme":
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v0,")
    elif tamper == "reserialized_json":
        body = json.dumps(json.loads(body), indent=2)
    elif tamper == "bad_timestamp":
        headers["webhook-timestamp"] = "yesterday"
    answer = post(ingress, body, headers)
    assert answer.status_code == 401, answer.text
    assert "error" in answer.json()
    assert inbox_rows(ingress) == [] and queue_length(ingress) == 0


@pytest.mark.parametrize("body,why", [
    ("not json at all", "JSON"),
    (json.dumps([1, 2, 3]), "JSON object"),
    (json.dumps({"type": "transaction.sale", "data": {}}), "transaction_id"),
    (json.dumps({"type": "party.started", "data": {"transaction_id": 5}}), "type"),
    (json.dumps({"type": "transaction.sale", "data": {"transaction_id": "abc"}}), "transaction_id"),
    (json.dumps({"type": "transaction.sale", "data": {"transaction_id": -4}}), "transaction_id"),
    (json.dumps({"type": "transaction.sale", "data": {"transaction_id": 10**30}}), "transaction_id"),
    (json.dumps({"type": "transaction.sale", "data": {"transaction_id": True}}), "transaction_id"),
    (json.dumps({"type": "transaction.sale", "data": {"transaction_id": 1.5}}), "transaction_id"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}', "JSON"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "x": NaN}', "NaN"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "x": Infinity}', "Infinity"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "x": "a\\u0000b"}', "NUL"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "a\\u0000": 1}', "NUL"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "x": "\\ud800"}', "surrogate"),
    ('{"type": "transaction.sale", "data": {"transaction_id": 1}, "x": ' + "[" * 900 + "]" * 900 + "}", "nested"),
])
def test_signed_but_invalid_payloads_get_400_with_a_json_reason(ingress, body, why):
    answer = post(ingress, body, signed(ingress.webhook_secret, body))
    assert answer.status_code == 400
    assert why in json.dumps(answer.json())
    assert inbox_rows(ingress) == []


def test_oversized_body_gets_413_with_or_without_a_content_length(ingress):
    body = event(9, description="x" * 10_000)
    answer = post(ingress, body, signed(ingress.webhook_secret, body))
    assert answer.status_code == 413
    chunked = requests.post(f"{ingress.ingress_url}/webhooks/paytrace", data=iter([body.encode()[:5000], body.encode()[5000:]]),
                            headers=signed(ingress.webhook_secret, body), timeout=10)
    assert chunked.status_code == 413
    assert inbox_rows(ingress) == []


def test_card_data_in_a_payload_is_masked_before_it_is_stored_or_queued(ingress):
    body = event(31337, card_number="4012000098765439", csc="123",
                 note="card 5499 7400 0000 0057 exp 12/30, also 2221.0000.0000.0009 and 4111  1111  1111  1111")
    assert post(ingress, body, signed(ingress.webhook_secret, body)).status_code == 202
    [row] = inbox_rows(ingress)
    stored = json.dumps(row["payload"])
    digits = re.sub(r"[^0-9x]", "", stored)
    for pan in ("4012000098765439", "5499740000000057", "2221000000000009", "4111111111111111"):
        assert pan not in digits
    assert "401200" in stored and "5439" in stored  # first six / last four at most
    assert '"123"' not in stored
    queued = b"".join(redis.Redis.from_url(ingress.redis_url).lrange("ingest", 0, -1))
    assert not re.search(rb"4012000098765439|5499740000000057", queued)


def test_silent_post_is_an_unsigned_hint_stored_once(ingress):
    form = {"parmList": "ORDERID~1001|TRANSACTIONID~555123|APPCODE~TAS123|APPMSG~APPROVED|EMAIL~a@b.c|"}
    url = f"{ingress.ingress_url}/webhooks/paytrace/silent-post"
    assert requests.post(url, data=form, timeout=5).status_code == 202
    assert requests.post(url, data=form, timeout=5).status_code == 200
    assert requests.post(url, data={"parmList": "TRANSACTIONID~nope|"}, timeout=5).status_code == 400
    assert requests.post(url, data={}, timeout=5).status_code == 400
    [row] = inbox_rows(ingress)
    assert row["source"] == "silent_post" and row["transaction_id"] == 555123


def test_health_and_readiness(ingress):
    assert requests.get(f"{ingress.ingress_url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{ingress.ingress_url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_database_down_answers_503_and_readyz_says_why(stack_factory):
    stack = stack_factory()
    stack.env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{runtime.free_port()}/nowhere"
    stack.start_ingress()
    body = event(1)
    answer = post(stack, body, signed(stack.webhook_secret, body))
    assert answer.status_code == 503 and "retry" in answer.json()["error"]
    ready = requests.get(f"{stack.ingress_url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("down")


def test_broker_down_at_the_ingress_still_loses_nothing(stack_factory):
    # given an ingress whose Redis is unreachable (the database is fine)
    from cli.traffic import make_sales, push_webhook
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient
    from tests.integration.erp_checks import assert_erp_exactly, wait_for_runs

    stack = stack_factory(POLL_INTERVAL_SECONDS="3600")  # only the sweeper can save these events
    good_redis = stack.env["REDIS_URL"]
    stack.env["REDIS_URL"] = f"redis://127.0.0.1:{runtime.free_port()}/0"
    stack.start_ingress()
    stack.env["REDIS_URL"] = good_redis
    client = PayTraceClient(get_settings().paytrace)
    sales = make_sales(client, 6, seed=8, decline_every=0)
    # when sales are pushed: each is committed and acknowledged although nothing could be queued
    for sale in sales:
        answer = push_webhook(stack.ingress_url, stack.webhook_secret, sale)
        assert answer.status_code == 202, answer.text
    assert queue_length(stack) == 0 and len(inbox_rows(stack)) == 6
    # then a worker and beat on the healthy broker sweep them up and every sale lands once
    stack.start_worker("w1")
    stack.start_beat()
    assert wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=90) == 6
    assert_erp_exactly(stack.erp_summary(), sales)


def test_schemathesis_with_every_check_finds_the_server_as_documented(stack_factory):
    """Fuzz the live ingress from its own OpenAPI document with schemathesis, every check on (bounded)."""
    import subprocess
    import sys
    from pathlib import Path

    stack = stack_factory(SILENT_POST_RATE_LIMIT="100000/minute")
    stack.env["MAX_BODY_BYTES"] = "4096"
    stack.start_ingress()
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(cli), "run", f"{stack.ingress_url}/openapi.json", "--checks", "all",
         "-n", "40", "--generation-deterministic", "--request-timeout", "10",
         "--phases", "examples,coverage,fuzzing"],
        capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
