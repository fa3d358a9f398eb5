"""X3-specific matching through the connector and its sandbox: the link fields the shared contract does
not reach (SOHNUM on the lines, NUM), credit notes kept out, bulk reads in chunks, address-only changes."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connectors.errors import NotFoundError, PermanentError
from connectors.sage_x3 import connector as x3_connector
from schemas.domain import Address, CreditMemo, Customer, OrderLine, SalesOrder
from tests.contract.erp_sage_x3 import sage_x3
from tests.contract.test_erp_contract import _customer, _ref

DAY = date(2026, 11, 20)


@pytest.fixture
def erp():
    with sage_x3() as under_test:
        yield under_test


def _sale(erp, cid: str, amount: str = "30.00", **kw) -> SalesOrder:
    return SalesOrder(_ref("I"), cid, DAY, (OrderLine(erp.item, Decimal("1"), Decimal(amount)),), **kw)


def test_an_invoice_is_found_by_the_order_it_bills_and_by_its_number_but_never_as_a_credit_note(erp):
    c = erp.connector
    cid = c.upsert_customer(_customer(_ref("C")))
    order = c.ensure_sales_order(_sale(erp, cid))
    invoice = c.ensure_invoice(_sale(erp, cid, order_ref=order.key))
    # given a credit note against it (an SIH too, naming the invoice)
    memo = c.ensure_credit_memo(CreditMemo(_ref("CM"), cid, DAY, invoice.key,
                                           (OrderLine(erp.item, Decimal("1"), Decimal("5.00")),)))
    [by_order] = c.find_invoices("SOHNUM", order.key)
    [by_num] = c.find_invoices("NUM", invoice.key)
    assert by_order.key == by_num.key == invoice.key and by_order.fields["SOHNUM"] == order.key
    assert c.find_invoices("NUM", memo.key) == []
    with pytest.raises(NotFoundError):
        c.invoice_info(memo.key)
    with pytest.raises(PermanentError):
        c.find_invoices("BPCINV", cid)


def test_open_invoices_read_their_open_items_in_chunks(erp, monkeypatch):
    monkeypatch.setattr(x3_connector, "CHUNK", 2)  # five invoices: three `in (...)` requests per class
    c = erp.connector
    cid = c.upsert_customer(_customer(_ref("C")))
    keys = {c.ensure_invoice(_sale(erp, cid, due_date=DAY + timedelta(days=i))).key for i in range(5)}
    found = list(c.open_invoices(customer_id=cid))
    assert {i.key for i in found} == keys
    assert sorted(i.due_date for i in found) == [DAY + timedelta(days=i) for i in range(5)]
    assert all(i.open_amount == i.amount == Decimal("30.00") for i in found)


def test_a_change_of_address_alone_lists_the_customer_once_strictly_after_the_last_change(erp):
    c = erp.connector
    customer = Customer(_ref("C"), "Ada Lovelace", "ada@example.com", "555-0100",
                        Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99201", "US"))
    cid = c.upsert_customer(customer)
    [first] = [ch for ch in c.customers_changed_since(None) if ch.customer.customer_id == cid]
    time.sleep(1.1)  # X3 stamps to the second
    moved = Customer(customer.customer_id, customer.name, customer.email, customer.phone,
                     Address("Ada Lovelace", "2 Oak Ave", "", "Spokane", "WA", "99202", "US"))
    assert c.upsert_customer(moved) == cid
    assert c.upsert_customer(moved) == cid  # nothing changed: no modify, no new stamp
    changes = list(c.customers_changed_since(first.changed_at))
    assert [ch.customer.customer_id for ch in changes] == [cid]
    assert changes[0].changed_at > first.changed_at and changes[0].customer.address.postal_code == "99202"
    assert list(c.customers_changed_since(changes[0].changed_at)) == []
    # a `since` inside the last second is honoured to the microsecond, naive or not
    inside = changes[0].changed_at + timedelta(microseconds=500)
    assert list(c.customers_changed_since(inside)) == []
    assert list(c.customers_changed_since(inside.replace(tzinfo=None))) == []
    assert [x.customer_id for x in c.find_customers(name="ada LOVELACE", postal_code="99 202")] == [cid]
    assert [x.customer_id for x in c.find_customers(email="ADA@example.com")] == [cid]


def test_stamps_are_utc(erp):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    [change] = [ch for ch in erp.connector.customers_changed_since(None) if ch.customer.customer_id == cid]
    assert change.changed_at.tzinfo is not None
    assert abs(change.changed_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
