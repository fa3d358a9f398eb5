"""The matching part of the contract, per ERP: finding the invoice a payment pays, payments on
account, invoices falling due, and reading customers for the two-way customer sync."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors.errors import NotFoundError
from schemas.domain import Address, Customer, OrderLine, Payment, SalesOrder
from tests.contract.erps import ERPS
from tests.contract.test_erp_contract import _customer, _ref

DAY = date(2026, 11, 20)


@pytest.fixture(params=sorted(ERPS))
def erp(request):
    with ERPS[request.param]() as under_test:
        yield under_test


def _native_invoice(erp, cid: str, amount: str = "250.00", *, po: str = "", due: date | None = None,
                    on: date = DAY):
    """An invoice as the ERP's own users write them: their number, a PO, a due date. Where the ERP keeps
    the PO on the order (X3), the order carries it and the invoice bills that order."""
    lines = (OrderLine(erp.item, Decimal("1"), Decimal(amount)),)
    if po and erp.po_on_order:
        order = erp.connector.ensure_sales_order(SalesOrder(po, cid, on, lines))
        invoice = SalesOrder(_ref("N"), cid, on, lines, due_date=due, order_ref=order.key)
    else:
        invoice = SalesOrder(_ref("N"), cid, on, lines, due_date=due, customer_po=po)
    return invoice, erp.connector.ensure_invoice(invoice)


def test_an_invoice_is_found_by_its_reference_and_by_its_po_with_what_is_due(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    po = _ref("PO")
    invoice, doc = _native_invoice(erp, cid, "250.00", po=po, due=DAY + timedelta(days=30))
    c = erp.connector
    [by_ref] = c.find_invoices(c.invoice_reference_field, invoice.reference)
    [by_po] = c.find_invoices(c.invoice_po_field, po)
    assert by_ref.key == by_po.key == doc.key
    assert (by_ref.customer_id, by_ref.amount, by_ref.open_amount) == (cid, Decimal("250.00"), Decimal("250.00"))
    assert by_ref.due_date == DAY + timedelta(days=30) and by_ref.date == DAY
    assert c.find_invoices(c.invoice_reference_field, _ref("nothing")) == []
    assert set(c.invoice_link_fields) >= {c.invoice_reference_field, c.invoice_po_field}


def test_a_partial_receipt_leaves_the_rest_open_and_the_invoice_says_so(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    invoice, doc = _native_invoice(erp, cid, "100.00")
    erp.connector.ensure_payment(Payment(_ref("R"), cid, DAY, Decimal("40.00"), doc.key, erp.cash_account, "Card"))
    info = erp.connector.invoice_info(doc.key)
    assert (info.amount, info.open_amount) == (Decimal("100.00"), Decimal("60.00"))
    with pytest.raises(NotFoundError):
        erp.connector.invoice_info("NO-SUCH-INVOICE")


def test_a_payment_on_account_is_written_once_applied_to_nothing(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    _, doc = _native_invoice(erp, cid, "80.00")
    payment = Payment(_ref("OA"), cid, DAY, Decimal("80.00"), None, erp.cash_account, "Card")
    first, second = erp.connector.ensure_payment(payment), erp.connector.ensure_payment(payment)
    assert first.key == second.key
    [found] = erp.connector.find("payment", payment.reference)
    assert found.amount == Decimal("80.00") and found.customer_id == cid
    # the customer's open invoice is untouched: unapplied cash pays nothing by itself
    assert erp.connector.invoice_info(doc.key).open_amount == Decimal("80.00")


def test_open_invoices_are_narrowed_by_customer_amount_date_and_due_date(erp):
    c = erp.connector
    cid = c.upsert_customer(_customer(_ref("C")))
    other = c.upsert_customer(_customer(_ref("C")))
    _, early = _native_invoice(erp, cid, "70.00", on=DAY - timedelta(days=20), due=DAY - timedelta(days=1))
    _, late = _native_invoice(erp, cid, "70.00", on=DAY, due=DAY + timedelta(days=30))
    _, paid = _native_invoice(erp, cid, "70.00", on=DAY)
    c.ensure_payment(Payment(_ref("R"), cid, DAY, Decimal("70.00"), paid.key, erp.cash_account, "Card"))
    _native_invoice(erp, other, "70.00", on=DAY)
    _native_invoice(erp, cid, "71.00", on=DAY)

    def keys(**kw):
        return {i.key for i in c.open_invoices(**kw)}

    assert keys(customer_id=cid, amount=Decimal("70.00")) == {early.key, late.key}
    assert keys(customer_id=cid, amount=Decimal("70.00"), dated_from=DAY - timedelta(days=7),
                dated_to=DAY + timedelta(days=7)) == {late.key}
    assert keys(customer_id=cid, due_by=DAY) == {early.key}
    assert all(i.open_amount > 0 for i in c.open_invoices(customer_id=cid))


def test_a_customer_reads_back_as_written_and_is_found_by_email_or_name_and_postal_code(erp):
    c = erp.connector
    email = f"{_ref('x')}@example.com"
    name = f"Grace {_ref('H')}"
    customer = Customer(_ref("C"), name, email, "555-0199",
                        Address(name, "7 Pine Rd", "", "Tacoma", "WA", "98402", "US"))
    cid = c.upsert_customer(customer)
    got = c.customer(cid)
    assert (got.name, got.email.lower(), got.address.postal_code) == (name, email, "98402")
    assert [x.customer_id for x in c.find_customers(email=email.upper())] == [cid]
    assert [x.customer_id for x in c.find_customers(name=name, postal_code="98402")] == [cid]
    assert c.find_customers(name=name, postal_code="00000") == []
    assert c.customer(_ref("NOPE")) is None


def test_an_upsert_updates_contact_details_and_the_change_is_listed(erp):
    c = erp.connector
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    customer = _customer(_ref("C"))
    cid = c.upsert_customer(customer)
    changed = Customer(customer.customer_id, customer.name, "new@example.com", "555-0142",
                       Address(customer.name, "9 Elm St", "", "Olympia", "WA", "98501", "US"))
    assert c.upsert_customer(changed) == cid
    got = c.customer(cid)
    assert (got.email, got.address.city, got.address.postal_code) == ("new@example.com", "Olympia", "98501")
    listed = [ch for ch in c.customers_changed_since(start) if ch.customer.customer_id == cid]
    assert len(listed) == 1 and listed[0].customer.email == "new@example.com"
    later = max(ch.changed_at for ch in c.customers_changed_since(start))
    assert all(ch.customer.customer_id != cid for ch in c.customers_changed_since(later))
