"""The ingress in process (Flask's test client, SQLite): hostile ids, strict bodies, guarded silent posts.

Fast tier of issue 11; tests/integration/test_trust_e2e.py does the same over real sockets.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook

from config.settings import load_settings
from db.migrate import upgrade
from db.session import get_engine
from ingress.app import create_app

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
PAN = "4111111111111111"


def _luhn_fix(prefix: str) -> str:
    from schemas.masking import luhn_ok

    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))




@pytest.fixture
def app_env(tmp_path):
    url = f"sqlite:///{tmp_path / 'ingress.sqlite3'}"
    upgrade(url)
    sent: list[int] = []

    def make(**env):
        settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": url, "WEBHOOK_SECRETS": SECRET,
                                  "PAYSYNC_ID_HASH_KEY": "unit-test-id-hash-key-0123456789", **env})
        return create_app(settings, enqueue=sent.append).test_client()

    make.url = url
    make.sent = sent
    return make


def rows(url: str) -> list[dict]:
    with get_engine(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM inbox ORDER BY id"))]


def signed(body: str, msg_id: str | None = None, stamp: str | None = None) -> dict:
    msg_id = msg_id or f"msg_{secrets.token_hex(4)}"
    now = int(time.time())
    from datetime import datetime, timezone

    sig = Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(now, timezone.utc), body)
    return {"webhook-id": msg_id, "webhook-timestamp": stamp or str(now), "webhook-signature": sig,
            "content-type": "application/json"}


def event(txn: int = 101, **data) -> str:
    return json.dumps({"type": "transaction.sale", "data": {"transaction_id": txn, **data}})


def digits_of(value) -> str:
    return re.sub(r"\D", "", json.dumps(value, default=str))


# -- card data in ids, paths and logs ---------------------------------------------------------------------
def test_a_webhook_id_holding_a_card_number_is_stored_masked_and_keyed_and_repeats_are_still_found(app_env, caplog):
    # given two different card-like ids that mask alike, and one of them sent twice
    client = app_env()
    twin = _luhn_fix("411111" + "000000" + "111")  # masks to 411111xxxxxx111x like PAN's neighbours
    ids = [f"evt_{PAN}", f"evt_{PAN}", f"evt_{twin}"]
    caplog.set_level(logging.INFO)
    answers = []
    for n, msg_id in enumerate(ids):
        body = event(500 + n, note="cvv 123")
        answers.append(client.post("/webhooks/paytrace", data=body, headers=signed(body, msg_id)))
    # then the repeat is a repeat, the twin is new, and no stored id or log line holds either number
    assert [a.status_code for a in answers] == [202, 200, 202]
    stored = rows(app_env.url)
    assert len(stored) == 2 and stored[0]["event_id"] != stored[1]["event_id"]
    for row in stored:
        assert PAN not in row["event_id"] and twin not in row["event_id"] and "~h:" in row["event_id"]
        assert row["event_id"].startswith("evt_") and "xxxx" in row["event_id"]
        assert "123" not in json.dumps(row["payload"])  # the CVV phrase is scrubbed
    assert PAN not in caplog.text and twin not in caplog.text


def test_a_chargeback_case_id_with_a_card_number_is_keyed_and_a_pair_path_is_never_echoed(app_env):
    client = app_env()
    body = json.dumps({"case_id": f"CB-{PAN}", "transaction_id": 77, "amount": "5.00",
                       "reason": "customer says CVV2: 4321 was stolen"})
    assert client.post("/webhooks/chargebacks", data=body, headers=signed(body)).status_code == 202
    [row] = rows(app_env.url)
    assert PAN not in row["event_id"] and row["event_id"].startswith("cb:CB-411111")
    assert PAN not in digits_of(row["payload"]) and "4321" not in json.dumps(row["payload"])
    unknown = client.post(f"/pairs/a{PAN}/webhooks/paytrace", data=event(), headers=signed(event()))
    assert unknown.status_code == 404 and PAN not in unknown.get_data(as_text=True)


# -- strict input --------------------------------------------------------------------------------------------
def test_duplicate_json_keys_are_refused(app_env):
    client = app_env()
    body = '{"type": "transaction.sale", "data": {"transaction_id": 1, "transaction_id": 2}}'
    answer = client.post("/webhooks/paytrace", data=body, headers=signed(body))
    assert answer.status_code == 400 and "twice" in answer.json["error"]
    assert rows(app_env.url) == []


@pytest.mark.parametrize("variant", ["+{}", "0{}", "{}\t", " {}", "{}.0", "{}e0"])
def test_the_signature_covers_the_timestamp_header_as_sent(app_env, variant):
    # given a body signed for timestamp T, sent with a header that int() would also read as T
    client = app_env()
    body = event()
    headers = signed(body, "msg_ts")
    headers["webhook-timestamp"] = variant.format(headers["webhook-timestamp"])
    # then it is not a valid signature
    assert client.post("/webhooks/paytrace", data=body, headers=headers).status_code == 401
    assert rows(app_env.url) == []


@pytest.mark.parametrize("content_type,raw", [
    ("text/plain", event().encode()),
    ("application/x-www-form-urlencoded", b"a=1"),
    ("application/json", '{"type": "transaction.sale", "data": {"transaction_id": 1, "note": "café"}}'.encode("latin-1")),
    ("application/json", event().encode("utf-16")),
    ("application/json", b"\xef\xbb\xbf" + event().encode()),
    ("application/json; charset=latin-1", event().encode()),
])
def test_a_body_that_is_not_json_in_utf8_gets_415(app_env, content_type, raw):
    # given a validly signed body (signed over these very bytes), so only the media type is wrong
    client = app_env()
    headers = signed("")
    headers["content-type"] = content_type
    headers["webhook-signature"] = _sign_bytes(headers["webhook-id"], headers["webhook-timestamp"], raw)
    answer = client.post("/webhooks/paytrace", data=raw, headers=headers)
    assert answer.status_code == 415, answer.get_data(as_text=True)
    assert rows(app_env.url) == []


def _sign_bytes(msg_id: str, stamp: str, raw: bytes) -> str:
    from ingress.signatures import sign

    return sign(SECRET, msg_id, int(stamp), raw)


def test_405_names_the_allowed_methods(app_env):
    answer = app_env().get("/webhooks/paytrace")
    assert answer.status_code == 405 and "POST" in answer.headers["Allow"]
    assert app_env().put("/healthz").headers["Allow"]


# -- silent posts --------------------------------------------------------------------------------------------
FORM = {"parmList": "ORDERID~1|TRANSACTIONID~9001|APPMSG~APPROVED|"}


def test_silent_posts_are_rate_limited_per_address(app_env):
    client = app_env(SILENT_POST_RATE_LIMIT="3/minute")
    codes = [client.post("/webhooks/paytrace/silent-post", data=FORM,
                         environ_overrides={"REMOTE_ADDR": "203.0.113.7"}).status_code for _ in range(5)]
    assert codes == [202, 200, 200, 429, 429]
    other = client.post("/webhooks/paytrace/silent-post", data=FORM, environ_overrides={"REMOTE_ADDR": "203.0.113.8"})
    assert other.status_code == 200  # another source has its own allowance
    limited = client.post("/webhooks/paytrace/silent-post", data=FORM, environ_overrides={"REMOTE_ADDR": "203.0.113.7"})
    assert int(limited.headers["Retry-After"]) >= 1


def test_silent_posts_can_require_a_token_and_an_allowed_address(app_env):
    client = app_env(SILENT_POST_TOKEN="t0ken-of-the-shop", SILENT_POST_ALLOW="198.51.100.0/24")
    url = "/webhooks/paytrace/silent-post"
    inside = {"REMOTE_ADDR": "198.51.100.20"}
    assert client.post(url, data=FORM, environ_overrides={"REMOTE_ADDR": "192.0.2.1"},
                       query_string={"token": "t0ken-of-the-shop"}).status_code == 403
    assert client.post(url, data=FORM, environ_overrides=inside).status_code == 403
    assert client.post(url, data=FORM, environ_overrides=inside, query_string={"token": "wrong"}).status_code == 403
    assert client.post(url, data=FORM, environ_overrides=inside,
                       query_string={"token": "t0ken-of-the-shop"}).status_code == 202
    assert client.post(url, data=json.dumps(FORM), environ_overrides=inside, content_type="application/json",
                       query_string={"token": "t0ken-of-the-shop"}).status_code == 415
    assert [r["transaction_id"] for r in rows(app_env.url)] == [9001]


def test_a_json_body_sent_without_a_media_type_is_still_read(app_env):
    body = event(321)
    headers = signed(body)
    del headers["content-type"]
    assert app_env().post("/webhooks/paytrace", data=body, headers=headers).status_code == 202


def test_every_route_the_server_answers_is_in_its_openapi_document(app_env):
    from ingress.openapi import openapi_document

    client = app_env()
    documented = {(path, method) for path, ops in openapi_document()["paths"].items() for method in ops}
    served = {(re.sub(r"<(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in client.application.url_map.iter_rules() if rule.endpoint not in ("static", "openapi")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
