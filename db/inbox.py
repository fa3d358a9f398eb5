"""Writing inbound events: one row per (pair, source, event id), card data masked before the insert."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from db.models import InboxEvent
from db.session import get_engine, session_scope
from db.types import utcnow
from metrics.registry import EVENTS_IN, EVENTS_REPEATED
from schemas.masking import mask_payload


_TABLE = InboxEvent.__table__
_KEY = ("pair", "source", "event_id")
# Built once: a statement made per call spends more CPU on its cache key than the database on it.
_INSERT = {dialect: insert(_TABLE).on_conflict_do_nothing(index_elements=list(_KEY)).returning(_TABLE.c.id)
           for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_FIND = select(_TABLE.c.id).where(*(_TABLE.c[k] == bindparam(k) for k in _KEY))
_MARK = update(_TABLE).where(_TABLE.c.id == bindparam("inbox_id"), _TABLE.c.enqueued_at.is_(None)) \
    .values(enqueued_at=bindparam("at"))


@lru_cache(maxsize=8)
def _autocommit(engine: Engine) -> Engine:
    """Each statement its own transaction: no BEGIN and COMMIT around it."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _engine(db: str | Engine) -> Engine:
    return _autocommit(get_engine(db) if isinstance(db, str) else db)


def store_event(db: str | Engine, *, source: str, event_id: str, event_type: str, transaction_id: int | None,
                payload: dict[str, Any], pair: str = "default") -> tuple[int, bool]:
    """Commit the event for integration pair `pair`; (inbox id, True) if new, (the stored copy's id, False) if seen.

    One statement, committed as it returns the id, so the row is committed before the caller answers
    or enqueues anything (the ingress's whole job: an ORM session's BEGIN, SELECT and COMMIT cost it
    about 1.1 ms more CPU a webhook, docs/scaling.md "Ingress").
    """
    row = {"pair": pair, "source": source, "event_id": event_id[:200], "event_type": event_type[:64],
           "transaction_id": transaction_id, "payload": mask_payload(payload), "status": "received",
           "attempts": 0, "received_at": utcnow()}
    engine = _engine(db)
    with engine.connect() as conn:
        inbox_id = conn.execute(_INSERT[engine.dialect.name], row).scalar()
        created = inbox_id is not None
        if not created:  # a repeat: the unique key finds the first copy
            inbox_id = conn.execute(_FIND, {k: row[k] for k in _KEY}).scalar_one()
    (EVENTS_IN if created else EVENTS_REPEATED).labels(source, pair).inc()
    return inbox_id, created


def mark_enqueued(db: str | Engine, inbox_id: int) -> None:
    """Note that the ingest task was sent, so the sweeper leaves the row alone (first send only)."""
    with _engine(db).connect() as conn:
        conn.execute(_MARK, {"inbox_id": inbox_id, "at": utcnow()})


@dataclass(frozen=True)
class NewEvent:
    """An event to store in bulk (store_events): its payload is masked only if it turns out to be new."""

    event_id: str
    event_type: str
    transaction_id: int | None
    payload: dict[str, Any]


def store_events(db_url: str, *, source: str, pair: str, events: Sequence[NewEvent]) -> tuple[list[int], int]:
    """Commit the events not stored before; return (the new inbox ids in `events` order, how many were known).

    What store_event promises, for a page at a time: one SELECT finds the known ids (their
    payloads are never masked or sent), one INSERT ... ON CONFLICT DO NOTHING RETURNING writes the
    rest, so a row another poller wrote in between is counted as known, never stored twice.
    """
    stored = store_events_keyed(db_url, source=source, pair=pair, events=events)
    new_ids = sorted(inbox_id for inbox_id, created in stored.values() if created)  # ids follow insertion
    return new_ids, len(events) - len(new_ids)


def store_events_keyed(db_url: str, *, source: str, pair: str,
                       events: Sequence[NewEvent]) -> dict[str, tuple[int, bool]]:
    """`store_events` for callers that answer per event: event id -> (inbox id, True if stored now).

    An event another writer stored between the SELECT and the INSERT is looked up again and
    reported as known (False), as store_event does.
    """
    fresh: dict[str, NewEvent] = {}
    for event in events:  # the same event twice in one page is one row
        fresh.setdefault(event.event_id[:200], event)
    if not fresh:
        return {}
    table = InboxEvent.__table__
    out: dict[str, tuple[int, bool]] = {}
    with session_scope(db_url) as s:
        def ids_of(keys: list[str]) -> dict[str, int]:
            return dict(s.execute(select(InboxEvent.event_id, InboxEvent.id).where(
                InboxEvent.pair == pair, InboxEvent.source == source, InboxEvent.event_id.in_(keys))).all())

        out.update((key, (inbox_id, False)) for key, inbox_id in ids_of(list(fresh)).items())
        rows = [{"pair": pair, "source": source, "event_id": key, "event_type": e.event_type[:64],
                 "transaction_id": e.transaction_id, "payload": mask_payload(e.payload), "status": "received",
                 "attempts": 0, "received_at": utcnow()} for key, e in fresh.items() if key not in out]
        if rows:
            dialect = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = dialect(table).on_conflict_do_nothing(
                index_elements=["pair", "source", "event_id"]).returning(table.c.event_id, table.c.id)
            out.update((key, (inbox_id, True)) for key, inbox_id in s.execute(statement, rows).all())
            raced = [key for key in fresh if key not in out]
            if raced:
                out.update((key, (inbox_id, False)) for key, inbox_id in ids_of(raced).items())
    created = sum(1 for _, new in out.values() if new)
    if created:
        EVENTS_IN.labels(source, pair).inc(created)
    if len(events) - created:
        EVENTS_REPEATED.labels(source, pair).inc(len(events) - created)
    return out


def mark_enqueued_many(db_url: str, inbox_ids: Sequence[int], chunk: int = 5000) -> None:
    """Stamp rows just sent to a worker, so the sweeper leaves them alone until they stall: one UPDATE
    per `chunk` ids (SQLite takes at most 32,766 parameters a statement)."""
    if inbox_ids:
        with session_scope(db_url) as s:
            for start in range(0, len(inbox_ids), chunk):
                part = list(inbox_ids[start:start + chunk])
                s.execute(update(InboxEvent).where(InboxEvent.id.in_(part)).values(enqueued_at=utcnow()),
                          execution_options={"synchronize_session": False})
