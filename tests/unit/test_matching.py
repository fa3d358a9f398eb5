"""The invoice a payment pays: the mapping's lookup chain in order, and never more applied than is due."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from config.mapping import load_mapping
from flows import decision, matching
from flows.decision import decide
from schemas.domain import Address, GatewayTransaction, InvoiceInfo

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "config" / "mappings" / "paytrace-sage50.yaml")
DAY = date(2026, 11, 20)


def _txn(**kw) -> GatewayTransaction:
    base = dict(transaction_id=1001, transaction_type="SALE", amount=Decimal("100.00"), status_code="Y",
                status_message="", created_at=datetime(2026, 11, 20, 18, tzinfo=timezone.utc), settled_at=None,
                masked_card="401200xxxxxx5439", card_brand="VISA", invoice_id="", customer_reference_id="",
                description="", customer_id="", email="", tax_amount=Decimal("0"), billing=Address(),
                approval_code="")
    base.update(kw)
    return GatewayTransaction(**base)


def _invoice(key: str, reference: str, open_amount: str = "100.00", *, on: date = DAY) -> InvoiceInfo:
    return InvoiceInfo(key, reference, "ACME", on, Decimal("100.00"), Decimal(open_amount))


class LookupLog:
    """An in-memory ERP answering the two invoice queries, recording what was asked in which order."""

    def __init__(self, by_field=None, open_=()):
        self.by_field, self.open_, self.asked = by_field or {}, list(open_), []

    def find_invoices(self, field, value):
        self.asked.append((field, value))
        return list(self.by_field.get((field, value), []))

    def open_invoices(self, **kw):
        self.asked.append(("open", kw["customer_id"]))
        return [i for i in self.open_ if i.amount == kw["amount"] and kw["dated_from"] <= i.date <= kw["dated_to"]]


def test_the_chain_runs_in_the_mappings_order_and_stops_at_the_first_hit():
    erp = LookupLog({("CustomerPurchaseOrderNumber", "PO-7"): [_invoice("K1", "10234")]})
    txn = _txn(invoice_id="WEB-1", customer_reference_id="PO-7", description="WEB-1")
    invoice, via = matching.find(erp, MAPPING, txn, "PT-1", DAY)
    assert (invoice.key, via) == ("K1", "customer_reference_id")
    # description links to the same field and value as invoice_id: asked once, not twice
    assert erp.asked == [("ReferenceNumber", "WEB-1"), ("CustomerPurchaseOrderNumber", "PO-7")]


def test_amount_and_customer_takes_the_oldest_open_invoice_in_the_window_and_never_one_of_ours():
    erp = LookupLog(open_=[_invoice("OURS", "PT99-INV", on=DAY), _invoice("NEW", "20002", on=DAY),
                           _invoice("OLD", "20001", on=date(2026, 11, 15)),
                           _invoice("FAR", "19999", on=date(2026, 10, 1))])
    invoice, via = matching.find(erp, MAPPING, _txn(), "PT-1", DAY)
    assert (invoice.key, via) == ("OLD", "amount_and_customer")
    assert matching.find(LookupLog(), MAPPING, _txn(), "PT-1", DAY) == (None, "")


def test_a_blank_reference_is_not_looked_up():
    erp = LookupLog()
    matching.find(erp, MAPPING, _txn(), None, DAY)
    assert erp.asked == []


@pytest.mark.parametrize("open_amount, pending, outcome, applied", [
    ("100.00", "0", decision.APPLY, "100.00"),
    ("250.00", "0", decision.APPLY, "100.00"),
    ("60.00", "0", decision.PARTIAL, "60.00"),
    ("0.00", "0", decision.DUPLICATE, "0.00"),
    ("100.00", "100.00", decision.DUPLICATE, "0.00"),  # another run of ours is about to pay it
    ("100.00", "30.00", decision.PARTIAL, "70.00"),
])
def test_never_more_is_applied_than_is_due(open_amount, pending, outcome, applied):
    made = decide(_invoice("K", "10234", open_amount), "invoice_id", Decimal("100.00"),
                               Decimal(pending))
    assert (made.outcome, made.applied) == (outcome, Decimal(applied))
    assert made.rest(Decimal("100.00")) == Decimal("100.00") - Decimal(applied)


def test_no_invoice_follows_the_unmatched_policy_and_a_paid_one_the_duplicate_policy():
    assert decide(None, "", Decimal("5.00")).rest_policy(MAPPING) == MAPPING.policies.unmatched
    paid = decide(_invoice("K", "1", "0.00"), "invoice_id", Decimal("5.00"))
    assert paid.rest_policy(MAPPING) == MAPPING.policies.duplicate
    assert "already paid" in paid.describe()
