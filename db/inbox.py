"""Writing inbound events: one row per (pair, source, event id), card data masked before the insert."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db.models import InboxEvent
from db.session import session_scope
from db.types import utcnow
from metrics.registry import EVENTS_IN, EVENTS_REPEATED
from schemas.masking import mask_payload


def store_event(db_url: str, *, source: str, event_id: str, event_type: str, transaction_id: int | None,
                payload: dict[str, Any], pair: str = "default") -> tuple[int, bool]:
    """Commit the event for integration pair `pair`; return (inbox id, True) if new, (existing id, False) if seen."""
    try:
        with session_scope(db_url) as s:
            row = InboxEvent(pair=pair, source=source, event_id=event_id[:200], event_type=event_type[:64],
                             transaction_id=transaction_id, payload=mask_payload(payload), status="received",
                             attempts=0, received_at=utcnow())
            s.add(row)
            s.flush()
            inbox_id = row.id
        EVENTS_IN.labels(source, pair).inc()
        return inbox_id, True
    except IntegrityError:
        with session_scope(db_url) as s:
            existing = s.scalar(select(InboxEvent.id).where(InboxEvent.pair == pair, InboxEvent.source == source,
                                                            InboxEvent.event_id == event_id[:200]))
        if existing is None:
            raise
        EVENTS_REPEATED.labels(source, pair).inc()
        return existing, False


def mark_enqueued(db_url: str, inbox_id: int) -> None:
    with session_scope(db_url) as s:
        row = s.get(InboxEvent, inbox_id)
        if row is not None and row.enqueued_at is None:
            row.enqueued_at = utcnow()
