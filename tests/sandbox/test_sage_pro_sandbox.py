"""The Sage Pro sandbox on a SQLite file and on a scratch PostgreSQL database: tables, padding, no NULLs, locks."""
from __future__ import annotations

import ast
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError

from sandbox import sage_pro
from sandbox.sage_pro import EMPTY_DATE, FIELDS

BASES = ("arcust", "somast", "sotran", "armast", "artran", "icitem", "arcash", "gltran")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sagepro.sqlite3'}"
    return request.getfixturevalue("pg_url")


def test_install_creates_every_table_with_the_company_suffix_once(url):
    sage_pro.install(url, "01")
    sage_pro.install(url, "01")  # a second install keeps the seed once
    sage_pro.install(url, "02", seed=False)
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {f"{b}01" for b in BASES} | {f"{b}02" for b in BASES} <= names
    state = sage_pro.state(url, "01")
    assert [r["CUSTNO"] for r in state["arcust"]] == ["  1001", "  1002", "  1003"]
    assert {r["ITEM"].strip() for r in state["icitem"]} >= {"PAYMENT", "WIDGET-1"}
    assert all(rows == [] for rows in sage_pro.state(url, "02").values())


def test_document_numbers_are_right_justified_and_text_is_padded_to_width(url):
    sage_pro.install(url)
    state = sage_pro.state(url)
    assert state["somast"][0]["SONO"] == "      1000" and state["armast"][0]["INVNO"] == "    5000"
    assert state["armast"][0]["ORNUM"] == "      1000" and state["sotran"][0]["LINENO"] == "   1"
    assert state["arcust"][0]["COMPANY"] == "Cascade Outfitters".ljust(35)
    icitem = state["icitem"][0]
    assert len(icitem["ITEM"]) == 20 and icitem["ITEM"] == icitem["ITEM"].strip().ljust(20)


def test_no_column_allows_null_and_a_bare_row_takes_blank_zero_and_empty_date(url):
    sage_pro.install(url, seed=False)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        for base in BASES:
            assert not any(c["nullable"] for c in inspect(engine).get_columns(f"{base}01")), base
        tables = sage_pro.metadata_for("01").tables
        with engine.begin() as conn:
            conn.execute(insert(tables["arcust01"]).values(CUSTNO="  9001"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(tables["icitem01"]).values(ITEM="X", ITMDESC=None))
    finally:
        engine.dispose()
    [row] = sage_pro.state(url)["arcust"]
    assert None not in row.values()
    assert row["COMPANY"].strip() == "" and row["BALANCE"] == 0 and row["LASTPAY"] == EMPTY_DATE == date(1900, 1, 1)


def test_lock_and_unlock_set_and_clear_the_four_lock_columns(url):
    sage_pro.install(url)
    sage_pro.lock(url, "01", "arcust", "1002", user="JANE")
    row = sage_pro.state(url)["arcust"][1]
    assert (row["LCKSTAT"], row["LCKUSER"], row["LCKDATE"]) == ("L", "JANE", date.today())
    assert len(row["LCKTIME"]) == 8 and row["LCKTIME"][2] == ":"
    sage_pro.unlock(url, "01", "arcust", "  1002")  # padded or not, the same row
    row = sage_pro.state(url)["arcust"][1]
    assert (row["LCKSTAT"].strip(), row["LCKUSER"].strip(), row["LCKDATE"]) == ("", "", EMPTY_DATE)
    with pytest.raises(KeyError):
        sage_pro.lock(url, "01", "armast", "424242")


def test_add_item_adds_a_padded_inventory_row(url):
    sage_pro.install(url)
    sage_pro.add_item(url, "01", "GADGET-9", "Gadget", on_hand=7, price=3)
    row = [r for r in sage_pro.state(url)["icitem"] if r["ITEM"].strip() == "GADGET-9"][0]
    assert row["ITEM"] == "GADGET-9".ljust(20) and row["IONHAND"] == 7 and row["PRICE"] == 3


def _read_with_short_wait(url: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], timeout=0.2)
        try:
            conn.execute("SELECT COUNT(*) FROM somast01").fetchone()
        finally:
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = 200"))
            conn.execute(text("SELECT COUNT(*) FROM somast01"))
    finally:
        engine.dispose()


def test_exclusive_use_makes_even_readers_wait_until_it_ends(url):
    sage_pro.install(url)
    with sage_pro.exclusive_use(url, "01", ["somast"]) as held:
        assert held.active
        with pytest.raises((sqlite3.OperationalError, OperationalError), match="locked|lock timeout"):
            _read_with_short_wait(url)
    assert not held.active
    _read_with_short_wait(url)


def test_the_sandbox_imports_nothing_from_paysync():
    forbidden = ("connectors", "schemas", "flows", "workers", "config", "db")
    folder = Path(__file__).resolve().parents[2] / "sandbox" / "sage_pro"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not [n for n in names if n.split(".")[0] in forbidden], path.name


def test_every_field_list_has_its_key_first():
    for base, fields in FIELDS.items():
        assert fields[0][0] == sage_pro.KEYS[base][0], base
