"""The poller (PayTrace's export API is the primary feed) and the sweeper (nothing stalls forever).

PayTrace has no webhooks (paytrace.md §7), so every minute beat asks the export API for
everything created since a day before the cursor: windows overlap, and the inbox's unique key
makes re-reading a boundary free. Export dates are whole days in the merchant's zone.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from config.settings import Settings
from connectors.paytrace import PayTraceGateway
from db.inbox import store_event
from db.models import InboxEvent, PollerCursor, SyncRun
from db.session import session_scope
from db.types import utcnow

CURSOR = "paytrace.transactions"


def poll_once(settings: Settings, gateway: PayTraceGateway, now: datetime | None = None) -> list[int]:
    """Store every exported transaction not seen before; return the new inbox ids."""
    now = now or utcnow()
    tz = ZoneInfo(settings.merchant_timezone)
    with session_scope(settings.database_url) as s:
        cursor = s.get(PollerCursor, CURSOR)
        since = cursor.position if cursor else now
    start = since.astimezone(tz).date() - timedelta(days=settings.poll_overlap_days)
    end = now.astimezone(tz).date()
    new_ids = []
    for record in gateway.transactions_between(start, end):
        try:
            txn_id = int(record["transaction_id"])
        except (KeyError, TypeError, ValueError):
            # Kept, not dropped: its ingest dead-letters it with the reason, once per distinct record.
            digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:20]
            inbox_id, created = store_event(settings.database_url, source="poller", event_id=f"invalid:{digest}",
                                            event_type="export.invalid", transaction_id=None,
                                            payload={"record": record})
            if created:
                new_ids.append(inbox_id)
            continue
        kind = str(record.get("transaction_type") or "UNKNOWN").upper()
        if kind == "AUTHORIZATION" and str(record.get("status_code") or "N") != "N":
            kind = "AUTHORIZATION:CAPTURED"  # the same id, captured since: new word of it
        inbox_id, created = store_event(settings.database_url, source="poller", event_id=f"{txn_id}:{kind}",
                                        event_type=f"export.{kind.split(':')[0].lower()}", transaction_id=txn_id,
                                        payload={"record": record})
        if created:
            new_ids.append(inbox_id)
    with session_scope(settings.database_url) as s:
        cursor = s.get(PollerCursor, CURSOR)
        if cursor is None:
            s.add(PollerCursor(name=CURSOR, position=now, updated_at=now))
        else:
            cursor.position = max(cursor.position, now)
    return new_ids


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


def stalled_runs(settings: Settings, now: datetime | None = None) -> list[tuple[int, str | None, str]]:
    """Runs not finished whose last sign of life is older than the stall limit, with their step."""
    now = now or utcnow()
    stall = now - timedelta(seconds=settings.sweep_stall_seconds)
    with session_scope(settings.database_url) as s:
        rows = s.execute(select(SyncRun.id, SyncRun.current_step, SyncRun.kind).where(
            SyncRun.status.in_(("pending", "running")), SyncRun.updated_at < stall,
        ).order_by(SyncRun.id).limit(1000)).all()
        for run in s.scalars(select(SyncRun).where(SyncRun.id.in_([r[0] for r in rows]))):
            run.updated_at = now  # one re-kick per stall period, not one per sweep
        return [(r[0], r[1], r[2]) for r in rows]
