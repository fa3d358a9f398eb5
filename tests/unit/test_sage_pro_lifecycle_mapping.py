"""Sage Pro lifecycle mapping: credit memo, refund and reversal rows, credit room, status field, config codes."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from connectors.errors import ConfigurationError, ValidationError
from connectors.sage_pro import SageProConfig
from connectors.sage_pro import mapping as m
from connectors.sage_pro.client import build_tables
from schemas.domain import CreditMemo, OrderLine, Refund, Reversal

CONFIG = SageProConfig(database_url="sqlite:///:memory:")
T = build_tables(CONFIG)
NOW = datetime(2026, 11, 20, 9, 30, 5)
DAY = date(2026, 11, 20)


def test_a_credit_memo_is_a_negative_armast_document_of_its_own_type_pointing_at_its_invoice():
    memo = CreditMemo("M-1", "PTC-1", DAY, "5000", (OrderLine("PAYMENT", Decimal("2"), Decimal("12.50")),
                                                    OrderLine("SERVICE", Decimal("1"), Decimal("5.00"), "fee")))
    header, lines = m.credit_memo_rows(T, memo, "5001", "ABC123", "    5000", "C", {"PAYMENT": "Card"}, NOW, "PSYN")
    assert (header["INVNO"], header["ARTYPE"], header["APPLYTO"], header["PONUM"].strip()) == \
        ("    5001", "C", "    5000", "M-1")
    assert (header["INVAMT"], header["BALANCE"], header["PAIDAMT"]) == (Decimal("-30.00"), Decimal("-30.00"), 0)
    assert [(l["TRANLINE"], l["ARTYPE"], l["QTYSHP"], l["PRICE"], l["EXTPRICE"], l["DESCRIP"].strip()) for l in lines] == \
        [("   1", "C", Decimal("-2"), Decimal("12.50"), Decimal("-25.00"), "Card"),
         ("   2", "C", Decimal("-1"), Decimal("5.00"), Decimal("-5.00"), "fee")]
    doc = m.document("credit_memo", {**header, "CUSTNO": "ABC123"}, "PONUM", "PTC-1")
    assert (doc.key, doc.amount, doc.amount_due, doc.customer_id) == ("5001", Decimal("30.00"), Decimal("30.00"), "PTC-1")


def test_credit_room_is_the_invoice_less_its_earlier_memos():
    invoice = {"INVAMT": Decimal("50.0000")}
    assert m.credit_room(invoice, []) == Decimal("50.00")
    assert m.credit_room(invoice, [{"INVAMT": Decimal("-40")}, {"INVAMT": Decimal("-9.99")}]) == Decimal("0.01")


def test_refund_and_reversal_rows_are_negative_arcash_rows_of_their_type():
    refund = m.refund_row(T["arcash"], Refund("F-1", "PTC-1", DAY, Decimal("30"), "5001", "1200-00", "CC"), "7",
                          "ABC123", "    5001", "R", NOW, "PSYN")
    assert (refund["CASHNO"], refund["INVNO"], refund["PAIDAMT"], refund["TRANTYPE"], refund["CASHACCT"].strip()) == \
        ("       7", "    5001", Decimal("-30.00"), "R", "1200-00")
    receipt = {"CASHNO": "       3", "CUSTNO": "ABC123", "INVNO": "    5000", "PAIDAMT": Decimal("75.0000"),
               "PAYCODE": "CC".ljust(10), "CASHACCT": "1200-00".ljust(24)}
    rev = m.reversal_row(T["arcash"], Reversal("V-1", "PTC-1", DAY, Decimal("75"), "3"), "8", receipt, "V", NOW, "PSYN")
    assert (rev["REVCASH"], rev["INVNO"], rev["PAIDAMT"], rev["TRANTYPE"], rev["REFNO"].strip()) == \
        ("       3", "    5000", Decimal("-75.00"), "V", "V-1")
    assert m.document("reversal", rev, "REFNO", "PTC-1").amount == Decimal("75.00")
    # applied like any arcash row: a refund raises the memo's negative balance, a reversal reopens the invoice
    on_memo, on_cust = m.settled({"PAIDAMT": Decimal("0"), "BALANCE": Decimal("-30")}, {"BALANCE": Decimal("-30")},
                                 refund["PAIDAMT"])
    assert (on_memo, on_cust) == ({"PAIDAMT": Decimal("-30.00"), "BALANCE": Decimal("0.00")}, {"BALANCE": Decimal("0.00")})
    on_inv, on_cust = m.settled({"PAIDAMT": Decimal("75"), "BALANCE": Decimal("0")}, {"BALANCE": Decimal("0")},
                                rev["PAIDAMT"])
    assert (on_inv["BALANCE"], on_inv["PAIDAMT"], on_cust["BALANCE"]) == (Decimal("75.00"), Decimal("0.00"),
                                                                          Decimal("75.00"))


def test_a_zero_amount_reads_back_as_zero_not_minus_zero():
    row = {"INVNO": "1", "PONUM": "M", "INVAMT": Decimal("0"), "BALANCE": Decimal("0"), "CUSTNO": ""}
    assert str(m.document("credit_memo", row, "PONUM", None).amount_due) == "0.00"


def test_a_status_fits_the_twenty_character_user_field_or_is_refused_by_name():
    column = T["armast"].c.USTATUS
    assert m.status_value(column, "Payment Failed") == "Payment Failed".ljust(20)
    assert m.status_value(column, "") == " " * 20
    with pytest.raises(ValidationError) as caught:
        m.status_value(column, "A status far too long!")
    assert caught.value.field == "status"


def test_lifecycle_columns_and_codes_are_configurable():
    config = SageProConfig(database_url="sqlite://", credit_memo_type="M", refund_type="X", reversal_type="Y",
                           columns=(("armast.USTATUS", "USRFLD1"), ("arcash.TRANTYPE", "CASHTYPE"),
                                    ("armast.APPLYTO", "APPLINV")))
    tables = build_tables(config)
    assert tables["armast"].c.USTATUS.name == "USRFLD1" and tables["arcash"].c.TRANTYPE.name == "CASHTYPE"
    assert tables["armast"].c.APPLYTO.name == "APPLINV"
    for bad in ({"refund_type": "V", "reversal_type": "V"}, {"credit_memo_type": "CM"}, {"refund_type": " "}):
        with pytest.raises(ConfigurationError):
            SageProConfig(database_url="sqlite://", **bad)
