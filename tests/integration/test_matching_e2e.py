"""Payments that pay invoices the ERP already has, end to end, judged by the ERP's state.

An invoice raised in the ERP is found by the payment's invoice id or PO; a second payment for it
is never applied twice; an overpayment applies what is due and holds the rest on account; a
payment whose invoice cannot be found goes on account or waits for a person, as the mapping says.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from connectors.registry import build_connector
from db.models import ReviewItem, SyncRun
from db.session import session_scope
from schemas.domain import Address, Customer, OrderLine, SalesOrder
from tests.conftest import dump_logs
from tests.integration.erp_checks import wait_for_runs

pytestmark = pytest.mark.slow
TEST_CARD = "4012000098765439"  # PayTrace's public sandbox Visa


def _mappings(tmp_path: Path, erp: str, **policies: str) -> Path:
    """A copy of the shipped mapping with the policies given."""
    directory = tmp_path / "mappings"
    directory.mkdir(exist_ok=True)
    text = (DEFAULT_MAPPINGS_DIR / f"paytrace-{erp}.yaml").read_text()
    for key, value in policies.items():
        lines = [line for line in text.splitlines() if line.startswith(f"  {key}: ")]
        assert len(lines) == 1, key
        text = text.replace(lines[0], f"  {key}: {value}")
    (directory / f"paytrace-{erp}.yaml").write_text(text)
    return directory


def _sale(client: PayTraceClient, amount: str, name: str = "Hopper Ltd", **fields: str) -> int:
    body = {"amount": amount, "credit_card": {"number": TEST_CARD, "expiration_month": 12, "expiration_year": 2030},
            "csc": "999", "billing_address": {"name": name, "street_address": "1 Pier Rd", "city": "Tacoma",
                                              "state": "WA", "zip": "98402", "country": "US"}, **fields}
    answer = client.transact("transactions/sale/keyed", body)
    assert answer.get("success"), answer
    return int(answer["transaction_id"])


def _native_invoice(erp, amount: str, *, po: str = ""):
    """A customer and an open invoice as the ERP's own users write them."""
    cid = erp.upsert_customer(Customer(f"N{uuid.uuid4().hex[:7].upper()}", "Hopper Ltd", "ap@hopper.example", "",
                                       Address("Hopper Ltd", "1 Pier Rd", "", "Tacoma", "WA", "98402", "US")))
    from config.mapping import active_mapping, item_for

    item = item_for(active_mapping(get_settings()))
    lines = (OrderLine(item, Decimal("1"), Decimal(amount)),)
    if po and erp.kind == "sage_x3":
        # X3 keeps a customer's PO on the order (SORDER.CUSORDREF): the order carries it, the invoice bills it
        order = erp.ensure_sales_order(SalesOrder(po, cid, _today(), lines))
        invoice = SalesOrder(f"N{uuid.uuid4().hex[:8].upper()}", cid, _today(), lines, order_ref=order.key)
    else:
        invoice = SalesOrder(f"N{uuid.uuid4().hex[:8].upper()}", cid, _today(), lines, customer_po=po)
    doc = erp.ensure_invoice(invoice)
    [info] = erp.find_invoices(erp.invoice_reference_field, invoice.reference)
    return cid, info, doc


def _today():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("America/Los_Angeles")).date()


def _wait(stack, ids, statuses=("succeeded",)):
    assert wait_for_runs(stack.database_url, ids, 120, statuses=statuses) == len(ids), dump_logs(stack)


def _only(docs):
    assert len(docs) == 1, docs
    return docs[0]


@pytest.mark.parametrize("erp_kind", ["sage50", "sage_x3", "sage_pro"])
def test_payments_find_their_erp_invoice_and_are_never_applied_twice(stack_factory, tmp_path, erp_kind):
    mappings = _mappings(tmp_path, erp_kind, unmatched="on_account", duplicate="flag")
    stack = stack_factory(erp=erp_kind, PAYSYNC_MAPPINGS=str(mappings))
    stack.start_worker("w1", concurrency=2)
    stack.start_beat()  # the poller reads the sales from PayTrace's export
    settings = get_settings()
    links = load_mapping(mappings / f"paytrace-{erp_kind}.yaml").references.links
    erp = build_connector(erp_kind, getattr(settings, erp_kind))
    client = PayTraceClient(settings.paytrace)
    try:
        cid, first, _ = _native_invoice(erp, "120.00")
        po = f"PO{uuid.uuid4().hex[:6].upper()}"
        cid2, second, _ = _native_invoice(erp, "100.00", po=po)
        invoice_number = first.fields.get(links["invoice_id"]) or first.reference
        paid = _sale(client, "120.00", invoice_id=invoice_number)
        _wait(stack, [paid])
        again = _sale(client, "120.00", invoice_id=invoice_number)  # the customer paid twice
        over = _sale(client, "150.00", customer_reference_id=po)  # 50 more than is due
        lost = _sale(client, "42.00", invoice_id=f"NOPE-{uuid.uuid4().hex[:6]}")
        _wait(stack, [again, over, lost])

        # the first payment is the customer's receipt on their own invoice, and paysync wrote no invoice of its own
        receipt = _only(erp.find("payment", f"PT{paid}-RCP"))
        assert (receipt.customer_id, receipt.amount) == (cid, Decimal("120.00"))
        assert erp.invoice_info(first.key).open_amount == Decimal("0.00")
        assert erp.find("invoice", f"PT{paid}-INV") == [] and erp.find("sales_order", f"PT{paid}-SO") == []
        # the second is never applied: unapplied cash, on the review list
        assert erp.find("payment", f"PT{again}-RCP") == []
        assert _only(erp.find("payment", f"PT{again}-OA")).amount == Decimal("120.00")
        assert erp.invoice_info(first.key).open_amount == Decimal("0.00")
        # the overpayment pays what was due and holds the rest
        assert _only(erp.find("payment", f"PT{over}-RCP")).amount == Decimal("100.00")
        assert _only(erp.find("payment", f"PT{over}-OA")).amount == Decimal("50.00")
        assert erp.invoice_info(second.key).open_amount == Decimal("0.00")
        # no invoice anywhere: on account, as the mapping says, and no order or invoice invented
        assert _only(erp.find("payment", f"PT{lost}-OA")).amount == Decimal("42.00")
        assert erp.find("invoice", f"PT{lost}-INV") == []
        # every payment's clearing journal is posted whatever became of the receipt
        for txn in (paid, again, over, lost):
            assert len(erp.find("journal", f"PT{txn}-JE")) == 1
        with session_scope(stack.database_url) as s:
            flagged = {(r.kind, r.reference) for r in s.query(ReviewItem).all()}
        assert {("duplicate", f"PT{again}"), ("overpayment", f"PT{over}")} <= flagged
        assert ("unmatched", f"PT{lost}") not in flagged  # on_account is quiet; flag is what files
    finally:
        erp.close()
        client.close()


def test_an_unmatched_payment_is_parked_for_a_person_when_the_mapping_says_review(stack_factory, tmp_path):
    mappings = _mappings(tmp_path, "sage50", unmatched="review")
    stack = stack_factory(erp="sage50", PAYSYNC_MAPPINGS=str(mappings))
    stack.start_worker("w1", concurrency=1)
    stack.start_beat()
    settings = get_settings()
    erp = build_connector("sage50", settings.sage50)
    client = PayTraceClient(settings.paytrace)
    try:
        lost = _sale(client, "64.00", invoice_id=f"NOPE-{uuid.uuid4().hex[:6]}")
        _wait(stack, [lost], statuses=("skipped",))
        assert erp.find("payment", f"PT{lost}-RCP") == [] and erp.find("payment", f"PT{lost}-OA") == []
        assert erp.find("invoice", f"PT{lost}-INV") == [] and erp.find("journal", f"PT{lost}-JE") == []
        with session_scope(stack.database_url) as s:
            run = s.query(SyncRun).filter_by(transaction_id=lost).one()
            item = s.query(ReviewItem).filter_by(kind="unmatched", reference=f"PT{lost}").one()
            assert (run.status, run.hold) == ("skipped", "parked") and run.note.startswith("parked for review")
            assert item.status == "open"
        # a refund of the parked payment cannot be undone in the ERP: it joins the person's list
        client.call("transactions/settle", {})
        refund = client.call("transactions/refund/for_transaction", {"transaction_id": lost, "amount": "10.00"})
        _wait(stack, [int(refund["transaction_id"])], statuses=("skipped",))
    finally:
        erp.close()
        client.close()
