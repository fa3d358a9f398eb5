"""A night's reconciliation reads the runs of the day's transactions, not every run ever written (PostgreSQL).

Given a day of every shape (tests/integration/test_reconcile_sets.py) and 20,000 sync runs of other
days (PayTrace's ids grow with time: theirs lie outside the day's), when the day is reconciled, then
the items are those of a database with no other days, and PostgreSQL read a few dozen sync_run
rows in the whole run, not the 20,000 (the plain matches asked "do we have a run of it" of every
run the pair ever had: beside 3M older runs, 870 ms of a night, growing every night).

The rows read are PostgreSQL's own counters for the table (pg_stat_user_tables: rows returned by
sequential scans and fetched through indexes), read before and after the run, once every session
of the run has ended and reported them.
"""
from __future__ import annotations

import time
from datetime import datetime, time as clock, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from db.migrate import upgrade
from db.models import SyncRun
from db.reconcile_models import ReconcileMatch
from db.session import get_engine, session_scope
from flows import settlement, settlement_outside
from tests.integration.test_reconcile_sets import (DAY, MAPPING, Erp, Gateway, build_day, reconcile, ref, sale,
                                                   seed_ledger)
from workers.locks import NoLock

OTHER_DAYS = 20_000
OLD_CAPTURE = 500  # an id among the other days' runs (1..999 and 100,001..)


def sync_run_rows_read(url: str) -> int:
    """Rows of sync_run read so far by every session that has reported (the counters are per table)."""
    get_engine(url).dispose()  # the run's sessions end and report what they read
    engine = get_engine(url)
    last = None
    for _ in range(50):
        with engine.connect() as conn:
            now = conn.execute(text("SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) "
                                    "FROM pg_stat_user_tables WHERE relname = 'sync_run'")).scalar_one()
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    return last


def day_items(url, tmp_path, history: bool, can_list: bool = True) -> dict:
    upgrade(url)
    erp = Erp(can_list)
    batches, known, ledger = build_day(erp)
    if history:  # and an authorization PayTrace numbered weeks ago, captured today: its id among theirs
        batches[8].append(sale(OLD_CAPTURE, "70.00", "AUTHORIZATION"))  # last: no record moves
        for kind in ("payment", "journal"):
            erp.add(kind, ref(OLD_CAPTURE, kind), Decimal("70.00"))
    seed_ledger(url, ledger)
    if history:
        with get_engine(url).begin() as conn:
            conn.execute(text(
                "INSERT INTO sync_run (pair, gateway, transaction_id, erp, kind, status, created_at, updated_at) "
                "SELECT 'default', 'paytrace', CASE WHEN g < 1000 THEN g ELSE 100000 + g END, 'sage50', "
                "'sale', 'succeeded', now(), now() FROM generate_series(1, :n) g"), {"n": OTHER_DAYS})
            conn.execute(text("ANALYZE sync_run"))
    before = sync_run_rows_read(url)
    _, _, items = reconcile(url, tmp_path, erp, Gateway(batches, known), [])
    read = sync_run_rows_read(url) - before
    return {subject: (i.item_class, i.detail, i.action.split(" (inbox")[0]) for subject, i in items.items()}, read


@pytest.mark.parametrize("can_list", [True, False], ids=["listed", "find-only"])
def test_a_night_reads_the_days_runs_not_every_run_ever(pg_factory, tmp_path, can_list):
    # Given the same day alone, and beside 20,000 runs of other days (ids below and above the day's),
    # with an ERP that lists its day, and one that cannot (its receipts are then found from our runs)
    alone, _ = day_items(pg_factory(), tmp_path / "alone", history=False, can_list=can_list)
    beside, read = day_items(pg_factory(), tmp_path / "beside", history=True, can_list=can_list)
    # Then the verdicts are the same, plain matches included, and the old capture is matched too
    # (by the run of ours its id has among the other days')
    old = beside.pop(f"T{OLD_CAPTURE}")
    assert beside == alone
    assert old[0] == "matched" and (not can_list or old[1] == alone["T1000"][1])
    assert sum(1 for cls, _, _ in beside.values() if cls == "matched") >= 5
    # And the run read a few dozen sync_run rows (8 and 17 when written), not the other days' 20,000,
    # though the old capture's id lies among theirs (a window from the day's lowest id to its highest,
    # tried, read 1,019 here)
    assert read < 200, f"{read} sync_run rows read for a day of about 40 transactions"


def test_plain_matches_know_whether_we_synced_them_beside_other_days(pg_factory, tmp_path):
    url = pg_factory()
    items, _ = day_items(url, tmp_path, history=True)
    with session_scope(url) as s:
        rows = s.scalars(select(ReconcileMatch)).all()
        synced = {int(i) for m in rows if m.synced for i in m.transaction_ids.split(",")}
        unsynced = {int(i) for m in rows if not m.synced for i in m.transaction_ids.split(",")}
    assert items["T1000"][0] == items["T1001"][0] == "matched"
    # 1000 and 1002 have runs of ours (one succeeded, one dead); 1001 has none, though runs of other
    # days hold ids below and above it
    assert {1000, 1002} <= synced and 1001 in unsynced and not synced & unsynced


def test_the_receipts_our_runs_wrote_are_the_merchants_days_in_pages(db_url, tmp_path):
    """The fallback for an ERP that cannot list its day: our runs created that day in the merchant's
    zone (SQLite keeps UTC text: a bound in local time would take in the evening before)."""
    # Given runs created half an hour either side of the day's two midnights (merchant time)
    zone = ZoneInfo(MAPPING.dates.timezone)
    times = {5001: (DAY - timedelta(days=1), clock(23, 30)), 5002: (DAY, clock(0, 30)),
             5003: (DAY, clock(23, 30)), 5004: (DAY + timedelta(days=1), clock(0, 30))}
    erp = Erp(can_list=False)
    with session_scope(db_url) as s:
        for txn_id, (day, at) in times.items():
            created = datetime.combine(day, at, zone).astimezone(timezone.utc)
            s.add(SyncRun(gateway="paytrace", transaction_id=txn_id, erp="sage50", status="succeeded",
                          created_at=created, updated_at=created))
            erp.add("payment", ref(txn_id, "payment"), Decimal("1.00"))
    ctx = settlement.ReconcileContext(db_url=db_url, gateway=None, erp=erp, erp_kind="sage50", mapping=MAPPING,
                                      enqueue=[].append, lock=NoLock, reports_dir=tmp_path, chunk_size=1,
                                      erp_concurrency=1)
    # When the day's receipts are gathered from our runs, a page of one at a time
    found = [d.reference for d in settlement_outside._receipts_our_ledger_wrote(ctx, DAY)]
    # Then they are the two runs of that day, in the order they were created
    assert found == [ref(5002, "payment"), ref(5003, "payment")]
