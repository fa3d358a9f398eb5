"""The sweeper: nothing committed stalls forever (inbox rows never handed to a worker, runs whose message was lost)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from config.settings import Settings
from db.models import InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow


def stalled_events(settings: Settings, now: datetime | None = None) -> list[int]:
    """Inbox rows committed but never handed to a worker (enqueue failed, or its task was lost)."""
    now = now or utcnow()
    stall = now - timedelta(seconds=settings.sweep_stall_seconds)
    # Never-enqueued rows get a short grace so the sweeper does not race the ingress's own send.
    grace = timedelta(seconds=min(30.0, 2 * settings.sweep_interval_seconds))
    with session_scope(settings.database_url) as s:
        return list(s.scalars(select(InboxEvent.id).where(
            InboxEvent.status.in_(("received", "routed")),
            InboxEvent.received_at < now - grace,
            or_(InboxEvent.enqueued_at.is_(None), InboxEvent.enqueued_at < stall),
        ).order_by(InboxEvent.id).limit(1000)))


def touch_events(settings: Settings, inbox_ids: list[int]) -> None:
    with session_scope(settings.database_url) as s:
        for row in s.scalars(select(InboxEvent).where(InboxEvent.id.in_(inbox_ids))):
            row.enqueued_at = utcnow()


def stalled_runs(settings: Settings, now: datetime | None = None) -> list[tuple[int, str | None, str, str]]:
    """Runs not finished whose last sign of life is older than the stall limit: (id, step, kind, pair)."""
    now = now or utcnow()
    stall = now - timedelta(seconds=settings.sweep_stall_seconds)
    with session_scope(settings.database_url) as s:
        rows = s.execute(select(SyncRun.id, SyncRun.current_step, SyncRun.kind, SyncRun.pair).where(
            SyncRun.status.in_(("pending", "running")), SyncRun.updated_at < stall,
        ).order_by(SyncRun.id).limit(1000)).all()
        for run in s.scalars(select(SyncRun).where(SyncRun.id.in_([r[0] for r in rows]))):
            run.updated_at = now  # one re-kick per stall period, not one per sweep
        return [(r[0], r[1], r[2], r[3]) for r in rows]
