"""Unit tests of the Sage 50 matching mapping: invoices with due date and PO, receipts on account,
customers read back, and the partial update an upsert sends."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from connectors.errors import ValidationError
from connectors.sage50 import mapping
from schemas.domain import Address, Customer, OrderLine, Payment, SalesOrder

DAY = date(2026, 11, 20)
STORED = {"Name": "Ada", "Email": "ada@example.com", "PhoneNumbers": [{"Key": "Phone1", "Number": "555-0100"}],
          "BillToContact": {"Address": {"Address1": "1 Main St", "Address2": "Suite 5", "City": "Spokane",
                                        "State": "WA", "Zip": "99201", "Country": "US"}}}


def _wanted(email: str = "ada@example.com", phone: str = "555-0100", address: Address | None = None) -> dict:
    address = address or Address("Ada", "1 Main St", "Suite 5", "Spokane", "WA", "99201", "US")
    return mapping.customer_body(Customer("C1", "Ada", email, phone, address))


def test_an_unchanged_customer_needs_no_update_and_a_blank_never_erases() -> None:
    assert mapping.customer_update(STORED, _wanted()) == {}
    assert mapping.customer_update(STORED, _wanted(phone="", address=Address())) == {}


def test_a_changed_email_is_sent_alone_and_a_new_address_is_sent_whole() -> None:
    assert mapping.customer_update(STORED, _wanted(email="new@example.com")) == {"Email": "new@example.com"}
    moved = mapping.customer_update(STORED, _wanted(address=Address("Ada", "9 Elm St", "", "Olympia", "WA",
                                                                     "98501", "US")))
    # the old "Suite 5" must not stay on the new address
    assert moved == {"BillToContact": {"Address": {"Address1": "9 Elm St", "Address2": "", "City": "Olympia",
                                                   "State": "WA", "Zip": "98501", "Country": "US"}}}
    assert mapping.customer_update(STORED, _wanted(phone="555-0199")) == {
        "PhoneNumbers": [{"Key": "Phone1", "Number": "555-0199"}]}


def test_a_customer_is_written_in_the_sdks_names_and_a_long_name_kept_whole_in_a_custom_field() -> None:
    name = "Northwestern Consolidated Widget Manufacturing & Supply, LLC"  # 60 characters
    body = mapping.customer_body(Customer("C1", name, "a@b.c", "555"), "Full name")
    assert set(body) == {"Name", "Email", "PhoneNumbers", "BillToContact", "CustomFields"}
    assert body["Name"] == name[:39] and body["CustomFields"] == {"Full name": name}
    assert "CustomFields" not in mapping.customer_body(Customer("C1", "Ada", "a@b.c", "555"), "Full name")


def test_an_invoice_body_carries_due_date_and_po_only_when_given() -> None:
    lines = (OrderLine("PAYMENT", Decimal("1"), Decimal("250")),)
    plain = mapping.invoice_body(SalesOrder("I-1", "C1", DAY, lines))
    assert "DateDue" not in plain and "CustomerPurchaseOrderNumber" not in plain
    full = mapping.invoice_body(SalesOrder("I-1", "C1", DAY, lines, due_date=date(2026, 12, 20), customer_po="PO-9"))
    assert (full["DateDue"], full["CustomerPurchaseOrderNumber"]) == ("2026-12-20", "PO-9")


def test_a_payment_without_an_invoice_is_cash_on_account() -> None:
    body = mapping.payment_body(Payment("OA-1", "C1", DAY, Decimal("80"), None, "1200", "Card"))
    assert (body["Amount"], body["ApplyToInvoiceLines"]) == ("80.00", [])
    applied = mapping.payment_body(Payment("R-1", "C1", DAY, Decimal("40"), "inv-key", "1200", "Card"))
    assert applied["ApplyToInvoiceLines"] == [{"InvoiceReference": "inv-key", "AmountPaid": "40.00"}]


def test_an_invoice_reads_as_invoice_info_with_its_link_fields_and_status() -> None:
    record = {"Key": "k1", "CustomerID": "C1", "ReferenceNumber": "I-1", "Date": "2026-11-20",
              "DateDue": "2026-12-20", "CustomerPurchaseOrderNumber": "PO-9", "Amount": "100.00",
              "AmountDue": "60.00", "InternalNote": "Disputed"}
    info = mapping.invoice_info(record, "InternalNote")
    assert (info.key, info.reference, info.customer_id, info.date, info.due_date) == \
        ("k1", "I-1", "C1", DAY, date(2026, 12, 20))
    assert (info.amount, info.open_amount, info.status) == (Decimal("100.00"), Decimal("60.00"), "Disputed")
    assert dict(info.fields) == {"ReferenceNumber": "I-1", "CustomerPurchaseOrderNumber": "PO-9"}


def test_only_link_fields_can_be_searched_and_open_invoice_filters_are_left_out_when_not_given() -> None:
    with pytest.raises(ValidationError):
        mapping.link_filter("Amount")
    assert mapping.open_invoice_query(None, None, None, None, None) == {"open": "true"}
    assert mapping.open_invoice_query("C1", Decimal("70"), DAY, DAY, DAY) == {
        "open": "true", "customer_id": "C1", "amount": "70.00", "date_from": "2026-11-20",
        "date_to": "2026-11-20", "due_by": "2026-11-20"}


def test_a_customer_change_reads_the_bridge_clock() -> None:
    change = mapping.customer_change({"ID": "C1", "Name": "Ada", "BillToContact": {"Address": {"Zip": "99201"}},
                                      "LastSavedAt": "2026-11-20T17:05:00.000001Z"})
    assert change.customer.address.postal_code == "99201" and change.customer.email == ""
    assert change.changed_at == datetime(2026, 11, 20, 17, 5, 0, 1, tzinfo=timezone.utc)
    assert mapping.query_instant(datetime(2026, 11, 20, 17, 5)) == "2026-11-20T17:05:00.000000Z"
