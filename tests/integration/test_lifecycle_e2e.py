"""Refunds (partial, several, full) and voids end to end, for every ERP, judged by the ERP's state.

A refund that arrives before its sale has synced waits for it instead of failing.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests
from standardwebhooks import Webhook

from cli.traffic import make_sales, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import SyncRun
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import wait_for_runs

pytestmark = pytest.mark.slow
LIFECYCLE_ERPS = ["sage50", "sage_x3", "sage_pro"]


def push(stack, event_type: str, transaction_id: int) -> None:
    body = json.dumps({"type": event_type, "data": {"transaction_id": transaction_id}})
    now = datetime.now(timezone.utc)
    event_id = f"evt_{event_type}_{transaction_id}"
    headers = {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(stack.webhook_secret).sign(event_id, now, body),
               "content-type": "application/json"}
    answer = requests.post(f"{stack.ingress_url}/webhooks/paytrace", data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text


def wait_kind(stack, transaction_id: int, kind: str, timeout: float = 90) -> str:
    import time

    deadline = time.monotonic() + timeout
    status = "absent"
    while time.monotonic() < deadline:
        with session_scope(stack.database_url) as s:
            run = s.query(SyncRun).filter_by(transaction_id=transaction_id, kind=kind).one_or_none()
            status = run.status if run else "absent"
        if status in ("succeeded", "dead", "skipped"):
            return status
        time.sleep(0.3)
    return status


@pytest.mark.parametrize("erp", LIFECYCLE_ERPS)
def test_refunds_and_voids_reach_the_erp_once_and_in_any_order(stack_factory, erp):
    stack = stack_factory(erp=erp, POLL_INTERVAL_SECONDS="3600")  # pushes only: the order is ours
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    client = PayTraceClient(get_settings().paytrace)
    a, b, c = make_sales(client, 3, seed=41, decline_every=0)
    for sale in (a, b, c):
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    assert wait_for_runs(stack.database_url, [a.transaction_id, b.transaction_id, c.transaction_id], 90,
                         statuses=("succeeded",)) == 3, dump_logs(stack)

    # a void of an unsettled sale, then settlement, then two partial refunds of b and a full one of c
    client.call("transactions/void", {"transaction_id": a.transaction_id})
    push(stack, "transaction.void", a.transaction_id)
    client.call("transactions/settle", {})
    b1 = (b.amount * Decimal("0.30")).quantize(Decimal("0.01"))
    b2 = (b.amount * Decimal("0.20")).quantize(Decimal("0.01"))
    refunds = [client.call("transactions/refund/for_transaction", {"transaction_id": b.transaction_id, "amount": str(x)})
               for x in (b1, b2)]
    refunds.append(client.call("transactions/refund/for_transaction", {"transaction_id": c.transaction_id}))
    for refund in refunds:
        push(stack, "transaction.refund", refund["transaction_id"])

    # and a refund pushed before its sale: it waits for the sale, then posts
    [d] = make_sales(client, 1, seed=42, decline_every=0)
    client.call("transactions/settle", {})
    late = client.call("transactions/refund/for_transaction", {"transaction_id": d.transaction_id, "amount": "1.00"})
    push(stack, "transaction.refund", late["transaction_id"])
    assert push_webhook(stack.ingress_url, stack.webhook_secret, d).status_code == 202

    assert wait_kind(stack, a.transaction_id, "void") == "succeeded", dump_logs(stack)
    for refund in refunds + [late]:
        assert wait_kind(stack, refund["transaction_id"], "refund") == "succeeded", dump_logs(stack)

    summary = stack.erp_summary()
    invoices = {i["reference"]: i for i in summary["invoices"]}
    memos = {m["reference"]: m for m in summary["credit_memos"]}
    refunds_by_ref = {r["reference"]: r for r in summary["refunds"]}
    # the void: receipt reversed once, invoice open again for the full amount, marked as mapped
    reversals = [r for r in summary["reversals"] if r["reference"] == f"PT{a.transaction_id}-VD"]
    assert len(reversals) == 1 and reversals[0]["amount"] == a.amount
    assert invoices[f"PT{a.transaction_id}-INV"]["open"] == a.amount
    assert invoices[f"PT{a.transaction_id}-INV"]["status"] == "Open"
    # the refunds: one credit memo and one refund each, against the right invoice, for the right amount
    for refund, sale in zip(refunds + [late], (b, b, c, d)):
        rid = refund["transaction_id"]
        memo = memos[f"PT{rid}-CM"]
        assert memo["invoice"] == invoices[f"PT{sale.transaction_id}-INV"]["key"]
        assert refunds_by_ref[f"PT{rid}-RFD"]["amount"] == memo["amount"]
    assert memos[f"PT{refunds[0]['transaction_id']}-CM"]["amount"] == b1
    assert memos[f"PT{refunds[1]['transaction_id']}-CM"]["amount"] == b2
    assert memos[f"PT{refunds[2]['transaction_id']}-CM"]["amount"] == c.amount
    assert invoices[f"PT{b.transaction_id}-INV"]["status"] == "Partly Credited"
    assert invoices[f"PT{c.transaction_id}-INV"]["status"] == "Credited"
    assert len(summary["credit_memos"]) == 4 and len(summary["refunds"]) == 4
    # every journal balances: sales, refunds and the void
    for entry in summary["journals"]:
        assert entry["debits"] == entry["credits"], entry
    assert {f"PT{a.transaction_id}-VJE", *(f"PT{r['transaction_id']}-JE" for r in refunds + [late])} <= \
        {j["reference"] for j in summary["journals"]}


@pytest.mark.parametrize("erp", LIFECYCLE_ERPS)
def test_chargebacks_by_csv_import_and_by_signed_push_post_once_and_go_for_review(stack_factory, erp, tmp_path):
    import subprocess
    import sys

    from db.models import ReviewItem

    stack = stack_factory(erp=erp, POLL_INTERVAL_SECONDS="3600")
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    client = PayTraceClient(get_settings().paytrace)
    e, f = make_sales(client, 2, seed=43, decline_every=0)
    for sale in (e, f):
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    assert wait_for_runs(stack.database_url, [e.transaction_id, f.transaction_id], 90, statuses=("succeeded",)) == 2
    # a CSV from the processor's portal: one good case, one bad row (named with its line)
    csv_file = tmp_path / "chargebacks.csv"
    csv_file.write_text("case_id,transaction_id,amount,reason,date\n"
                        f"CB-1,{e.transaction_id},{e.amount},Fraud - card not present,2026-11-21\n"
                        "CB-2,not-a-number,-5,Duplicate,\n")
    run = subprocess.run([sys.executable, "-m", "cli.main", "import", "chargebacks", str(csv_file)], env=stack.env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "line 3" in run.stdout and "1 chargebacks stored" in run.stdout, run.stdout
    # and a signed push for the other sale, delivered twice
    body = json.dumps({"case_id": "CB-3", "transaction_id": f.transaction_id, "amount": str(f.amount),
                       "reason": "Product not received"})
    codes = []
    for _ in range(2):
        now = datetime.now(timezone.utc)
        headers = {"webhook-id": "cb3", "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(stack.webhook_secret).sign("cb3", now, body)}
        codes.append(requests.post(f"{stack.ingress_url}/webhooks/chargebacks", data=body, headers=headers,
                                   timeout=10).status_code)
    assert codes == [202, 200]
    for sale in (e, f):
        assert wait_kind(stack, sale.transaction_id, "chargeback") == "succeeded", dump_logs(stack)
    summary = stack.erp_summary()
    journals = {j["reference"]: j for j in summary["journals"]}
    invoices = {i["reference"]: i for i in summary["invoices"]}
    for sale in (e, f):
        entry = journals[f"PT{sale.transaction_id}-CB"]
        assert entry["debits"] == entry["credits"] == sale.amount
        assert invoices[f"PT{sale.transaction_id}-INV"]["status"] == "Disputed"
    assert sum(1 for j in summary["journals"] if j["reference"].endswith("-CB")) == 2
    with session_scope(stack.database_url) as s:
        cases = sorted(r.reference for r in s.query(ReviewItem).filter_by(kind="chargeback").all())
    assert cases == ["CB-1", "CB-3"]


def test_an_authorization_posts_nothing_until_it_is_captured(stack_factory):
    from cli.traffic import TEST_CARDS, Sale

    stack = stack_factory(POLL_INTERVAL_SECONDS="2")  # the poller alone: PayTrace's export is the feed
    stack.start_worker("w1")
    stack.start_beat()
    client = PayTraceClient(get_settings().paytrace)
    auth = client.transact("transactions/authorization/keyed", {
        "amount": "64.20", "csc": "999", "billing_address": {"name": "Alan Turing", "zip": "99201"},
        "credit_card": {"number": TEST_CARDS[0], "expiration_month": 12, "expiration_year": 2030}})
    txn = int(auth["transaction_id"])
    assert wait_kind(stack, txn, "sale") == "skipped"
    assert stack.erp_summary()["invoices"] == []  # held money is not a sale yet
    client.call("transactions/authorization/capture", {"transaction_id": txn})
    assert wait_kind_status(stack, txn, "sale", "succeeded") == "succeeded", dump_logs(stack)
    from tests.integration.erp_checks import assert_erp_exactly

    assert_erp_exactly(stack.erp_summary(), [Sale(txn, Decimal("64.20"), False, "Alan Turing")])


def wait_kind_status(stack, transaction_id: int, kind: str, wanted: str, timeout: float = 60) -> str:
    import time

    deadline = time.monotonic() + timeout
    status = "absent"
    while time.monotonic() < deadline:
        with session_scope(stack.database_url) as s:
            run = s.query(SyncRun).filter_by(transaction_id=transaction_id, kind=kind).one_or_none()
            status = run.status if run else "absent"
        if status == wanted:
            return status
        time.sleep(0.3)
    return status
