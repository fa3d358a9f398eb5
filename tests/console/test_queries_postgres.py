"""The console's queries on PostgreSQL (JSONB paths, the day's bounds), where production runs them."""
from __future__ import annotations

from console import queries, story
from db.migrate import upgrade
from tests.console.seed import DAY, seed


def test_search_story_and_day_read_the_same_on_postgresql(pg_url):
    # given the seeded day on PostgreSQL
    upgrade(pg_url)
    ids = seed(pg_url)
    # when a person searches by invoice, customer name, customer id, amount and reference
    for query in ("INV-1002", "grace", "cust-1002", "80.00", "PT1002-RCP"):
        assert [f.transaction_id for f in story.search(pg_url, query)] == [1002], query
    # then the story and the day read as on SQLite
    told = story.story(pg_url, "default", "paytrace", 1001)
    assert [r.run.kind for r in told.runs] == ["sale", "refund"] and told.settlement[0]["batch"] == 77
    [day] = queries.day_summary(pg_url, DAY, "America/Los_Angeles")
    assert (day.counts["in"], day.counts["failed"], str(day.not_in_erp)) == (3, 1, "80.00")
    assert queries.dead_letter(pg_url, ids["letter"])[1].transaction_id == 1002


def test_a_payments_settlement_is_looked_up_per_night_not_read_from_every_item(pg_url):
    """The story's settlement part probes each night's run by the payment's subject: what it reads does
    not grow with the items every night adds (a scan of every item ever, before: 440 ms at 6M)."""
    from sqlalchemy import text

    from db.session import get_engine, session_scope

    upgrade(pg_url)
    with get_engine(pg_url).begin() as conn:
        conn.execute(text(
            "INSERT INTO reconcile_run (id, pair, day, number, run_key, trigger, erp, status, started_at, totals, "
            "counts, changes, exceptions) SELECT r, 'default', DATE '2026-11-01' + r, 1, 'k' || r, 'beat', 'sage50', "
            "'done', now(), '{}', '{}', '{}', 0 FROM generate_series(1, 3) r"))
        conn.execute(text(
            "INSERT INTO reconcile_item (run_id, subject, batch_number, transaction_id, transaction_type, item_class, "
            "is_exception, expected_amount, found_amount, action, detail) SELECT r, 'T' || (r * 100000 + g), r, "
            "r * 100000 + g, 'SALE', 'matched', false, 1.00, 1.00, '', '' "
            "FROM generate_series(1, 3) r, generate_series(1, 10000) g"))
        conn.execute(text("ANALYZE reconcile_item"))
    so_far = text("SELECT pg_stat_get_xact_tuples_returned('reconcile_item'::regclass) + "
                  "pg_stat_get_xact_tuples_fetched('reconcile_item'::regclass)")
    with session_scope(pg_url) as s:
        before = s.execute(so_far).scalar()  # what this connection read before, not yet reported
        found = story._settlement(s, "default", 200_123)
        read = s.execute(so_far).scalar() - before
    assert [(f["run_id"], f["batch"], f["class"]) for f in found] == [(2, 2, "matched")]
    assert read <= 10, f"{read:,} items read to find one payment's among 30,000"
