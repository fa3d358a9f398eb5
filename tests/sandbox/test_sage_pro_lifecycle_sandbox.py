"""The Sage Pro sandbox's lifecycle model: the [I] columns, upgrading an older company, and the rules it checks."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, inspect

from sandbox import sage_pro
from sandbox.sage_pro import blank_row
from sandbox.sage_pro.schema import FIELDS

DAY = date(2026, 11, 20)


def test_the_lifecycle_columns_exist_blank_and_an_older_company_gets_them_on_install(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:  # a company installed before the lifecycle columns
            conn.exec_driver_sql("CREATE TABLE armast01 (INVNO CHAR(8) NOT NULL PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO armast01 VALUES ('    7000')")
        sage_pro.install(url, "01", seed=False)
        columns = {c["name"] for c in inspect(engine).get_columns("armast01")}
    finally:
        engine.dispose()
    assert {"ARTYPE", "APPLYTO", "USTATUS", "BALANCE"} <= columns
    [row] = sage_pro.state(url)["armast"]
    assert row["USTATUS"] == " " * 20 and row["APPLYTO"] == " " * 8
    assert ("TRANTYPE", "C", 1) in FIELDS["arcash"] and ("USTATUS", "C", 20) in FIELDS["somast"]


def test_the_seed_keeps_every_rule(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    sage_pro.install(url)
    assert sage_pro.check(url) == []


def _company(**extra) -> dict:
    """Customer 1 with invoice 5000 (100, paid), its receipt, a 30 credit memo 5001 half refunded."""
    state = {
        "arcust": [blank_row("arcust", CUSTNO="1", BALANCE=Decimal("-15"))],
        "armast": [blank_row("armast", INVNO="5000", CUSTNO="1", INVAMT=Decimal("100"), PAIDAMT=Decimal("100")),
                   blank_row("armast", INVNO="5001", CUSTNO="1", ARTYPE="C", APPLYTO="5000", INVAMT=Decimal("-30"),
                             PAIDAMT=Decimal("-15"), BALANCE=Decimal("-15"))],
        "artran": [blank_row("artran", INVNO="5000", TRANLINE="1", EXTPRICE=Decimal("100")),
                   blank_row("artran", INVNO="5001", TRANLINE="1", ARTYPE="C", EXTPRICE=Decimal("-30"))],
        "arcash": [blank_row("arcash", CASHNO="1", CUSTNO="1", INVNO="5000", PAIDAMT=Decimal("100")),
                   blank_row("arcash", CASHNO="2", CUSTNO="1", INVNO="5001", PAIDAMT=Decimal("-15"), TRANTYPE="R")],
    }
    for base, rows in extra.items():
        state[base] = state.get(base, []) + rows
    return state


def test_a_consistent_company_breaks_no_rule():
    assert sage_pro.violations(_company()) == []


@pytest.mark.parametrize("change, expected", [
    # a second credit memo beyond what the invoice has left to credit
    ({"armast": [blank_row("armast", INVNO="5002", CUSTNO="1", ARTYPE="C", APPLYTO="5000", INVAMT=Decimal("-70.01"),
                           BALANCE=Decimal("-70.01"))],
      "arcust": []}, "credit memos credit 100.01"),
    # a refund beyond the credit memo's remaining credit
    ({"arcash": [blank_row("arcash", CASHNO="3", CUSTNO="1", INVNO="5001", PAIDAMT=Decimal("-16"), TRANTYPE="R")]},
     "PAIDAMT -15 is not its arcash rows' -31"),
    # a reversal that does not negate its receipt
    ({"arcash": [blank_row("arcash", CASHNO="3", CUSTNO="1", INVNO="5000", PAIDAMT=Decimal("-99"), TRANTYPE="V",
                           REVCASH="1")]}, "must negate receipt 1"),
    # a refund paid against an invoice, not a credit memo
    ({"arcash": [blank_row("arcash", CASHNO="3", CUSTNO="1", INVNO="5000", PAIDAMT=Decimal("-1"), TRANTYPE="R")]},
     "refund 3: must pay out"),
])
def test_a_broken_rule_is_reported(change, expected):
    found = sage_pro.violations(_company(**change))
    assert any(expected in v for v in found), found


def test_a_receipt_reversed_twice_and_a_customer_balance_that_does_not_add_up_are_reported():
    twice = [blank_row("arcash", CASHNO=n, CUSTNO="1", INVNO="5000", PAIDAMT=Decimal("-100"), TRANTYPE="V",
                       REVCASH="1") for n in ("3", "4")]
    found = sage_pro.violations(_company(arcash=twice))
    assert any("reversed 2 times" in v for v in found), found
    assert any("PAIDAMT 100 is not its arcash rows' -100" in v for v in found), found
    state = _company()
    state["arcust"][0]["BALANCE"] = Decimal("0")  # the credit memo's open credit forgotten on the customer
    assert sage_pro.violations(state) == ["arcust 1: BALANCE 0 is not its open AR -15"]
