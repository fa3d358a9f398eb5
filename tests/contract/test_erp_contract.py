"""The promises every ERP connector keeps, run against each connector's sandbox over real sockets."""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import PermanentError, RetriableError, ValidationError
from schemas.domain import Address, Customer, JournalEntry, JournalLine, OrderLine, Payment, SalesOrder
from tests.contract.erps import ERPS


@pytest.fixture(params=sorted(ERPS))
def erp(request):
    with ERPS[request.param]() as under_test:
        yield under_test


def _ref(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _customer(cid: str) -> Customer:
    return Customer(cid, "Ada Lovelace", "ada@example.com", "555-0100",
                    Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99201", "US"))


def _order(erp, cid: str, ref: str, amount: str = "12.34", item: str | None = None, order_ref=None) -> SalesOrder:
    return SalesOrder(ref, cid, date(2026, 11, 20), (OrderLine(item or erp.item, Decimal("1"), Decimal(amount)),),
                      order_ref=order_ref)


def _paid_invoice(erp, amount: str = "12.34"):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    invoice = erp.connector.ensure_invoice(_order(erp, cid, _ref("I"), amount))
    return cid, invoice


def test_upserting_the_same_customer_twice_gives_one_customer(erp):
    customer = _customer(_ref("C"))
    first = erp.connector.upsert_customer(customer)
    second = erp.connector.upsert_customer(customer)
    assert first == second == customer.customer_id


def test_every_create_is_idempotent_on_its_reference_even_without_our_ledger(erp):
    # given documents created once, when each create is repeated with no memory on our side
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    order = _order(erp, cid, _ref("S"))
    so1, so2 = erp.connector.ensure_sales_order(order), erp.connector.ensure_sales_order(order)
    invoice = _order(erp, cid, _ref("I"), order_ref=so1.key)
    inv1, inv2 = erp.connector.ensure_invoice(invoice), erp.connector.ensure_invoice(invoice)
    payment = Payment(_ref("R"), cid, date(2026, 11, 20), Decimal("12.34"), inv1.key, erp.cash_account, "Card")
    pay1, pay2 = erp.connector.ensure_payment(payment), erp.connector.ensure_payment(payment)
    entry = JournalEntry(_ref("J"), date(2026, 11, 20), "contract",
                         (JournalLine(erp.other_account, Decimal("12.34")), JournalLine(erp.cash_account, Decimal("-12.34"))))
    je1, je2 = erp.connector.ensure_journal(entry), erp.connector.ensure_journal(entry)
    # then the ERP holds one of each, and lookups by reference find exactly what was written
    for kind, doc_a, doc_b, ref in (("sales_order", so1, so2, order.reference), ("invoice", inv1, inv2, invoice.reference),
                                    ("payment", pay1, pay2, payment.reference), ("journal", je1, je2, entry.reference)):
        assert doc_a.key == doc_b.key, kind
        found = erp.connector.find(kind, ref)
        assert [d.key for d in found] == [doc_a.key], kind
        assert found[0].amount == Decimal("12.34"), kind


def test_an_unbalanced_journal_is_refused(erp):
    entry = JournalEntry(_ref("J"), date(2026, 11, 20), "bad",
                         (JournalLine(erp.other_account, Decimal("10.00")), JournalLine(erp.cash_account, Decimal("-9.99"))))
    with pytest.raises(PermanentError):
        erp.connector.ensure_journal(entry)
    assert erp.connector.find("journal", entry.reference) == []


def test_an_unknown_item_is_permanent_and_names_the_item(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    with pytest.raises(PermanentError) as caught:
        erp.connector.ensure_sales_order(_order(erp, cid, _ref("S"), item="NO-SUCH-ITEM"))
    assert not isinstance(caught.value, RetriableError)
    assert "NO-SUCH-ITEM" in str(caught.value)


def test_a_busy_erp_is_retriable_and_writes_nothing(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    order = _order(erp, cid, _ref("S"))
    erp.set_busy(True)
    try:
        with pytest.raises(RetriableError):
            erp.connector.ensure_sales_order(order)
    finally:
        erp.set_busy(False)
    assert erp.connector.find("sales_order", order.reference) == []
    assert erp.connector.ensure_sales_order(order).reference == order.reference


def test_a_locked_record_is_retriable(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    erp.lock_customer(cid)
    with pytest.raises(RetriableError):
        erp.connector.ensure_invoice(_order(erp, cid, _ref("I")))


def test_overpaying_an_invoice_is_refused_with_the_field(erp):
    cid, invoice = _paid_invoice(erp, "5.00")
    payment = Payment(_ref("R"), cid, date(2026, 11, 20), Decimal("5.01"), invoice.key, erp.cash_account, "Card")
    with pytest.raises(ValidationError):
        erp.connector.ensure_payment(payment)


def test_a_reference_longer_than_the_erp_keeps_is_refused_before_any_call(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    with pytest.raises(PermanentError):
        erp.connector.ensure_sales_order(_order(erp, cid, "R" * (erp.connector.max_reference_length + 1)))


def test_many_references_are_found_at_once_each_with_its_own_documents(erp):
    # given three invoices of one customer, and a reference nothing carries
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    written = {ref: erp.connector.ensure_invoice(_order(erp, cid, ref, f"1{n}.00"))
               for n, ref in enumerate(_ref("I") for _ in range(3))}
    missing = _ref("I")
    # when they are asked for together
    found = erp.connector.find_many("invoice", [*written, missing])
    # then every reference asked is answered: its own invoice, or nothing
    assert set(found) == {*written, missing} and found[missing] == []
    for ref, doc in written.items():
        assert [d.key for d in found[ref]] == [doc.key]
        assert found[ref][0].amount == doc.amount
