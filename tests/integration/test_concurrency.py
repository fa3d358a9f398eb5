"""Many sales of few customers at full concurrency: no customer created twice, every balance right.

The io worker role as the Procfile runs it (threads, many steps per process), two of them, on
real Redis (the shared gate and holds), PostgreSQL and the Sage 50 bridge sandbox over HTTP.
Four customers pay 36 times at once, then 8 of their sales are refunded while 8 more sales of the
same customers arrive: the ERP is judged, not the calls.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from cli import runtime
from cli.traffic import Sale, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from tests.conftest import dump_logs
from tests.integration.erp_checks import dead_reasons, run_statuses, wait_for_runs

pytestmark = pytest.mark.slow
PAYERS = [("Ada Lovelace", "99201", "4012000098765439"), ("Grace Hopper", "99202", "5499740000000057"),
          ("Alan Turing", "99203", "6011000993026909"), ("Barbara Liskov", "99204", "371449635392376")]


def _sell(client: PayTraceClient, i: int) -> Sale:
    name, zip_code, card = PAYERS[i % len(PAYERS)]
    amount = Decimal(1000 + 37 * i) / 100
    answer = client.transact("transactions/sale/keyed", {
        "amount": str(amount), "credit_card": {"number": card, "expiration_month": 12, "expiration_year": 2030},
        "csc": "999", "billing_address": {"name": name, "zip": zip_code}, "invoice_id": f"WEB-{i:04d}",
        "email": f"{name.split()[0].lower()}@example.com"})
    return Sale(int(answer["transaction_id"]), amount, False, name)


def _push_all(stack, hints: list[tuple[Sale, str]]) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda h: push_webhook(stack.ingress_url, stack.webhook_secret, h[0],
                                                     event_type=h[1]).status_code, hints))
    assert codes == [202] * len(hints)


def test_many_sales_and_refunds_of_few_customers_at_once_land_once_and_balance(stack_factory):
    # Given two io workers of 16 threads each, an ERP cap of 8 calls at once shared by both
    stack = stack_factory(ERP_MAX_CONCURRENT="8", ERP_RATE_LIMIT="0")
    stack.start_ingress()
    for name in ("io1", "io2"):
        stack.start_worker(name, 16, queues=runtime.IO_QUEUES, pool="threads")
    before = stack.erp_summary()
    client = PayTraceClient(get_settings().paytrace)
    # When four customers pay 36 times, announced all at once
    sales = [_sell(client, i) for i in range(36)]
    _push_all(stack, [(s, "transaction.sale") for s in sales])
    done = wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=180)
    assert done == len(sales), f"{done}/{len(sales)}; {run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    # and, once the day settles, 8 of those sales are refunded in part while 8 more sales arrive
    client.call("transactions/settle", {})
    refunded = sales[:8]
    refunds = []
    for sale in refunded:
        answer = client.call("transactions/refund/for_transaction",
                             {"transaction_id": sale.transaction_id, "amount": "5.00"})
        refunds.append(Sale(int(answer["transaction_id"]), Decimal("5.00"), False, sale.customer))
    more = [_sell(client, 36 + i) for i in range(8)]
    _push_all(stack, [(r, "transaction.refund") for r in refunds] + [(s, "transaction.sale") for s in more])
    everything = [s.transaction_id for s in sales + refunds + more]
    done = wait_for_runs(stack.database_url, everything, timeout=180)
    client.close()
    assert done == len(everything), f"{done}/{len(everything)}; {run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    assert run_statuses(stack.database_url)["dead"] == 0, dead_reasons(stack.database_url)
    # Then the ERP holds the four customers once each
    after = stack.erp_summary()
    assert after["customers"] - before["customers"] == len(PAYERS)
    # every sale's invoice, receipt and journal once, the receipt applied in full, the journal balanced
    paid = sales + more
    ours = {kind: [d for d in after[kind] if d["reference"].startswith("PT")] for kind in
            ("invoices", "payments", "journals", "credit_memos", "refunds")}
    references = Counter(d["reference"] for docs in ours.values() for d in docs)
    assert set(references.values()) == {1}, [r for r, n in references.items() if n > 1]
    invoices = {d["reference"]: d for d in ours["invoices"]}
    payments = {d["reference"]: d for d in ours["payments"]}
    for sale in paid:
        invoice = invoices[f"PT{sale.transaction_id}-INV"]
        assert invoice["amount"] == sale.amount and invoice["open"] == 0, invoice
        assert payments[f"PT{sale.transaction_id}-RCP"]["applied"] == [(invoice["key"], sale.amount)]
    assert all(j["debits"] == j["credits"] for j in ours["journals"])
    assert len(ours["journals"]) == len(paid) + len(refunds)
    # and each refund's credit memo credits its own sale's invoice, paid out once for its amount
    memos = {d["reference"]: d for d in ours["credit_memos"]}
    paid_out = {d["reference"]: d for d in ours["refunds"]}
    for sale, refund in zip(refunded, refunds):
        memo = memos[f"PT{refund.transaction_id}-CM"]
        assert memo["invoice"] == invoices[f"PT{sale.transaction_id}-INV"]["key"] and memo["amount"] == Decimal("5.00")
        assert paid_out[f"PT{refund.transaction_id}-RFD"]["credit_memo"] == memo["key"]
