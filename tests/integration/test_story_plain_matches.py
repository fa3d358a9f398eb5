"""A plainly matched sale's story shows its reconciliation, kept compactly since 0015 (in-process tier).

Given a day reconciled for real (the in-process PayTrace and ERP stand-ins of
tests/integration/test_reconcile_sets.py), whose plain matches are kept as a few reconcile_match
rows per batch rather than a reconcile_item row each, when a person opens a plainly matched sale's
payment page, then its story (console/story.py `story`, what the page renders) shows the run that
matched it: class "matched", the run's day and number, the batch and its journal; after a second
run of the day, both runs, newest first. A payment never settled shows no reconciliation, even when
its id lies between the lowest and highest id of a reconcile_match row, and a run of another pair
holding the same id is not this pair's. On PostgreSQL and SQLite alike.

And on PostgreSQL, given 300 nights of reconcile_match rows (6,000 rows over ascending id ranges),
when a recent payment's reconciliation is looked up, then a handful of rows are read through
ix_reconcile_match_last, not all of them; without that index the same look-up reads every row.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from console import story
from db.migrate import upgrade
from db.models import SyncRun
from db.reconcile_models import ReconcileItem, ReconcileMatch, ReconcileRun, SettlementPosting
from db.session import get_engine, session_scope
from tests.integration.test_reconcile_sets import DAY, Erp, Gateway, build_day, reconcile, seed_ledger

BATCH = 7  # the first batch of build_day: 1000 (a sync run of ours) and 1001 (none) plainly matched in it
SYNCED, UNSYNCED = 1000, 1001


def _reconciled_day(db_url, tmp_path):
    """build_day's ledger and ERP, and a run of the day; returns what a second run needs and the run."""
    erp = Erp()
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)
    sent: list[int] = []
    _, run, _ = reconcile(db_url, tmp_path, erp, Gateway(batches, known), sent)
    return (erp, batches, known, sent), run


def _sync_run(db_url, txn_id: int, pair: str = "default") -> None:
    """A sync run of ours for the payment, so that paysync has heard of it and its page has a story."""
    with session_scope(db_url) as s:
        s.add(SyncRun(pair=pair, gateway="paytrace", transaction_id=txn_id, erp="sage50", status="succeeded"))


def _shown(db_url, txn_id: int, pair: str = "default") -> list[tuple]:
    """The reconciliation part of the payment's page: (day, run number, run id, batch, class) per entry."""
    told = story.story(db_url, pair, "paytrace", txn_id)
    assert told is not None, f"no story for {txn_id}"
    return [(e["day"], e["run"], e["run_id"], e["batch"], e["class"]) for e in told.settlement]


def _matches(db_url) -> list[ReconcileMatch]:
    with session_scope(db_url) as s:
        rows = s.scalars(select(ReconcileMatch).order_by(ReconcileMatch.id)).all()
        s.expunge_all()
    return list(rows)


def test_a_plainly_matched_sale_shows_the_run_that_matched_it_and_then_both_runs_newest_first(db_url, tmp_path):
    # Given a reconciled day
    again, run = _reconciled_day(db_url, tmp_path)
    # (whose plain matches are kept in reconcile_match, not as reconcile_item rows)
    held = {int(t) for m in _matches(db_url) for t in m.transaction_ids.split(",")}
    assert {SYNCED, 1002} <= held
    with session_scope(db_url) as s:
        assert s.scalar(select(ReconcileItem.id).where(ReconcileItem.subject == f"T{SYNCED}")) is None
        journal = s.scalar(select(SettlementPosting.journal_ref).where(SettlementPosting.batch_number == BATCH))
    assert journal
    # When a person opens a plainly matched sale's page
    told = story.story(db_url, "default", "paytrace", SYNCED)
    # Then it shows one reconciliation entry: matched, by this run of the day, in its batch, with its journal
    assert [(e["day"], e["run"], e["run_id"], e["batch"], e["class"], e["exception"], e["journal"])
            for e in told.settlement] == [(DAY, 1, run.id, BATCH, "matched", False, journal)]
    # and so does a plain match whose sync run is dead
    assert _shown(db_url, 1002) == [(DAY, 1, run.id, BATCH, "matched")]

    # When the day is reconciled again
    erp, batches, known, sent = again
    _, second, _ = reconcile(db_url, tmp_path, erp, Gateway(batches, known), sent)
    assert second.id != run.id
    # Then the page shows both runs, the newest first
    assert _shown(db_url, SYNCED) == [(DAY, 2, second.id, BATCH, "matched"), (DAY, 1, run.id, BATCH, "matched")]


def test_a_payment_never_settled_shows_no_reconciliation_though_a_match_rows_range_holds_its_id(db_url, tmp_path):
    # Given a reconciled day
    _reconciled_day(db_url, tmp_path)
    settled = {int(r["transaction_id"]) for records in build_day(Erp())[0].values() for r in records
               if str(r["transaction_id"]).isdigit()}
    # and payments of ours PayTrace settled in none of its batches: one between two plainly matched ids,
    # one far above every id, one far below
    between = 1015
    assert between not in settled
    assert any(m.first_id < between < m.last_id for m in _matches(db_url)), "the case needs a row's range to hold it"
    for txn_id in (between, 9_999_999, 1):
        _sync_run(db_url, txn_id)
    # When their pages are opened
    # Then none shows a reconciliation entry
    assert {t: _shown(db_url, t) for t in (between, 9_999_999, 1)} == {between: [], 9_999_999: [], 1: []}
    # and a sale in that range the run found missing shows that finding alone, not a match besides
    [(_, _, _, batch, item_class)] = _shown(db_url, 1010)
    assert (batch, item_class) == (BATCH, "missing_in_erp")


def test_a_run_of_another_pair_holding_the_id_is_not_this_pairs(db_url, tmp_path):
    # Given a reconciled day of the default pair
    _, run = _reconciled_day(db_url, tmp_path)
    # and a later run of another pair whose plain matches hold the same PayTrace id (its own account's)
    with session_scope(db_url) as s:
        other = ReconcileRun(pair="east", day=DAY + timedelta(days=1), number=1, run_key="east:test", trigger="test",
                             erp="sage50", status="done")
        s.add(other)
        s.flush()
        s.add(ReconcileMatch(run_id=other.id, batch_number=70, transaction_type="SALE", synced=True, detail="",
                             first_id=990, last_id=1010, count=3, transaction_ids=f"990,{SYNCED},1010",
                             cents="100,2500,300"))
        other_id = other.id
    _sync_run(db_url, SYNCED, pair="east")
    # When the default pair's payment page is opened
    # Then it shows the default pair's run only
    assert _shown(db_url, SYNCED) == [(DAY, 1, run.id, BATCH, "matched")]
    # and the other pair's page shows the other pair's run only
    assert _shown(db_url, SYNCED, pair="east") == [(DAY + timedelta(days=1), 1, other_id, 70, "matched")]


NIGHTS, ROWS_A_NIGHT, SPAN = 300, 20, 500


def _rows_read(pg_url, transaction_id: int) -> tuple[list, int]:
    """The story's reconciliation part for the payment, and how many reconcile_match rows reading it read."""
    so_far = text("SELECT pg_stat_get_xact_tuples_returned('reconcile_match'::regclass) + "
                  "pg_stat_get_xact_tuples_fetched('reconcile_match'::regclass)")
    with session_scope(pg_url) as s:
        before = s.execute(so_far).scalar()  # what this connection read before, not yet reported
        found = story._settlement(s, "default", transaction_id)
        read = s.execute(so_far).scalar() - before
    return [(f["run_id"], f["batch"], f["class"]) for f in found], read


def test_a_recent_payments_plain_match_is_found_by_range_not_by_reading_every_nights_rows(pg_url):
    # Given 300 nights of plain matches, 20 rows a night, each row holding ids of an ascending range
    upgrade(pg_url)
    with get_engine(pg_url).begin() as conn:
        conn.execute(text(
            "INSERT INTO reconcile_run (id, pair, day, number, run_key, trigger, erp, status, started_at, totals, "
            "counts, changes, exceptions) SELECT r, 'default', DATE '2026-01-01' + r, 1, 'k' || r, 'beat', 'sage50', "
            f"'done', now(), '{{}}', '{{}}', '{{}}', 0 FROM generate_series(1, {NIGHTS}) r"))
        conn.execute(text(
            "INSERT INTO reconcile_match (run_id, batch_number, transaction_type, synced, detail, first_id, last_id, "
            "count, transaction_ids, cents) SELECT r, r * 100 + k, 'SALE', k % 2 = 0, '', b.f, b.f + :last, 3, "
            "b.f || ',' || (b.f + :mid) || ',' || (b.f + :last), '1000,2000,3000' "
            f"FROM generate_series(1, {NIGHTS}) r, generate_series(0, {ROWS_A_NIGHT - 1}) k, "
            "LATERAL (SELECT 1000000 + ((r - 1) * :a_night + k) * :span AS f) b"),
            dict(last=SPAN - 1, mid=SPAN // 2, a_night=ROWS_A_NIGHT, span=SPAN))
        conn.execute(text("ANALYZE reconcile_run"))
        conn.execute(text("ANALYZE reconcile_match"))
        total = conn.execute(text("SELECT count(*) FROM reconcile_match")).scalar()
    assert total == NIGHTS * ROWS_A_NIGHT
    # and a recent payment: the middle id of the last night's eleventh row
    recent = 1_000_000 + ((NIGHTS - 1) * ROWS_A_NIGHT + 10) * SPAN + SPAN // 2
    # When its reconciliation is looked up for its page
    found, read = _rows_read(pg_url, recent)
    # Then the last night's row is found, reading a handful of rows, not 6,000
    assert found == [(NIGHTS, NIGHTS * 100 + 10, "matched")]
    assert read <= 100, f"{read:,} reconcile_match rows read to find one payment's among {total:,}"

    # And without ix_reconcile_match_last the same look-up reads every row (the bound above can fail)
    with get_engine(pg_url).begin() as conn:
        conn.execute(text("DROP INDEX ix_reconcile_match_last"))
    found, read = _rows_read(pg_url, recent)
    assert found == [(NIGHTS, NIGHTS * 100 + 10, "matched")]
    assert read > 100 and read >= total, read
