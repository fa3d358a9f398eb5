"""Lookups that run per payment read what they find, not every row ever written (PostgreSQL).

A year at 5,000 sales a day puts millions of rows in sync_run, step_ledger, inbox and review_item;
an audit found lookups that scanned them whole (migration 0012, docs/scaling.md "Lookups"). Each
test seeds 20,000 rows, lets the planner know (ANALYZE), runs the code as a worker or the console
runs it, replays its SELECTs in one transaction, and counts the rows PostgreSQL read from the big
table there (pg_stat_get_xact_tuples_returned + _fetched): a handful, where a scan reads them all.
"""
from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from db.migrate import upgrade
from db.session import get_engine, session_scope

N = 20_000
SEED = (
    # sync_run: sales 1..N, matched to an invoice of their own; the last two pending on invoice INVKEY7
    "INSERT INTO sync_run (id, pair, gateway, transaction_id, erp, kind, status, created_at, updated_at, amount, "
    "match_outcome, match_invoice_key, match_applied) SELECT g, 'default', 'paytrace', 100000000 + g, 'sage50', "
    "'sale', CASE WHEN g > :n - 2 THEN 'pending' ELSE 'succeeded' END, now(), now(), 12.34, 'matched', "
    "CASE WHEN g > :n - 2 THEN 'INVKEY7' ELSE 'INVKEY' || g END, 12.34 FROM generate_series(1, :n) g",
    "SELECT setval('sync_run_id_seq', :n)",
    # a receipt written for every finished sale
    "INSERT INTO step_ledger (run_id, step, stage, idempotency_key, status, attempts, started_at) "
    "SELECT g, 'payment', 'payment', (100000000 + g) || '-payment', 'done', 1, now() "
    "FROM generate_series(1, :n - 2) g",
    # an inbox event per run
    "INSERT INTO inbox (pair, source, event_id, event_type, transaction_id, payload, status, run_id, attempts, "
    "received_at) SELECT 'default', 'poller', (100000000 + g) || '-SALE', 'export.sale', 100000000 + g, '{}', "
    "'done', g, 1, now() FROM generate_series(1, :n) g",
    # a review item per run
    "INSERT INTO review_item (kind, reference, reason, group_key, context, status, created_at, last_seen_at) "
    "SELECT 'declined', 'PT' || (100000000 + g), 'declined', 'declined', '{}', 'open', now(), now() "
    "FROM generate_series(1, :n) g",
)


@pytest.fixture
def year_url(pg_url):
    upgrade(pg_url)
    with get_engine(pg_url).begin() as conn:
        for statement in SEED:
            conn.execute(text(statement), {"n": N})
        for table in ("sync_run", "step_ledger", "inbox", "review_item"):
            conn.execute(text(f"ANALYZE {table}"))
    return pg_url


@contextmanager
def selects(url: str):
    """The SELECTs the code sends through the project's engine, with their parameters."""
    engine, seen = get_engine(url), []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def read_so_far(cursor, table: str) -> int:
    """Rows of `table` read so far in this transaction, and entries of its indexes (a scan of a whole
    index that filters its entries fetches few rows, but reads every entry)."""
    cursor.execute("SELECT pg_stat_get_xact_tuples_returned(%s::regclass) + "
                   "pg_stat_get_xact_tuples_fetched(%s::regclass) + "
                   "(SELECT COALESCE(SUM(pg_stat_get_xact_tuples_returned(indexrelid)), 0) FROM pg_index "
                   "WHERE indrelid = %s::regclass)", (table, table, table))
    return cursor.fetchone()[0]


def rows_read(url: str, table: str, statements: list) -> int:
    """What the statements read from `table`, replayed in one transaction (rolled back).

    Counted from the start of that transaction: PostgreSQL 15's per-transaction counters also hold
    what earlier transactions of the same connection read and the backend has not reported yet.
    """
    assert statements, "the code sent no SELECT"
    raw = get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        before = read_so_far(cursor, table)
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
        return read_so_far(cursor, table) - before
    finally:
        raw.rollback()
        raw.close()


def test_what_other_runs_will_apply_to_an_invoice_reads_their_receipts_not_every_receipt(year_url):
    from flows.runs import other_runs_pending_on

    with selects(year_url) as seen, session_scope(year_url) as s:
        pending = other_runs_pending_on(s, "INVKEY7", N - 1, "sage50", "default")
    assert pending == Decimal("12.34")  # the other pending run's, once
    assert rows_read(year_url, "step_ledger", seen) <= 10


def test_a_runs_inbox_events_are_found_by_run(year_url):
    from flows.hints import drop_unconfirmed

    with selects(year_url) as seen:
        assert drop_unconfirmed(year_url, 1234) is False  # a poller row, not a silent post only
    assert rows_read(year_url, "inbox", seen) <= 10


def test_filing_a_decline_looks_its_key_up_not_every_review_item(year_url):
    from flows.review import Finding, file_in

    with selects(year_url) as seen, session_scope(year_url) as s:
        added, refreshed = file_in(s, "declined", [Finding("declined", "PT100000042", "declined again", {})])
        s.rollback()
    assert (added, refreshed) == (0, 1)
    assert rows_read(year_url, "review_item", seen) <= 10


STORE = (
    # 20,000 orders posted in the ERP: reserved, or (a quarter) with nothing stocked to reserve; two
    # posted as one line of their payment (totals differ), so never reserved; the last three not
    # posted yet, one of them cancelled
    "INSERT INTO store_order (pair, store, store_order_id, order_number, name, status, financial_status, currency, "
    "subtotal, total_discounts, total_tax, total_shipping, total_price, email, customer_name, phone, bill_line1, "
    "bill_line2, bill_city, bill_state, bill_postal_code, bill_country, ship_name, ship_line1, ship_city, ship_state, "
    "ship_postal_code, ship_country, placed_at, store_updated_at, received_at, deadline_at, sales_order_key, "
    "allocation, cancelled_at, reviewed) SELECT 'default', 'shopify', 'gid' || g, (1000 + g)::text, '#' || g, "
    "CASE WHEN g > :n - 3 THEN 'waiting' ELSE 'joined' END, 'paid', 'USD', 10, 0, 0, 0, 10, '', '', '', '', '', "
    "'', '', '', '', '', '', '', '', '', '', now(), now(), now(), now(), CASE WHEN g > :n - 3 THEN NULL ELSE "
    "'SO' || g END, CASE WHEN g > :n - 3 OR g IN (7, 8) THEN 'none' WHEN g % 4 = 0 THEN 'nothing' "
    "ELSE 'allocated' END, "
    "CASE WHEN g = :n THEN now() END, false FROM generate_series(1, :n) g",
    "INSERT INTO store_order_line (order_id, position, sku, title, quantity, unit_price, discount, tax) "
    "SELECT o.id, 1, 'SKU-' || (o.id % 50), '', 2, 5, 0, 0 FROM store_order o",
    "INSERT INTO store_sku (pair, sku) SELECT DISTINCT 'default', sku FROM store_order_line",
)


def test_the_stock_tick_reads_the_catalogue_and_the_unreserved_orders_not_every_order(year_url):
    from flows.stock import _held_by_store, known_skus
    from schemas.store_mapping import StoreRules

    with get_engine(year_url).begin() as conn:
        for statement in STORE:
            conn.execute(text(statement), {"n": N})
        conn.execute(text("ANALYZE store_order"))
        conn.execute(text("ANALYZE store_order_line"))
    with selects(year_url) as seen:
        held = _held_by_store(year_url, "default")
    # the live unreserved orders hold their lines (two unposted, two posted as one line); the reserved,
    # the ones with nothing stocked and the cancelled one do not
    assert held == {f"SKU-{i % 50}": Decimal("2") for i in (7, 8, N - 2, N - 1)}
    assert rows_read(year_url, "store_order", seen) <= 10
    with selects(year_url) as seen:
        skus = known_skus(year_url, "default", StoreRules("TAX", "SHIPPING", skus={"MAPPED-1": "ITEM-1"}))
    assert skus == sorted([f"SKU-{i}" for i in range(50)] + ["MAPPED-1"])
    assert rows_read(year_url, "store_order_line", seen) == 0


@pytest.mark.parametrize("query, found", [
    ("100000123", [123]),  # a PayTrace id
    ("PT100000123-RCP", [123]),  # one of our references
    ("$20,000.00", [555]),  # an amount
])
def test_the_consoles_search_by_id_reference_or_amount_reads_an_index_not_every_run(year_url, query, found):
    from console.story import search

    with get_engine(year_url).begin() as conn:
        conn.execute(text("UPDATE sync_run SET amount = 20000.00 WHERE id = 555"))
    with selects(year_url) as seen:
        runs = search(year_url, query)
    assert [r.transaction_id - 100000000 for r in runs] == found
    assert rows_read(year_url, "sync_run", seen) <= 20


@pytest.mark.parametrize("query, found", [
    ("Nobody Here", []),  # a name that matches nothing: every run, before
    ("INV-123", [123]),  # an invoice id in the stored record
    ("cust-77", [77]),  # a customer id, any case
    ("ada lovelace", [4321]),  # part of the payer's name, any case
])
def test_the_consoles_free_text_search_reads_indexes_not_every_run(year_url, query, found):
    from console.story import search

    # Given a year of runs whose stored export records carry an invoice id, a customer id and a name
    with get_engine(year_url).begin() as conn:
        conn.execute(text(
            "UPDATE sync_run SET transaction = jsonb_build_object('invoice_id', 'INV-' || id, "
            "'customer_id', 'CUST-' || id, 'billing_address', jsonb_build_object('name', 'Payer ' || md5(id::text)))"))
        conn.execute(text("UPDATE sync_run SET transaction = jsonb_set(transaction, '{billing_address,name}', "
                          "'\"Dr. Ada Lovelace\"') WHERE id = 4321"))
        conn.execute(text("ANALYZE sync_run"))
    # When a person searches the console by free text
    with selects(year_url) as seen:
        runs = search(year_url, query)
    # Then the runs found are the ones, and a handful of rows and index entries were read, not 20,000
    assert [r.transaction_id - 100000000 for r in runs] == found
    assert rows_read(year_url, "sync_run", seen) <= 50
