"""The ingress's inbox writes, one statement each: store the event (or find its first copy), mark it sent.

The same row, masking and counters as db/inbox.py's `store_event` / `mark_enqueued`, without an ORM
session: a unit of work each, a SELECT before the UPDATE, BEGIN and COMMIT made seven messages to
PostgreSQL and about 1.1 ms more CPU per webhook on the 2-core machine, and a webhook is the
ingress's whole job (bench/ingress.py, docs/scaling.md "Ingress"). Each statement commits as it
completes, so the row is committed before the caller answers or enqueues anything.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from db.models import InboxEvent
from db.types import utcnow
from metrics.registry import EVENTS_IN, EVENTS_REPEATED
from schemas.masking import mask_payload

_TABLE = InboxEvent.__table__
_KEY = ("pair", "source", "event_id")
# Built once: a statement made per call spends more CPU on its cache key than the database on it.
_INSERT = {dialect: insert(_TABLE).on_conflict_do_nothing(index_elements=list(_KEY)).returning(_TABLE.c.id)
           for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
_FIND = select(_TABLE.c.id).where(*(_TABLE.c[k] == bindparam(k) for k in _KEY))
_MARK = update(_TABLE).where(_TABLE.c.id == bindparam("inbox_id"), _TABLE.c.enqueued_at.is_(None)) \
    .values(enqueued_at=bindparam("at"))


@lru_cache(maxsize=8)
def _autocommit(engine: Engine) -> Engine:
    """Each statement its own transaction: no BEGIN and COMMIT around it."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def store_event(engine: Engine, *, source: str, event_id: str, event_type: str, transaction_id: int | None,
                payload: dict[str, Any], pair: str) -> tuple[int, bool]:
    """Commit the event; (inbox id, True) if new, (the stored copy's id, False) if seen before."""
    row = {"pair": pair, "source": source, "event_id": event_id[:200], "event_type": event_type[:64],
           "transaction_id": transaction_id, "payload": mask_payload(payload), "status": "received",
           "attempts": 0, "received_at": utcnow()}
    with _autocommit(engine).connect() as conn:  # the INSERT commits as it returns the id
        inbox_id = conn.execute(_INSERT[engine.dialect.name], row).scalar()
        created = inbox_id is not None
        if not created:  # a repeat: the unique key finds the first copy
            inbox_id = conn.execute(_FIND, {k: row[k] for k in _KEY}).scalar_one()
    (EVENTS_IN if created else EVENTS_REPEATED).labels(source, pair).inc()
    return inbox_id, created


def mark_enqueued(engine: Engine, inbox_id: int) -> None:
    """Note that the ingest task was sent, so the sweeper leaves the row alone (first send only)."""
    with _autocommit(engine).connect() as conn:
        conn.execute(_MARK, {"inbox_id": inbox_id, "at": utcnow()})
