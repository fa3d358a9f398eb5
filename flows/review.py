"""The review list: one place for everything a person must look at, whatever flow found it.

An item is keyed by (kind, reference): finding the same thing again refreshes it instead of
adding a second row, and an item a person resolved stays resolved. A flow that files items for a
group (e.g. `reconcile:2026-11-21`) can close the ones it no longer finds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from db.models import ReviewItem
from db.session import session_scope
from db.types import utcnow


@dataclass(frozen=True)
class Finding:
    """Something to put in front of a person."""

    kind: str
    reference: str
    reason: str
    context: dict[str, Any]


def file_findings(db_url: str, group_key: str, findings: Iterable[Finding]) -> tuple[int, int]:
    """Add new findings, refresh the open ones seen again; return (added, refreshed)."""
    added = refreshed = 0
    batch = list(findings)
    for start in range(0, len(batch), 500):
        with session_scope(db_url) as s:
            a, r = file_in(s, group_key, batch[start:start + 500])
        added, refreshed = added + a, refreshed + r
    return added, refreshed


def file_in(s: Session, group_key: str, findings: list[Finding]) -> tuple[int, int]:
    """file_findings inside the caller's transaction (a stage files its item with its own outcome)."""
    added = refreshed = 0
    now = utcnow()
    keys = [(f.kind, f.reference) for f in findings]
    existing = {(r.kind, r.reference): r for r in s.scalars(
        select(ReviewItem).where(tuple_(ReviewItem.kind, ReviewItem.reference).in_(keys)))} if keys else {}
    for f in findings:
        row = existing.get((f.kind, f.reference))
        if row is None:
            row = ReviewItem(kind=f.kind, reference=f.reference, reason=f.reason, group_key=group_key,
                             context=f.context, status="open", created_at=now, last_seen_at=now)
            s.add(row)
            existing[(f.kind, f.reference)] = row
            added += 1
        else:
            row.last_seen_at = now
            if row.status == "open":
                row.reason, row.context = f.reason, f.context
                refreshed += 1
    return added, refreshed


def close_unseen(db_url: str, group_key: str, seen: set[tuple[str, str]], note: str) -> int:
    """Resolve the group's open items that the latest look did not find again."""
    closed = 0
    with session_scope(db_url) as s:
        for row in s.scalars(select(ReviewItem).where(ReviewItem.group_key == group_key,
                                                      ReviewItem.status == "open")):
            if (row.kind, row.reference) not in seen:
                row.status, row.resolved_at, row.resolved_by, row.note = "resolved", utcnow(), "paysync", note
                closed += 1
    return closed


def open_count(db_url: str, group_key: str) -> int:
    with session_scope(db_url) as s:
        return len(s.scalars(select(ReviewItem.id).where(ReviewItem.group_key == group_key,
                                                         ReviewItem.status == "open")).all())


def list_items(db_url: str, status: str | None = "open", kind: str | None = None) -> list[ReviewItem]:
    with session_scope(db_url) as s:
        query = select(ReviewItem).order_by(ReviewItem.id)
        if status:
            query = query.where(ReviewItem.status == status)
        if kind:
            query = query.where(ReviewItem.kind.like(f"{kind}%"))
        return list(s.scalars(query))


def resolve(db_url: str, item_id: int, *, who: str, note: str) -> ReviewItem:
    """Mark an item looked after; raise LookupError if there is no such item."""
    with session_scope(db_url) as s:
        row = s.get(ReviewItem, item_id)
        if row is None:
            raise LookupError(f"no review item {item_id}")
        if row.status != "resolved":
            row.status, row.resolved_at = "resolved", utcnow()
        row.resolved_by, row.note = who[:80], note
        return row
