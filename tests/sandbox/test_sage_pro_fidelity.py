"""Sage Pro as public installs keep it (in-process, SQLite): sotran's `lineno`, ORDATE as date or as character.

One public install writes somast.ORDATE as character 'MM/DD/YYYY'; paysync writes whichever the site has,
told by SAGEPRO_COLUMNS ("somast.ORDATE=ORDATE C(10)"), and judged by the rows in the company's tables.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.sage_pro import SageProConfig, SageProConnector
from sandbox import sage_pro as sandbox
from schemas.domain import Customer, OrderLine, SalesOrder

DAY = date(2026, 3, 4)


@pytest.mark.parametrize("character", [False, True])
def test_an_order_lands_with_its_lines_in_lineno_and_ordate_in_the_sites_type(tmp_path, character):
    # Given a company whose somast.ORDATE is a date, or character 'MM/DD/YYYY'
    url = f"sqlite:///{tmp_path / 'pro.sqlite3'}"
    sandbox.install(url, "01", character_dates=["somast.ORDATE"] if character else [])
    columns = (("somast.ORDATE", "ORDATE C(10)"),) if character else ()
    connector = SageProConnector(SageProConfig(database_url=url, company="01", columns=columns))
    # When paysync writes a customer's sales order of two lines
    custno_id = connector.upsert_customer(Customer("PT-ADA", "Ada Lovelace"))
    order = connector.ensure_sales_order(SalesOrder("PT9-SO", custno_id, DAY, (
        OrderLine("PAYMENT", Decimal("1"), Decimal("10.00")), OrderLine("PAYMENT", Decimal("2"), Decimal("1.50")))))
    # Then the order date is what the site keeps, and the lines are numbered in `lineno`
    state = sandbox.state(url, "01")
    [head] = [r for r in state["somast"] if r["SONO"].strip() == order.key.strip()]
    assert head["ORDATE"] == ("03/04/2026" if character else DAY) and head["SODATE"] == DAY
    lines = [r for r in state["sotran"] if r["SONO"] == head["SONO"]]
    assert [r["LINENO"] for r in lines] == ["   1", "   2"] and "TRANLINE" not in lines[0]
