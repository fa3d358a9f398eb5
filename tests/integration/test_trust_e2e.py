"""Issue 11 on a running stack: card numbers and security codes pushed in through every door end up nowhere.

The same Luhn-valid numbers (public test cards, and one built here at run time) and CVV phrases go
into sales on the PayTrace sandbox (free text), webhook ids, payloads, URLs and their query strings,
headers, chargeback cases (pushed and imported from a CSV whose file name holds one), silent
posts, a dead letter and a reconciliation. Then every place paysync keeps anything is read whole:
every PostgreSQL table, every Redis key of the test's database, every file the stack wrote (logs,
reports), Flower's task API and the ERP sandbox's state. None may hold a full number or a code.
"""
from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal

import redis
import requests
from sqlalchemy import text
from standardwebhooks import Webhook

from cli.traffic import TEST_CARDS
from db.session import get_engine
from schemas.masking import luhn_ok
from tests.conftest import dump_logs


def built_pan() -> str:
    """A Luhn-valid 16-digit number made now (never committed), in a range no public test card uses."""
    rng = random.Random()
    body = "9" + "".join(rng.choice("0123456789") for _ in range(14))
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


PANS = ["4111111111111111", "5454545454545454", "378282246310005", built_pan()]
CODES = ["737", "4821", "905", "3318"]
PHRASES = [f"cvv {CODES[0]}", f"CVV2: {CODES[1]}", f"security code {CODES[2]}", f"csc={CODES[3]}"]
FLOWER_AUTH = ("finance", "s3cret")


def spaced(pan: str) -> str:
    return " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))


def pan_pattern(pan: str) -> re.Pattern:
    """The number with any usual separators (or JSON escapes of them) between its digits."""
    sep = r"(?:[\s.\-_/]|\\u00a0|\\t|%20|\+){0,3}"
    return re.compile(r"(?<!\d)" + sep.join(pan) + r"(?!\d)")


CODE_PATTERN = re.compile(r"(?i)(?:cvv2?|cvc2?|csc|security[\s_-]*code)(?:[\s:=#\"']|\\u00a0|%20|%3a|%3d|\+)*"
                          rf"(?:{'|'.join(CODES)})(?!\d)")


def leaks(where: str, blob: str) -> list[str]:
    found = [f"{where}: full number {pan[:6]}..{pan[-4:]}" for pan in PANS + list(TEST_CARDS)
             if pan_pattern(pan).search(blob)]
    found += [f"{where}: security code {m.group(0)!r}" for m in CODE_PATTERN.finditer(blob)]
    return found


def signed_post(stack, path: str, payload: dict, msg_id: str, **kw) -> requests.Response:
    body = json.dumps(payload)
    now = datetime.now(timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(stack.webhook_secret).sign(msg_id, now, body),
               "content-type": "application/json", "user-agent": f"shop/{PANS[0]} {PHRASES[0]}",
               "referer": f"https://shop.example/checkout?card={PANS[1]}", "x-note": PHRASES[1]}
    return requests.post(f"{stack.ingress_url}{path}", data=body, headers=headers, timeout=10, **kw)


def make_hostile_sales(stack, count: int) -> list[int]:
    """Sales whose free text carries numbers and codes, made on the PayTrace sandbox like a shop would."""
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient

    client = PayTraceClient(get_settings().paytrace)
    ids = []
    for i in range(count):
        pan, phrase = PANS[i % len(PANS)], PHRASES[i % len(PHRASES)]
        answer = client.transact("transactions/sale/keyed", {
            "amount": str(Decimal(1000 + i * 37) / 100),
            "credit_card": {"number": TEST_CARDS[i % len(TEST_CARDS)], "expiration_month": 12, "expiration_year": 2030},
            "csc": "999",
            "billing_address": {"name": f"Ada {phrase}", "street_address": f"{spaced(pan)} Main St", "city": "Spokane",
                                "state": "WA", "zip": "99201", "country": "US"},
            "invoice_id": f"W{pan}"[:20], "email": f"ada{i}@example.com",
            "description": f"order paid with {spaced(pan)}, {phrase}",
        })
        ids.append(int(answer["transaction_id"]))
    return ids


def test_no_card_number_or_security_code_is_kept_anywhere(stack_factory, tmp_path):
    # given a whole paysync (ingress, worker, beat, flower) on PostgreSQL and Redis
    stack = stack_factory(SILENT_POST_CONFIRM_SECONDS="2", SILENT_POST_RATE_LIMIT="100/minute")
    stack.start_ingress()
    stack.start_worker()
    stack.start_beat()
    flower = stack.start_flower(":".join(FLOWER_AUTH))

    # when numbers and codes come in through every door
    sales = make_hostile_sales(stack, 4)
    for n, txn in enumerate(sales):
        pan = PANS[n % len(PANS)]
        payload = {"type": "transaction.sale",
                   "data": {"transaction_id": txn, "invoice_id": f"INV {pan}"[:40],
                            "note": f"{PHRASES[n % 4]} and {spaced(pan)}", pan: PHRASES[(n + 1) % 4],
                            "card": {"number": pan, "cvv": CODES[n % 4]}}}
        path = "/webhooks/paytrace" if n % 2 else f"/pairs/default/webhooks/paytrace?card={pan}&{PHRASES[n % 4]}"
        answer = signed_post(stack, path, payload, msg_id=f"evt_{pan}_{n}")
        assert answer.status_code == 202, answer.text
        again = signed_post(stack, path, payload, msg_id=f"evt_{pan}_{n}")  # a repeat is still found
        assert again.status_code == 200, again.text
    for pan in PANS:
        assert signed_post(stack, f"/pairs/{pan}/webhooks/paytrace", {"type": "transaction.sale",
                           "data": {"transaction_id": sales[0]}}, msg_id=f"m{pan}").status_code == 404
    # a chargeback case pushed, and another above its sale (a dead letter whose reason names the case)
    assert signed_post(stack, "/webhooks/chargebacks", {
        "case_id": f"CB-{PANS[0]}", "transaction_id": sales[0], "amount": "1.00",
        "reason": f"cardholder says {PHRASES[1]} and {PANS[2]} were stolen"}, msg_id="cb1").status_code == 202
    assert signed_post(stack, "/webhooks/chargebacks", {
        "case_id": f"CB-{PANS[3]}", "transaction_id": sales[1], "amount": "99999.00",
        "reason": PHRASES[2]}, msg_id="cb2").status_code == 202
    # silent posts: one for a real sale, one for a transaction PayTrace never had (dropped quietly)
    silent = f"{stack.ingress_url}/webhooks/paytrace/silent-post?card={PANS[1]}"
    for txn in (sales[2], 987654321):
        form = {"parmList": f"ORDERID~{PANS[2]}|TRANSACTIONID~{txn}|APPMSG~{PHRASES[3]}|"}
        assert requests.post(silent, data=form, timeout=10).status_code == 202
    # a chargeback CSV whose file name and rows carry numbers, imported from the command line
    csv_path = tmp_path / f"cases-{PANS[3]}.csv"
    csv_path.write_text("case_id,transaction_id,amount,reason\n"
                        f"CASE{PANS[1]},{sales[3]},2.00,{PHRASES[0]}\n")
    imported = subprocess.run([sys.executable, "-m", "cli.main", "import", "chargebacks", str(csv_path)],
                              env=stack.env, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    cli_output = imported.stdout + imported.stderr

    # then every run ends (4 sales, 3 chargebacks, the fake silent post quietly), one of them dead
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(stack, "SELECT count(*) FROM sync_run WHERE status IN "
                                                        "('succeeded', 'skipped', 'dead')") < 8:
        time.sleep(0.5)
    assert _count(stack, "SELECT count(*) FROM sync_run WHERE status IN ('succeeded', 'skipped', 'dead')") == 8, \
        dump_logs(stack)
    assert _count(stack, "SELECT count(*) FROM dead_letter") == 1, dump_logs(stack)
    day = requests.get(f"{stack.paytrace.url}/_sandbox/clock", timeout=5).json()["pacific"].split()[0]
    month, dd, year = day.split("/")
    recon = subprocess.run([sys.executable, "-m", "cli.main", "reconcile", "--date", f"{year}-{month}-{dd}"],
                           env=stack.env, capture_output=True, text=True, timeout=180)
    assert recon.returncode == 0, recon.stdout + recon.stderr
    cli_output += recon.stdout + recon.stderr
    time.sleep(1)  # let the last log lines reach their files

    # and nothing anywhere holds a full number or a security code
    found = leaks("cli output", cli_output)
    found += [hit for table, blob in _postgres(stack) for hit in leaks(f"postgres {table}", blob)]
    found += [hit for key, blob in _redis(stack) for hit in leaks(f"redis {key}", blob)]
    files = [p for p in stack.home.rglob("*") if p.is_file() and not p.name.endswith(("-schedule", ".rdb"))]
    assert any(p.name.startswith("reconcile-") for p in files) and any(p.name == "ingress.log" for p in files)
    found += [hit for p in files for hit in leaks(f"file {p.name}", p.read_text(errors="replace"))]
    tasks = requests.get(f"{flower}/api/tasks", auth=FLOWER_AUTH, timeout=10)
    assert tasks.status_code == 200 and tasks.json()
    found += leaks("flower /api/tasks", tasks.text)
    found += leaks("flower /metrics", requests.get(f"{flower}/metrics", auth=FLOWER_AUTH, timeout=10).text)
    found += leaks("ERP sandbox", json.dumps(stack.erp_state(), default=str))
    assert found == [], "\n".join(found)

    # and the masked forms are what is kept (first six, last four), so people can still read them
    ingress_log = (stack.home / "ingress.log").read_text()
    assert "/pairs/411111xxxxxx1111/webhooks/paytrace" in ingress_log and "?[query]" in ingress_log
    assert _count(stack, "SELECT count(*) FROM inbox WHERE event_id LIKE 'evt_%xxxx%~h:%'") == len(sales)
    assert _count(stack, "SELECT count(*) FROM inbox WHERE event_id LIKE 'cb:CB-%xxxx%~h:%'") == 2
    assert _count(stack, "SELECT count(*) FROM sync_run WHERE transaction_id = 987654321 AND status = 'skipped'") == 1
    erp = json.dumps(stack.erp_state(), default=str)
    assert "[redacted]" in erp


def test_flower_metrics_and_healthcheck_need_the_ui_credentials(stack_factory):
    stack = stack_factory()
    flower = stack.start_flower(":".join(FLOWER_AUTH))
    for path in ("/", "/metrics", "/healthcheck", "/api/workers"):
        assert requests.get(f"{flower}{path}", timeout=10).status_code == 401, path
        assert requests.get(f"{flower}{path}", auth=("finance", "wrong"), timeout=10).status_code == 401, path
    assert requests.get(f"{flower}/healthcheck", auth=FLOWER_AUTH, timeout=10).text == "OK"
    assert requests.get(f"{flower}/metrics", auth=FLOWER_AUTH, timeout=10).status_code == 200


def _count(stack, sql: str) -> int:
    with get_engine(stack.database_url).connect() as conn:
        return conn.execute(text(sql)).scalar()


def _postgres(stack) -> list[tuple[str, str]]:
    """Every row of every table, as JSON text."""
    with get_engine(stack.database_url).connect() as conn:
        tables = conn.execute(text("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")).scalars().all()
        assert {"inbox", "sync_run", "dead_letter", "review_item", "reconcile_run"} <= set(tables)
        return [(t, "\n".join(conn.execute(text(f'SELECT row_to_json(r)::text FROM "{t}" r')).scalars().all()))
                for t in tables]


def _redis(stack) -> list[tuple[str, str]]:
    """Every key and value of the test's Redis database."""
    client = redis.Redis.from_url(stack.redis_url)
    out = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            value = [client.get(key)]
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = [k + b"=" + v for k, v in client.hgetall(key).items()]
        elif kind == "set":
            value = list(client.smembers(key))
        elif kind == "zset":
            value = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            value = [kind.encode()]
        out.append((key.decode(errors="replace"),
                    key.decode(errors="replace") + "\n" + b"\n".join(value).decode(errors="replace")))
    return out
