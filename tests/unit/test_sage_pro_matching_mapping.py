"""Sage Pro matching mapping: invoice rows as InvoiceInfo, arcust rows as Customers, the change clock, due dates."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.errors import ConfigurationError
from connectors.sage_pro import SageProConfig
from connectors.sage_pro import mapping as m
from connectors.sage_pro.client import build_tables
from schemas.domain import Address, Customer, OrderLine, SalesOrder

T = build_tables(SageProConfig(database_url="sqlite:///:memory:"))
LA = ZoneInfo("America/Los_Angeles")
DAY = date(2026, 11, 20)
LINKS = ("PONUM", "REF", "INVNO", "ORNUM", "SOTRACK")


def _armast(**values) -> dict:
    return m.full_row(T["armast"], {"INVNO": "5001", "CUSTNO": "ABC123", "INVDTE": DAY, "INVAMT": Decimal("100"),
                                    "BALANCE": Decimal("60"), "PAIDAMT": Decimal("40"), **values})


def test_an_invoice_row_reads_back_unpadded_with_what_is_open_and_its_link_fields():
    row = _armast(PONUM="PO-9", REF="PT1-INV", ORNUM="1000", DUEDATE=date(2026, 12, 20), USTATUS="Failed payment")
    info = m.invoice_info(row, "PTC-ADA" + " " * 13, LINKS)
    assert (info.key, info.reference, info.customer_id, info.date) == ("5001", "PT1-INV", "PTC-ADA", DAY)
    assert (info.amount, info.open_amount, info.due_date, info.status) == (Decimal("100.00"), Decimal("60.00"),
                                                                           date(2026, 12, 20), "Failed payment")
    assert info.fields == {"PONUM": "PO-9", "REF": "PT1-INV", "INVNO": "5001", "ORNUM": "1000", "SOTRACK": ""}


@pytest.mark.parametrize("ponum, ref, reference", [("PT1-INV", "", "PT1-INV"),  # paysync's, written before REF
                                                   ("PO-9", "", "PO-9"),  # a Sage Pro user's, with a PO
                                                   ("", "", "5001")])  # neither: its number
def test_an_invoice_without_ref_is_known_by_its_ponum_else_its_number(ponum, ref, reference):
    info = m.invoice_info(_armast(PONUM=ponum, REF=ref), "", LINKS)
    assert (info.reference, info.customer_id, info.due_date) == (reference, "ABC123", None)  # blank DUEDATE: None


def test_the_due_date_is_the_invoices_own_else_its_date_plus_the_customers_net_days():
    invoice = SalesOrder("I", "C", DAY, (OrderLine("X", Decimal("1"), Decimal("1")),))
    assert m.due_on(invoice, Decimal("30")) == date(2026, 12, 20) and m.due_on(invoice, 0) == DAY
    assert m.due_on(SalesOrder("I", "C", DAY, invoice.lines, due_date=date(2027, 1, 1)), 30) == date(2027, 1, 1)


def test_a_customer_row_reads_back_as_the_customer_written():
    ada = Customer("PTC-ADA", "Ada Lovelace", "ada@example.com", "555-0100",
                   Address("Ada", "1 Main St", "Apt 2", "Spokane", "WA", "99201", "US"))
    row = m.customer_row(T["arcust"], ada, "ABC123", datetime(2026, 11, 20, 9, 0), "PSYN", "Net 30", 30)
    assert m.customer_of(row) == ada and (row["PTERMS"].strip(), row["PNET"]) == ("Net 30", Decimal("30"))


def test_changed_at_is_the_last_change_else_the_add_stamp_on_sage_pros_clock():
    row = m.full_row(T["arcust"], {"ADDDATE": date(2026, 1, 5), "ADDTIME": "09:00:00"})
    assert m.changed_at(row, LA) == datetime(2026, 1, 5, 9, 0, tzinfo=LA)
    row.update(m.changed(T["arcust"], datetime(2026, 11, 20, 14, 5, 9), "PSYN"))
    assert row["CHGUSER"] == "PSYN" and m.changed_at(row, LA) == datetime(2026, 11, 20, 14, 5, 9, tzinfo=LA)
    row["CHGTIME"] = "        "  # a stamp without a time counts from the start of its day
    assert m.changed_at(row, LA) == datetime(2026, 11, 20, tzinfo=LA)


def test_since_is_read_on_sage_pros_clock_to_the_second():
    utc = datetime(2026, 11, 20, 22, 5, 9, 750000, tzinfo=timezone.utc)
    assert m.local(utc, LA) == (DAY, "14:05:09")
    assert m.local(datetime(2026, 11, 20, 14, 5, 9), LA) == (DAY, "14:05:09")  # naive: already Sage Pro's


def test_a_po_too_long_for_its_column_is_cut_not_refused():
    assert m.cut(T["armast"].c.REF, "P" * 30) == "P" * 20 and m.cut(T["armast"].c.REF, "") == " " * 20


@pytest.mark.parametrize("bad", [{"timezone": "Mars/Olympus"}, {"net_days": 1000}, {"terms": "x" * 21}])
def test_the_clock_and_default_terms_are_checked_once(bad):
    with pytest.raises(ConfigurationError):
        SageProConfig(database_url="sqlite://", **bad)
