"""Deduplication and rate limit, shared by every process through the alert_notice table.

Each decision is one INSERT or one conditional UPDATE, so two workers that raise the same alert
at the same moment send it once, on PostgreSQL and SQLite alike.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from db.models import AlertNotice
from db.session import session_scope


def _take(db_url: str, key: str, pair: str, kind: str, now: datetime, condition) -> bool:
    """Insert the row (first time: taken) or update it where `condition` holds; True if taken."""
    try:
        with session_scope(db_url) as s:
            s.add(AlertNotice(key=key[:160], pair=pair, kind=kind, sent_at=now, sent_count=1, suppressed=0))
        return True
    except IntegrityError:
        pass  # seen before: the condition decides
    with session_scope(db_url) as s:
        taken = s.execute(update(AlertNotice).where(AlertNotice.key == key[:160], condition)
                          .values(sent_at=now, sent_count=AlertNotice.sent_count + 1)).rowcount == 1
        if not taken:
            s.execute(update(AlertNotice).where(AlertNotice.key == key[:160])
                      .values(suppressed=AlertNotice.suppressed + 1))
        return taken


def claim(db_url: str, *, key: str, pair: str, kind: str, quiet_seconds: int, max_per_hour: int,
          now: datetime) -> str:
    """'send', 'quiet' (sent within its quiet period) or 'held' (the pair's hourly limit is reached)."""
    if not _take(db_url, key, pair, kind, now, AlertNotice.sent_at <= now - timedelta(seconds=quiet_seconds)):
        return "quiet"
    bucket = f"rate:{pair}:{now:%Y%m%d%H}"
    if not _take(db_url, bucket, pair, "rate", now, AlertNotice.sent_count < max_per_hour):
        _count_held(db_url, pair, now)
        return "held"
    return "send"


def _count_held(db_url: str, pair: str, now: datetime) -> None:
    try:
        with session_scope(db_url) as s:
            s.add(AlertNotice(key=f"held:{pair}", pair=pair, kind="held", sent_at=now, sent_count=0, suppressed=1))
    except IntegrityError:
        with session_scope(db_url) as s:
            s.execute(update(AlertNotice).where(AlertNotice.key == f"held:{pair}")
                      .values(suppressed=AlertNotice.suppressed + 1))


def held_back(db_url: str, pair: str) -> int:
    """How many alerts were held back since the last one sent; the count starts again from zero."""
    with session_scope(db_url) as s:
        count = s.scalar(select(AlertNotice.suppressed).where(AlertNotice.key == f"held:{pair}")) or 0
        if count:
            # Compare-and-set, so two senders never both report the same held-back alerts.
            done = s.execute(update(AlertNotice).where(AlertNotice.key == f"held:{pair}",
                                                       AlertNotice.suppressed == count).values(suppressed=0)).rowcount
            return count if done == 1 else 0
        return 0
