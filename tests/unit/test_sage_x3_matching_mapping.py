"""Sage X3 matching mapping: where literals, invoices and customers read back, PO / due date / on account."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from config.settings import Secret
from connectors.sage_x3 import SageX3Config, SageX3Layout, answers, mapping, query
from schemas.domain import OrderLine, Payment, SalesOrder

CFG = SageX3Config("http://x3", "admin", Secret("pw"))
LAYOUT = SageX3Layout()
LINKS = {"INVREF": "INVREF", "CUSORDREF": "CUSORDREF", "NUM": "NUM", "SOHNUM": "SOHNUM"}


def _invoice(**kw) -> SalesOrder:
    return SalesOrder("PT1-INV", "C1", date(2026, 11, 20), (OrderLine("PAYMENT", Decimal("1"), Decimal("70.00")),),
                      **kw)


# ---- where clauses --------------------------------------------------------------------------------
def test_where_literals_quote_text_and_write_numbers_and_dates_as_sdata_does():
    assert query.literal("O'Brien") == "'O''Brien'"
    assert query.literal(Decimal("70.00")) == "70.00"
    assert query.literal(date(2026, 11, 20)) == "@2026-11-20@"
    pacific = timezone(timedelta(hours=-8))
    assert query.literal(datetime(2026, 11, 20, 2, 30, 5, 900, tzinfo=pacific)) == "@2026-11-20T10:30:05Z@"
    assert query.literal(datetime(2026, 11, 20, 10, 30, 5)) == "@2026-11-20T10:30:05Z@"  # naive is UTC


def test_where_clauses_combine_with_and_and_compare_text_in_lower_case():
    assert query.where_ieq("WEB", "Ada@Example.COM") == "lower(WEB) eq 'ada@example.com'"
    assert query.where_in("NUM", ["A", "B'C"]) == "NUM in ('A', 'B''C')"
    clause = query.where_all(query.where_op("SIVTYP", "ne", "CRN"), "", query.where_all("A eq 1", "B eq 2"))
    assert clause == "SIVTYP ne 'CRN' and (A eq 1 and B eq 2)"


# ---- writes: PO, due date, payment on account -----------------------------------------------------
def test_an_invoice_has_no_cusordref_keeps_the_merchants_id_whole_and_its_currency_in_sih2_1():
    # Given the evidence defaults: SINVOICEV has no CUSORDREF (it is the order's), the standard screen
    # keeps CUR in SIH2_1, and the merchant's invoice id has a field of its own
    plain = mapping.invoice_object(_invoice(), CFG)
    assert "CUSORDREF" not in plain["SIH0_1"] and "SIH2_2" not in plain and "CUR" not in plain["SIH0_1"]
    assert plain["SIH2_1"] == {"CUR": "USD"}
    long_id = "INV-2026-000123-ACME-EAST-REGION-WHOLESALE"  # 42 characters: more than a 30-character line text
    full = mapping.invoice_object(_invoice(customer_po="PO-77", invoice_id=long_id, due_date=date(2026, 12, 20)), CFG)
    assert "CUSORDREF" not in full["SIH0_1"] and full["SIH0_1"]["YINVID"] == long_id
    assert full["SIH2_2"] == {"PTE": "DUEDATE", "STRDUDDAT": "20261220"}  # a 0-day term from that date [I]
    # and a custom publication taking CUR in SIH0_1 says so in the layout
    custom = SageX3Config("http://x3", "admin", Secret("pw"), layout=SageX3Layout.from_overrides(
        {"invoice_currency_group": "SIH0_1", "invoice_id_field": ""}))
    obj = mapping.invoice_object(_invoice(invoice_id=long_id), custom)
    assert obj["SIH0_1"]["CUR"] == "USD" and "SIH2_1" not in obj and "YINVID" not in obj["SIH0_1"]


def test_a_site_can_move_the_po_and_the_due_date_term():
    layout = SageX3Layout.from_overrides({"invoice_po": "BPRVCR", "due_date_term": "IMMED"})
    cfg = SageX3Config("http://x3", "admin", Secret("pw"), layout=layout)
    obj = mapping.invoice_object(_invoice(customer_po="PO-77", due_date=date(2026, 12, 20)), cfg)
    assert obj["SIH0_1"]["BPRVCR"] == "PO-77" and obj["SIH2_2"]["PTE"] == "IMMED"


def test_a_payment_on_account_has_no_allocation_line():
    on_account = mapping.payment_object(Payment("PT1-OA", "C1", date(2026, 11, 20), Decimal("80.00"), None,
                                                "10500", "Card"), CFG)
    # one line with its payment attribute and amount, naming no document
    assert on_account["PAY1_4"] == [{"DENCOD": "REC", "AMTLIN": "80.00"}] and on_account["PAY1_2"]["AMTCUR"] == "80.00"
    applied = mapping.payment_object(Payment("PT1-RCP", "C1", date(2026, 11, 20), Decimal("80.00"), "INV1",
                                             "10500", "Card"), CFG)
    assert applied["PAY1_4"] == [{"DENCOD": "REC", "VCRTYP": "INV", "VCRNUM": "INV1", "AMTLIN": "80.00"}]


# ---- reads: invoices and customers ----------------------------------------------------------------
def test_an_invoice_is_due_what_its_open_items_leave_and_falls_due_on_the_earliest_still_open():
    record = {"NUM": "INV1", "SIVTYP": "INV", "INVREF": "", "INVDAT": "2026-11-20", "BPCINV": "C1",
              "AMTATI": 100.0, "CUSORDREF": "PO-7", "YPAYSTA": "Disputed"}
    items = [{"NUM": "INV1", "TYP": "INV", "DUDDAT": "2026-11-30", "AMTCUR": 50.0, "PAYCUR": 50.0},
             {"NUM": "INV1", "TYP": "INV", "DUDDAT": "2026-12-30", "AMTCUR": 50.0, "PAYCUR": 10.0}]
    info = answers.invoice_info(record, items, [{"SOHNUM": ""}, {"SOHNUM": "SO1"}], LAYOUT, LINKS)
    assert (info.key, info.reference, info.customer_id, info.date) == ("INV1", "INV1", "C1", date(2026, 11, 20))
    assert (info.amount, info.open_amount, info.due_date) == (Decimal("100.00"), Decimal("40.00"), date(2026, 12, 30))
    assert info.status == "Disputed"
    assert info.fields == {"INVREF": "", "CUSORDREF": "PO-7", "NUM": "INV1", "SOHNUM": "SO1"}


def test_an_invoice_without_open_items_is_all_due_and_has_no_due_date():
    record = {"NUM": "INV2", "INVREF": "PT9-INV", "INVDAT": "2026-11-20", "BPCINV": "C1", "AMTATI": 12.5}
    info = answers.invoice_info(record, [], [], LAYOUT, LINKS)
    assert (info.reference, info.open_amount, info.due_date) == ("PT9-INV", Decimal("12.50"), None)


def test_x3_empty_dates_and_zoned_stamps_read_back():
    assert answers.api_date("1599-12-31") is None and answers.api_date("") is None
    assert answers.api_date("20261120") == date(2026, 11, 20)
    assert answers.api_datetime("2026-11-20T10:15:30Z") == datetime(2026, 11, 20, 10, 15, 30, tzinfo=timezone.utc)
    assert answers.api_datetime("2026-11-20T10:15:30").tzinfo == timezone.utc


def test_a_customer_reads_its_contact_details_from_the_default_address():
    record = {"BPCNUM": "C1", "BPCNAM": "Grace Hopper"}
    addresses = [{"BPAADDFLG": 1, "CTY": "Elsewhere", "WEB1": "other@example.com"},
                 {"BPAADDFLG": 2, "ADDLIG1": "7 Pine Rd", "CTY": "Tacoma", "SAT": "WA", "POSCOD": "98402",
                  "BPACRY": "US", "TEL1": "555-0199", "WEB1": "grace@example.com"}]
    customer = answers.customer_from(record, addresses)
    assert (customer.customer_id, customer.name, customer.email, customer.phone) == \
        ("C1", "Grace Hopper", "grace@example.com", "555-0199")
    assert (customer.address.city, customer.address.postal_code, customer.address.name) == \
        ("Tacoma", "98402", "Grace Hopper")
    assert answers.customer_from(record, []).email == ""
