"""The reconciliation files its exceptions set-based (review.stage + review.file_staged); the review list
must come out exactly as the one-by-one filing (file_findings + close_unseen) leaves it, on both databases."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.migrate import upgrade
from db.models import ReviewItem
from db.session import get_engine, session_scope
from db.types import utcnow
from flows import review

FINDINGS = [
    review.Finding("reconcile.missing_in_erp", "PT1", "r1", {"day": "d", "expected": "1.00", "batch": 7}),
    review.Finding("reconcile.missing_in_erp", "PT2", "r2", {"x": None}),
    review.Finding("reconcile.amount_mismatch", "PT5", "r5", {"x": 5}),
    review.Finding("reconcile.amount_mismatch", "PT9", "first", {"n": 1}),
    review.Finding("reconcile.amount_mismatch", "PT9", "second", {"n": 2}),  # the same key twice: the later kept
    review.Finding("reconcile.status_mismatch", "PT1", "other kind", {}),
] + [review.Finding("reconcile.missing_in_erp", f"PT{100 + i}", f"new {i}", {"i": i}) for i in range(300)]


def yesterdays_list(url: str) -> None:
    upgrade(url)
    past = utcnow() - timedelta(days=1)
    with session_scope(url) as s:
        for kind, reference, status, group in (
                ("reconcile.missing_in_erp", "PT1", "open", "G"),  # seen again: refreshed
                ("reconcile.missing_in_erp", "PT2", "resolved", "G"),  # seen again: a person closed it, stays so
                ("reconcile.missing_in_erp", "PT3", "open", "G"),  # not seen again: closed
                ("reconcile.missing_in_erp", "PT4", "open", "OTHER"),  # not seen, another group: untouched
                ("reconcile.amount_mismatch", "PT5", "open", "OTHER"),  # seen, another group: refreshed, group kept
                ("reconcile.missing_in_erp", "PT6", "resolved", "G")):  # not seen, resolved: untouched
            s.add(ReviewItem(kind=kind, reference=reference, reason="old", group_key=group, context={"old": 1},
                             status=status, created_at=past, last_seen_at=past))


def one_by_one(url: str) -> None:
    review.file_findings(url, "G", FINDINGS)
    review.close_unseen(url, "G", {(f.kind, f.reference) for f in FINDINGS}, note="gone")


def set_based(url: str) -> None:
    with get_engine(url).connect() as conn:
        review.stage(conn, enumerate(FINDINGS[:200]), fresh=True)
        review.stage(conn, ((i + 200, f) for i, f in enumerate(FINDINGS[200:])))
        review.file_staged(conn, "G", note="gone")
        conn.commit()


def review_list(url: str, since) -> list[tuple]:
    with session_scope(url) as s:
        return [(r.kind, r.reference, r.reason, r.group_key, r.context, r.status, r.last_seen_at > since,
                 r.resolved_by, r.note) for r in s.scalars(select(ReviewItem).order_by(ReviewItem.id))]


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_set_based_filing_leaves_the_review_list_the_one_by_one_filing_leaves(database, pg_factory, tmp_path):
    lists = []
    for n, filing in enumerate((one_by_one, set_based)):
        url = pg_factory() if database == "postgresql" else f"sqlite:///{tmp_path / f'review{n}.sqlite3'}"
        yesterdays_list(url)
        since = utcnow() - timedelta(hours=1)
        filing(url)
        lists.append(review_list(url, since))
    assert lists[0] == lists[1]
    by_reference = {(row[0], row[1]): row for row in lists[1]}
    # and the list is what a person expects, not merely the same twice
    assert by_reference[("reconcile.missing_in_erp", "PT1")][5:7] == ("open", True)
    assert by_reference[("reconcile.missing_in_erp", "PT2")][5] == "resolved"
    assert by_reference[("reconcile.missing_in_erp", "PT3")][5] != "open"
    assert by_reference[("reconcile.missing_in_erp", "PT4")][5:7] == ("open", False)
    assert by_reference[("reconcile.amount_mismatch", "PT9")][2] == "second"
    assert len(lists[1]) == 6 + 2 + 300  # yesterday's six, PT9 and the other kind of PT1, the 300 new


def test_filing_reads_each_staged_finding_a_few_times_not_once_per_review_item(pg_factory):
    """A night of 3,000 exceptions against 3,000 open items of the group: the filing reads the staged
    set in proportion to its size. Without the staged set's index and statistics PostgreSQL held every
    open item against every finding (9,000,000 rows read here; 6 s at 12,000 findings)."""
    url = pg_factory()
    upgrade(url)
    past, n = utcnow() - timedelta(days=1), 3000
    with session_scope(url) as s:
        s.add_all(ReviewItem(kind="reconcile.missing_in_erp", reference=f"PT{i}", reason="old", group_key="G",
                             context={}, status="open", created_at=past, last_seen_at=past) for i in range(n))
    findings = [review.Finding("reconcile.missing_in_erp", f"PT{i + n // 2}", "again or new", {}) for i in range(n)]
    so_far = ("SELECT pg_stat_get_xact_tuples_returned('rc_finding'::regclass) + "
              "pg_stat_get_xact_tuples_fetched('rc_finding'::regclass)")
    with get_engine(url).connect() as conn:
        review.stage(conn, enumerate(findings), fresh=True)
        before = conn.exec_driver_sql(so_far).scalar()
        added, refreshed, closed = review.file_staged(conn, "G", note="gone")
        read = conn.exec_driver_sql(so_far).scalar() - before
        conn.commit()
    assert (added, refreshed, closed) == (n // 2, n // 2, n // 2)
    assert read <= 10 * n, f"{read:,} rows of the staged findings read for {n:,} findings"
