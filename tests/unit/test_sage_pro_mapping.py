"""Sage Pro mapping, config and error policy: fixed-width keys, whole rows without NULLs, errors by what to do."""
from __future__ import annotations

import sqlite3
import string
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from config.settings import load_settings
from connectors.errors import ConfigurationError, PermanentError, RetriableError, ValidationError
from connectors.sage_pro import SageProConfig
from connectors.sage_pro import mapping as m
from connectors.sage_pro.client import SageProClient, build_tables
from connectors.sage_pro.config import column_spec
from schemas.domain import Address, Customer, JournalEntry, JournalLine, OrderLine, Payment, SalesOrder

CONFIG = SageProConfig(database_url="sqlite:///:memory:")
T = build_tables(CONFIG)
NOW = datetime(2026, 11, 20, 9, 30, 5)
DAY = date(2026, 11, 20)
ADA = Customer("PTC-ABCDEFGHIJKLMNOP", "Ada Lovelace", "ada@example.com", "555-0100",
               Address("Ada", "1 Main St", "", "Spokane", "WA", "99201", "US"))


# -- keys and widths ---------------------------------------------------------------------------
def test_document_numbers_are_right_justified_and_text_left_justified_to_width():
    assert m.fit(T["somast"].c.SONO, "1001") == "      1001"
    assert m.fit(T["armast"].c.INVNO, "  42 ") == "      42"
    assert m.fit(T["arcust"].c.CITY, "Spokane") == "Spokane".ljust(20)


def test_descriptive_text_is_cut_but_keys_and_references_are_refused_with_the_field():
    assert m.fit(T["arcust"].c.COMPANY, "x" * 50) == "x" * 35
    for column, value in ((T["arcust"].c.CUSTNO, "1234567"), (T["somast"].c.PONUM, "R" * 21),
                          (T["icitem"].c.ITEM, "I" * 21), (T["gltran"].c.GLACNT, "9" * 25)):
        with pytest.raises(ValidationError) as caught:
            m.fit(column, value)
        assert caught.value.field == column.key


@given(st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20))
def test_custno_is_six_stable_uppercase_characters_for_any_id(customer_id):
    code = m.custno_for(customer_id)
    assert code == m.custno_for(customer_id) and len(code) == 6
    assert set(code) <= set(string.ascii_uppercase + "234567")
    assert m.custno_for(customer_id, 1) != code


# -- whole rows --------------------------------------------------------------------------------
@pytest.mark.parametrize("base", sorted(T))
def test_a_row_has_every_column_and_no_none(base):
    row = m.full_row(T[base], {})
    assert set(row) == set(T[base].c.keys()) and None not in row.values()
    for column in T[base].c:
        kind = column.info["kind"]
        expected = {"C": " " * column.info["width"], "N": 0, "Y": 0, "D": m.EMPTY_DATE, "M": ""}[kind]
        assert row[column.key] == expected, column.key


def test_a_row_refuses_columns_the_table_does_not_have():
    with pytest.raises(KeyError):
        m.full_row(T["arcust"], {"NOPE": 1})


def test_a_new_customer_row_keeps_our_id_beside_its_custno():
    row = m.customer_row(T["arcust"], ADA, "AB12CD", NOW, "PSYN")
    assert (row["CUSTNO"], row["CUSTGEN"].strip(), row["COMPANY"].strip()) == ("AB12CD", ADA.customer_id, "Ada Lovelace")
    assert row["ADDRESS2"] == " " * 35 and row["LASTPAY"] == m.EMPTY_DATE and row["BALANCE"] == 0
    assert (row["ADDUSER"], row["ADDDATE"], row["ADDTIME"]) == ("PSYN", NOW.date(), "09:30:05")


def test_customer_changes_ignore_padding_and_never_erase_with_blanks():
    current = m.customer_row(T["arcust"], ADA, "AB12CD", NOW, "PSYN")
    assert m.customer_changes(T["arcust"], current, ADA) == {}
    moved = Customer(ADA.customer_id, "Ada Lovelace", "", "", Address("Ada", "9 Elm St", "", "Tacoma", "", "", ""))
    assert m.customer_changes(T["arcust"], current, moved) == {"ADDRESS1": "9 Elm St".ljust(35),
                                                              "CITY": "Tacoma".ljust(20)}


def test_order_and_invoice_rows_carry_the_reference_and_numbered_lines():
    lines = (OrderLine("PAYMENT", Decimal("2"), Decimal("5.25")), OrderLine("WIDGET-1", Decimal("1"), Decimal("1.00")))
    order = SalesOrder("PT7-SO", ADA.customer_id, DAY, lines)
    header, rows = m.order_rows(T, order, "1001", "AB12CD", "REF", {"PAYMENT": "Card"}, NOW, "PSYN")
    assert header["SONO"] == "      1001" and header["REF"].strip() == "PT7-SO" and header["PONUM"] == " " * 20
    assert header["ORDAMT"] == Decimal("11.50")
    # sotran numbers its lines in `lineno` (public inserts name it so), right-justified like a key
    assert [(r["LINENO"], r["EXTPRICE"], r["DESCRIP"].strip()) for r in rows] == \
        [("   1", Decimal("10.50"), "Card"), ("   2", Decimal("1.00"), "")]
    assert header["ORDATE"] == DAY  # a date column by default
    invoice = SalesOrder("PT7-INV", ADA.customer_id, DAY, lines, order_ref="1001")
    header, rows = m.invoice_rows(T, invoice, "5001", "AB12CD", "1001", {}, NOW, "PSYN")
    assert (header["INVNO"], header["ORNUM"], header["PONUM"].strip()) == ("    5001", "      1001", "PT7-INV")
    assert header["INVAMT"] == header["BALANCE"] == Decimal("11.50") and header["PAIDAMT"] == 0
    assert rows[0]["QTYSHP"] == 2 and rows[0]["PONUM"].strip() == "PT7-INV"


def test_a_receipt_lowers_the_invoice_and_customer_balances():
    invoice = {"PAIDAMT": Decimal("0.0000"), "BALANCE": Decimal("12.3400")}
    customer = {"BALANCE": Decimal("262.34")}
    p = Payment("PT7-RCP", ADA.customer_id, DAY, Decimal("12.34"), "5001", "1200-00", "CC")
    on_invoice, on_customer = m.applied(invoice, customer, p)
    assert on_invoice == {"PAIDAMT": Decimal("12.34"), "BALANCE": Decimal("0.00"), "DTEPAID": DAY}
    assert on_customer == {"BALANCE": Decimal("250.00"), "LPYMT": Decimal("12.34"), "LASTPAY": DAY}
    row = m.cash_row(T["arcash"], p, "7", "AB12CD", "    5001", NOW, "PSYN")
    assert (row["CASHNO"], row["INVNO"], row["REFNO"].strip(), row["PAYCODE"].strip()) == \
        ("       7", "    5001", "PT7-RCP", "CC")


def test_journal_lines_split_into_debit_and_credit_and_read_back_as_one_entry():
    entry = JournalEntry("PT7-JE", DAY, "PayTrace 7", (JournalLine("1205-00", Decimal("12.34")),
                                                       JournalLine("1200-00", Decimal("-12.34"), "cash")))
    rows = m.gl_rows(T["gltran"], entry, "3", NOW, "PSYN")
    assert [(r["DEBIT"], r["CREDIT"]) for r in rows] == [(Decimal("12.34"), 0), (0, Decimal("12.34"))]
    assert rows[0]["DESCRIP"].strip() == "PayTrace 7" and rows[1]["DESCRIP"].strip() == "cash"
    [doc] = m.journal_documents(rows)
    assert (doc.key, doc.reference, doc.amount) == ("3", "PT7-JE", Decimal("12.34"))


def test_documents_come_back_without_padding_and_with_our_customer_id():
    row = m.full_row(T["armast"], {"INVNO": "5001", "CUSTNO": "AB12CD", "PONUM": "PT7-INV", "INVAMT": "12.3400",
                                   "BALANCE": "2.0000"})
    doc = m.document("invoice", row, "PONUM", ADA.customer_id.ljust(20))
    assert (doc.key, doc.reference, doc.amount, doc.amount_due, doc.customer_id) == \
        ("5001", "PT7-INV", Decimal("12.34"), Decimal("2.00"), ADA.customer_id)
    assert m.document("invoice", row, "PONUM", "   ").customer_id == "AB12CD"  # not ours: bare CUSTNO


# -- config --------------------------------------------------------------------------------------
def test_config_renames_columns_but_code_keeps_the_reference_names():
    tables = build_tables(SageProConfig(database_url="sqlite://", company="02", cash_table="arrcpt",
                                        columns=(("arcash.REFNO", "CHKNO"), ("arcust.CUSTGEN", "USRFLD1"))))
    assert tables["arcash"].name == "arrcpt02" and tables["arcash"].c.REFNO.name == "CHKNO"
    assert tables["arcust"].c.CUSTGEN.name == "USRFLD1" and tables["somast"].name == "somast02"
    with pytest.raises(ConfigurationError, match="arcash.NOPE"):
        build_tables(SageProConfig(database_url="sqlite://", columns=(("arcash.NOPE", "X"),)))


@pytest.mark.parametrize("bad", [{"company": "1"}, {"gl_table": "gl tran"}, {"order_reference": "SONO"},
                                 {"user": "TOOLONG"}])
def test_a_bad_config_is_a_configuration_error(bad):
    with pytest.raises(ConfigurationError):
        SageProConfig(database_url="sqlite://", **bad)


def test_config_from_settings_keeps_the_url_out_of_repr():
    settings = load_settings({"PAYSYNC_ENV": "test", "SAGEPRO_DATABASE_URL": "postgresql://u:hunter2@db/pro", "SAGEPRO_COMPANY": "03",
                              "SAGEPRO_COLUMNS": "arcash.REFNO=CHKNO"})
    config = settings.sage_pro
    assert config.company == "03" and config.columns == (("arcash.REFNO", "CHKNO"),)
    assert "hunter2" not in repr(config) and config.database_url.endswith("/pro")


# -- error policy --------------------------------------------------------------------------------
class _PgError(Exception):
    def __init__(self, message: str, pgcode: str) -> None:
        super().__init__(message)
        self.pgcode = pgcode


@pytest.mark.parametrize("exc, expected", [
    (OperationalError("SELECT", {}, _PgError("canceling statement due to lock timeout", "55P03")), RetriableError),
    (OperationalError("SELECT", {}, _PgError("deadlock detected", "40P01")), RetriableError),
    (OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")), RetriableError),
    (OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: arcust01")), ConfigurationError),
    (ProgrammingError("SELECT", {}, _PgError('relation "arcust09" does not exist', "42P01")), ConfigurationError),
    (IntegrityError("INSERT", {}, _PgError("duplicate key value", "23505")), PermanentError),
    (DataError("INSERT", {}, _PgError("value too long for type character(6)", "22001")), PermanentError),
])
def test_database_errors_become_errors_by_what_the_caller_does(exc, expected):
    error = SageProClient(CONFIG).error(exc, "invoice")
    assert type(error) is expected and error.system == "sage_pro" and error.operation == "invoice"
    assert not (expected is PermanentError and isinstance(error, RetriableError))


def test_a_row_with_lckstat_set_is_retriable_and_names_who_holds_it():
    row = {"LCKSTAT": "L", "LCKUSER": "JANE", "LCKDATE": DAY, "LCKTIME": "09:00:00"}
    with pytest.raises(RetriableError, match="JANE"):
        SageProClient(CONFIG).check_unlocked("arcust", row, "invoice")
    SageProClient(CONFIG).check_unlocked("arcust", {**row, "LCKSTAT": " "}, "invoice")


def test_a_site_keeping_ordate_as_character_gets_mm_dd_yyyy_and_a_bad_column_spec_is_refused():
    # Given SAGEPRO_COLUMNS "somast.ORDATE=ORDATE C(10)" (one public install keeps ORDATE as character)
    cfg = SageProConfig(database_url="sqlite://", columns=(("somast.ORDATE", "ORDATE C(10)"),))
    tables = build_tables(cfg)
    order = SalesOrder("PT7-SO", ADA.customer_id, date(2026, 3, 4), (OrderLine("PAYMENT", Decimal("1"), Decimal("1")),))
    header, _ = m.order_rows(tables, order, "1001", "AB12CD", "REF", {}, NOW, "PSYN")
    # Then the order date is written 'MM/DD/YYYY', the order's own SODATE still a date
    assert header["ORDATE"] == "03/04/2026" and header["SODATE"] == date(2026, 3, 4)
    assert column_spec("CHKNO") == ("CHKNO", None, None) and column_spec("ORDATE D") == ("ORDATE", "D", None)
    with pytest.raises(ConfigurationError, match="somast.ORDATE"):
        SageProConfig(database_url="sqlite://", columns=(("somast.ORDATE", "ORDATE DATETIME"),))
