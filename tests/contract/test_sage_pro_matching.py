"""Sage Pro's side of matching, judged by its tables and the sandbox's rules: where the PO and due date land,
invoices and customers Sage Pro users wrote (bare CUSTNO), cash on account, and the customer change clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from connectors.errors import NotFoundError, ValidationError
from sandbox import sage_pro as sandbox
from schemas.domain import Address, CreditMemo, Customer, OrderLine, Payment, Reversal, SalesOrder
from tests.contract.erp_sage_pro import COMPANY, sage_pro

DAY = date(2026, 11, 20)
SEED_DAY = date(2026, 1, 5)  # sandbox/sage_pro/seed.py
ADA = Customer("PTC-ADA", "Ada Lovelace", "ada@example.com", "555-0100",
               Address("Ada", "1 Main St", "", "Spokane", "WA", "99201", "US"))


@pytest.fixture(params=["sqlite", "postgresql"])
def erp(request):
    with sage_pro(request.param) as under_test:
        yield under_test


def _url(erp) -> str:
    return erp.connector.config.database_url


def _tables(erp) -> dict[str, list[dict]]:
    return sandbox.state(_url(erp), COMPANY)


def _invoice(ref: str, amount: str = "100.00", customer_id: str = ADA.customer_id, **kw) -> SalesOrder:
    return SalesOrder(ref, customer_id, DAY, (OrderLine("PAYMENT", Decimal("1"), Decimal(amount)),), **kw)


def test_an_invoice_keeps_our_reference_in_ref_the_po_in_ponum_and_its_due_date(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    given = c.ensure_invoice(_invoice("I-1", customer_po="PO-77", due_date=DAY + timedelta(days=10)))
    by_terms = c.ensure_invoice(_invoice("I-2", customer_po="P" * 30))  # too long a PO is cut, never refused
    plain = c.ensure_invoice(_invoice("I-3"))
    rows = {r["INVNO"].strip(): r for r in _tables(erp)["armast"]}
    assert (rows[given.key]["PONUM"].strip(), rows[given.key]["REF"].strip()) == ("PO-77", "I-1")
    assert (rows[plain.key]["PONUM"].strip(), rows[plain.key]["REF"].strip()) == ("I-3", "I-3")  # no PO: ours
    assert [r["PONUM"].strip() for r in _tables(erp)["artran"] if r["INVNO"].strip() == given.key] == ["PO-77"]
    assert rows[given.key]["DUEDATE"] == DAY + timedelta(days=10)
    # no due date: the customer's terms decide; paysync gives a customer it creates the configured Net 30
    assert rows[by_terms.key]["DUEDATE"] == DAY + timedelta(days=30) and rows[by_terms.key]["PONUM"] == "P" * 20
    [cust] = [r for r in _tables(erp)["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert (cust["PTERMS"].strip(), cust["PNET"]) == ("Net 30", 30)
    assert [i.key for i in c.find_invoices("PONUM", "PO-77")] == [given.key]
    assert [d.key for d in c.find("invoice", "I-1")] == [given.key]
    assert c.invoice_info(by_terms.key).fields["PONUM"] == "P" * 20 and c.invoice_info(by_terms.key).reference == "I-2"
    assert c.find_invoices("PONUM", "I-1") == []
    assert sandbox.check(_url(erp), COMPANY) == []


def test_an_invoice_written_before_ref_is_still_found_by_its_reference_in_ponum(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    doc = c.ensure_invoice(_invoice("I-OLD"))
    armast = c.tables["armast"]  # an older paysync wrote our reference to PONUM alone
    with c.client.transaction("test") as conn:
        conn.execute(update(armast).where(armast.c.INVNO == doc.key.rjust(8)).values(REF=" " * 20))
    again = c.ensure_invoice(_invoice("I-OLD"))
    assert again.key == doc.key and again.reference == "I-OLD"
    assert c.invoice_info(doc.key).reference == "I-OLD" and len(_tables(erp)["armast"]) == 2  # the seed's and ours


def test_a_sales_order_keeps_the_po_in_the_somast_column_our_reference_does_not_use(erp):
    erp.connector.upsert_customer(ADA)
    erp.connector.ensure_sales_order(_invoice("SO-1", customer_po="PO-5"))
    [row] = [r for r in _tables(erp)["somast"] if r["PONUM"].strip() == "SO-1"]
    assert row["REF"].strip() == "PO-5"


def test_an_invoice_sage_pro_users_wrote_is_found_by_any_link_field_and_paid_under_its_bare_custno(erp):
    c = erp.connector
    # the seed's invoice 5000: customer 1001 (no CUSTGEN), PO CO-7781 in PONUM, order 1000 in ORNUM, Net 30
    [by_no] = c.find_invoices("INVNO", "5000")
    assert c.find_invoices("ORNUM", " 1000 ") == [by_no] == c.find_invoices("PONUM", "CO-7781")
    assert (by_no.customer_id, by_no.reference, by_no.amount, by_no.open_amount) == \
        ("1001", "CO-7781", Decimal("250.00"), Decimal("250.00"))
    assert by_no.due_date == SEED_DAY + timedelta(days=30) and by_no.date == SEED_DAY and by_no.status == ""
    assert by_no.fields == {"PONUM": "CO-7781", "REF": "", "INVNO": "5000", "ORNUM": "1000", "SOTRACK": ""}
    assert c.find_invoices("PONUM", "") == [] and c.find_invoices("INVNO", "123456789") == []
    with pytest.raises(ValidationError) as caught:
        c.find_invoices("CUSTNO", "1001")
    assert caught.value.field == "field"
    c.ensure_payment(Payment("R-N1", "1001", DAY, Decimal("100.00"), "5000", "1200-00", "CC"))
    assert c.invoice_info("5000").open_amount == Decimal("150.00")
    assert [i.key for i in c.open_invoices(customer_id="1001", amount=Decimal("250"))] == ["5000"]
    assert sandbox.check(_url(erp), COMPANY) == []


def test_a_credit_memo_is_no_invoice_to_match(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    invoice = c.ensure_invoice(_invoice("I-M"))
    memo = c.ensure_credit_memo(CreditMemo("M-1", ADA.customer_id, DAY, invoice.key,
                                           (OrderLine("PAYMENT", Decimal("1"), Decimal("10.00")),)))
    with pytest.raises(NotFoundError):
        c.invoice_info(memo.key)
    assert c.find_invoices("PONUM", "M-1") == []


def test_cash_on_account_is_an_arcash_row_without_invoice_that_lowers_the_balance_and_reverses(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    invoice = c.ensure_invoice(_invoice("I-OA", "80.00"))
    receipt = c.ensure_payment(Payment("OA-1", ADA.customer_id, DAY, Decimal("30.00"), None, "1200-00", "CC"))
    tables = _tables(erp)
    [cash] = [r for r in tables["arcash"] if r["REFNO"].strip() == "OA-1"]
    [cust] = [r for r in tables["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert cash["INVNO"] == " " * 8 and cash["PAIDAMT"] == Decimal("30")
    assert cust["BALANCE"] == Decimal("50") and cust["LPYMT"] == Decimal("30")
    assert c.invoice_info(invoice.key).open_amount == Decimal("80.00")
    assert sandbox.check(_url(erp), COMPANY) == []
    c.ensure_reversal(Reversal("V-OA", ADA.customer_id, DAY, Decimal("30.00"), receipt.key))
    [cust] = [r for r in _tables(erp)["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert cust["BALANCE"] == Decimal("80") and sandbox.check(_url(erp), COMPANY) == []


def test_a_customer_sage_pro_users_created_is_read_found_and_updated_in_place(erp):
    c = erp.connector
    sandbox.edit_customer(_url(erp), COMPANY, "1003", EMAIL="AP@Harbor.example", at=datetime(2026, 11, 1, 8, 0, 0))
    got = c.customer("1003")
    assert (got.customer_id, got.name, got.email, got.address.city) == ("1003", "Harbor Marine Supply",
                                                                       "AP@Harbor.example", "Tacoma")
    assert [x.customer_id for x in c.find_customers(email=" ap@harbor.EXAMPLE ")] == ["1003"]
    assert [x.customer_id for x in c.find_customers(name="harbor marine supply", postal_code="98402")] == ["1003"]
    assert c.find_customers(name="Harbor Marine Supply") == []  # a name alone is not enough
    assert c.upsert_customer(Customer("1003", "Harbor Marine Supply", "billing@harbor.example", "253-555-0199",
                                      got.address)) == "1003"
    rows = _tables(erp)["arcust"]
    [row] = [r for r in rows if r["CUSTNO"].strip() == "1003"]
    assert len(rows) == 3 and row["EMAIL"] == "billing@harbor.example" and row["CUSTGEN"].strip() == ""
    assert row["CHGUSER"] == "PSYN" and row["PHONE"].strip() == "253-555-0199"


def test_customers_are_listed_by_their_last_change_on_sage_pros_clock(erp):
    c = erp.connector
    zone = ZoneInfo(c.config.timezone)
    everyone = list(c.customers_changed_since(None))
    assert [ch.customer.customer_id for ch in everyone] == ["1001", "1002", "1003"]  # the seed, by ADDTIME
    assert everyone[0].changed_at == datetime(2026, 1, 5, 9, 0, tzinfo=zone)
    edited = datetime(2031, 3, 1, 12, 0, 5)  # a user's edit, stamped in Sage Pro's local time
    sandbox.edit_customer(_url(erp), COMPANY, "1002", EMAIL="x@inland.example", at=edited)
    [change] = c.customers_changed_since(datetime(2031, 3, 1, 12, 0, 4, tzinfo=zone))
    assert change.customer.customer_id == "1002" and change.changed_at == edited.replace(tzinfo=zone)
    as_utc = edited.replace(tzinfo=zone).astimezone(timezone.utc)
    assert list(c.customers_changed_since(as_utc)) == []  # strictly after, whatever zone `since` is in
    assert [ch.customer.customer_id for ch in c.customers_changed_since(as_utc - timedelta(seconds=1))] == ["1002"]
    assert [ch.customer.customer_id for ch in c.customers_changed_since(edited - timedelta(seconds=1))] == ["1002"]


def test_an_unchanged_upsert_stamps_nothing_and_a_change_stamps_the_last_change(erp):
    c = erp.connector
    c.upsert_customer(ADA)
    c.upsert_customer(ADA)
    [row] = [r for r in _tables(erp)["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    assert row["CHGDATE"] == sandbox.EMPTY_DATE and row["CHGUSER"].strip() == ""
    c.upsert_customer(Customer(ADA.customer_id, ADA.name, "ada@new.example", ADA.phone, ADA.address))
    [row] = [r for r in _tables(erp)["arcust"] if r["CUSTGEN"].strip() == ADA.customer_id]
    now = datetime.now(ZoneInfo(c.config.timezone))
    assert row["CHGUSER"] == "PSYN" and row["CHGDATE"] in (now.date(), (now - timedelta(minutes=1)).date())
    assert c.customer(ADA.customer_id).email == "ada@new.example" and c.customer("NOPE") is None
