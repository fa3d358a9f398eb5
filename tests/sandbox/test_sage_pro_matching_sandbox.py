"""The Sage Pro sandbox's matching model: the [I] due-date, PO and last-change columns, a user's edit of a
customer, and the rules for cash held on account."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, inspect

from sandbox import sage_pro
from sandbox.sage_pro import EMPTY_DATE, blank_row


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sagepro.sqlite3'}"
    return request.getfixturevalue("pg_url")


def test_an_older_company_gets_the_matching_columns_blank_on_install(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:  # a company installed before DUEDATE, REF and CHG*
            conn.exec_driver_sql("CREATE TABLE arcust01 (CUSTNO CHAR(6) NOT NULL PRIMARY KEY)")
            conn.exec_driver_sql("CREATE TABLE armast01 (INVNO CHAR(8) NOT NULL PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO arcust01 VALUES ('  1001')")
            conn.exec_driver_sql("INSERT INTO armast01 VALUES ('    7000')")
        sage_pro.install(url, "01", seed=False)
        columns = {t: {c["name"]: c for c in inspect(engine).get_columns(f"{t}01")} for t in ("arcust", "armast")}
    finally:
        engine.dispose()
    assert {"CHGUSER", "CHGDATE", "CHGTIME"} <= set(columns["arcust"]) and {"DUEDATE", "REF"} <= set(columns["armast"])
    assert not any(c["nullable"] for t in columns.values() for c in t.values())
    state = sage_pro.state(url)
    assert (state["armast"][0]["DUEDATE"], state["armast"][0]["REF"]) == (EMPTY_DATE, " " * 20)
    assert (state["arcust"][0]["CHGDATE"], state["arcust"][0]["CHGTIME"]) == (EMPTY_DATE, " " * 8)


def test_the_seed_invoice_falls_due_on_its_customers_net_30(url):
    sage_pro.install(url)
    state = sage_pro.state(url)
    [invoice] = state["armast"]
    assert invoice["DUEDATE"] == invoice["INVDTE"] + timedelta(days=30) == date(2026, 2, 4)
    assert all(c["CHGDATE"] == EMPTY_DATE for c in state["arcust"])  # never changed since they were added


def test_a_users_edit_of_a_customer_pads_the_fields_and_stamps_the_last_change(url):
    sage_pro.install(url)
    at = datetime(2026, 11, 20, 14, 5, 9)
    sage_pro.edit_customer(url, "01", "1002", CITY="Cheney", EMAIL="ap@inland.example", user="JANE", at=at)
    [row] = [r for r in sage_pro.state(url)["arcust"] if r["CUSTNO"] == "  1002"]
    assert (row["CITY"], row["EMAIL"]) == ("Cheney".ljust(20), "ap@inland.example")
    assert (row["CHGUSER"], row["CHGDATE"], row["CHGTIME"]) == ("JANE", at.date(), "14:05:09")
    with pytest.raises(KeyError):
        sage_pro.edit_customer(url, "01", "9999", CITY="Nowhere")
    with pytest.raises(KeyError):
        sage_pro.edit_customer(url, "01", "1002", NOSUCH="x")


def _on_account(**cust) -> dict:
    """Customer 1 with invoice 5000 (100, open) and 40 received on account (arcash with a blank INVNO)."""
    return {
        "arcust": [blank_row("arcust", CUSTNO="1", **{"BALANCE": Decimal("60"), **cust})],
        "armast": [blank_row("armast", INVNO="5000", CUSTNO="1", INVAMT=Decimal("100"), BALANCE=Decimal("100"))],
        "arcash": [blank_row("arcash", CASHNO="1", CUSTNO="1", PAIDAMT=Decimal("40"))],
    }


def test_cash_on_account_keeps_the_rules_and_lowers_the_customers_balance():
    assert sage_pro.violations(_on_account()) == []
    assert sage_pro.violations(_on_account(BALANCE=Decimal("100"))) == [
        "arcust 1: BALANCE 100 is not its open AR 60"]  # the unapplied cash forgotten on the customer


def test_a_reversed_receipt_on_account_gives_the_balance_back():
    state = _on_account(BALANCE=Decimal("100"))
    state["arcash"].append(blank_row("arcash", CASHNO="2", CUSTNO="1", PAIDAMT=Decimal("-40"), TRANTYPE="V",
                                     REVCASH="1"))
    assert sage_pro.violations(state) == []


def test_a_receipt_on_account_must_bring_money_in():
    state = _on_account(BALANCE=Decimal("100"))
    state["arcash"][0]["PAIDAMT"] = Decimal("0")
    assert sage_pro.violations(state) == ["receipt 1: must pay (PAIDAMT > 0) an invoice or the account, got 0 on ''"]
