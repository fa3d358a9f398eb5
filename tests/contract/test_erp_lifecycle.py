"""The lifecycle part of the contract: credit memos, refunds, reversals and statuses, per ERP."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import PermanentError
from schemas.domain import CreditMemo, OrderLine, Payment, Refund, Reversal
from tests.contract.erps import ERPS
from tests.contract.test_erp_contract import _customer, _order, _ref

#: ERPs whose connector implements the lifecycle part of the contract.
LIFECYCLE_ERPS = sorted(ERPS)
DAY = date(2026, 11, 20)


@pytest.fixture(params=LIFECYCLE_ERPS)
def erp(request):
    with ERPS[request.param]() as under_test:
        yield under_test


def _paid(erp, amount: str = "100.00"):
    """A customer, an invoice and a receipt paying it in full."""
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    invoice = erp.connector.ensure_invoice(_order(erp, cid, _ref("I"), amount))
    payment = erp.connector.ensure_payment(Payment(_ref("R"), cid, DAY, Decimal(amount), invoice.key,
                                                   erp.cash_account, "Card"))
    return cid, invoice, payment


def _open_amount(erp, invoice) -> Decimal:
    [doc] = erp.connector.find("invoice", invoice.reference)
    return doc.amount_due


def test_a_credit_memo_and_refund_are_idempotent_and_found_by_reference(erp):
    cid, invoice, _ = _paid(erp)
    memo = CreditMemo(_ref("M"), cid, DAY, invoice.key, (OrderLine(erp.item, Decimal("1"), Decimal("30.00")),))
    m1, m2 = erp.connector.ensure_credit_memo(memo), erp.connector.ensure_credit_memo(memo)
    assert m1.key == m2.key and [d.key for d in erp.connector.find("credit_memo", memo.reference)] == [m1.key]
    assert erp.connector.find("credit_memo", memo.reference)[0].amount == Decimal("30.00")
    refund = Refund(_ref("F"), cid, DAY, Decimal("30.00"), m1.key, erp.cash_account, "Card")
    r1, r2 = erp.connector.ensure_refund(refund), erp.connector.ensure_refund(refund)
    assert r1.key == r2.key and [d.key for d in erp.connector.find("refund", refund.reference)] == [r1.key]
    assert erp.connector.find("refund", refund.reference)[0].amount == Decimal("30.00")


def test_a_credit_memo_cannot_credit_more_than_its_invoice(erp):
    cid, invoice, _ = _paid(erp, "50.00")
    first = CreditMemo(_ref("M"), cid, DAY, invoice.key, (OrderLine(erp.item, Decimal("1"), Decimal("40.00")),))
    erp.connector.ensure_credit_memo(first)
    second = CreditMemo(_ref("M"), cid, DAY, invoice.key, (OrderLine(erp.item, Decimal("1"), Decimal("10.01")),))
    with pytest.raises(PermanentError):
        erp.connector.ensure_credit_memo(second)
    assert erp.connector.find("credit_memo", second.reference) == []


def test_reversing_a_receipt_reopens_its_invoice_once(erp):
    cid, invoice, payment = _paid(erp, "75.00")
    assert _open_amount(erp, invoice) == 0
    reversal = Reversal(_ref("V"), cid, DAY, Decimal("75.00"), payment.key)
    v1, v2 = erp.connector.ensure_reversal(reversal), erp.connector.ensure_reversal(reversal)
    assert v1.key == v2.key and [d.key for d in erp.connector.find("reversal", reversal.reference)] == [v1.key]
    assert _open_amount(erp, invoice) == Decimal("75.00")


def test_an_order_and_an_invoice_carry_the_status_they_are_marked_with(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    order = erp.connector.ensure_sales_order(_order(erp, cid, _ref("S"), "20.00"))
    erp.connector.set_status("sales_order", order.key, "Payment Failed")
    assert erp.connector.status_of("sales_order", order.key) == "Payment Failed"
    _, invoice, _ = _paid(erp, "20.00")
    erp.connector.set_status("invoice", invoice.key, "Disputed")
    assert erp.connector.status_of("invoice", invoice.key) == "Disputed"
