"""From an inbox row to a sync run: one run per gateway transaction, however often it arrives."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from connectors.errors import PermanentError
from db.models import DeadLetter, InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow


@dataclass(frozen=True)
class Routing:
    """What to do with an inbox event: start the run's chain, or nothing (a repeat)."""

    run_id: int | None
    start: bool


def route_event(db_url: str, inbox_id: int, erp: str) -> Routing:
    """Attach the event to its run, creating the run if it is the first word of its transaction.

    The run and the inbox row's link to it commit together, so a crash right after leaves the
    row marked `routed` and its redelivery starts the chain instead of calling itself a repeat.
    A concurrent first delivery from another source loses on the run's unique key and raises
    IntegrityError, which the task retries: the second time it finds the run and stands down.
    """
    with session_scope(db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        if event is None:
            raise PermanentError(f"inbox event {inbox_id} does not exist", system="paysync", operation="route")
        event.attempts += 1
        if event.status in ("done", "duplicate"):
            return Routing(event.run_id, False)
        if event.transaction_id is None:
            event.status = "invalid"
            event.processed_at = utcnow()
            raise PermanentError(f"inbox event {inbox_id} names no transaction", system="paysync",
                                 operation="route")
        if event.status == "routed" and event.run_id is not None:
            run = s.get(SyncRun, event.run_id)
            pending = run is not None and run.status == "pending"
            if not pending:
                event.status, event.processed_at = "done", utcnow()
            return Routing(event.run_id, pending)
        run = s.scalar(select(SyncRun).where(SyncRun.gateway == "paytrace",
                                             SyncRun.transaction_id == event.transaction_id, SyncRun.erp == erp))
        if run is not None and run.status == "dead" and run.transaction is None:
            # The run died before PayTrace ever showed us the transaction (a push that outran the
            # export, a PayTrace outage). This event is new word of it: start the run again.
            run.status, run.finished_at, run.updated_at = "pending", None, utcnow()
            if event.source == "poller":
                run.transaction = event.payload.get("record")
            for letter in s.scalars(select(DeadLetter).where(DeadLetter.run_id == run.id,
                                                              DeadLetter.status == "open")):
                letter.status, letter.replayed_at = "superseded", utcnow()
            event.run_id, event.status = run.id, "routed"
            return Routing(run.id, True)
        if run is not None:
            event.run_id, event.status, event.processed_at = run.id, "duplicate", utcnow()
            return Routing(run.id, False)
        # Only export rows are authoritative records; pushed hints leave it for the fetch step.
        record = event.payload.get("record") if event.source == "poller" else None
        run = SyncRun(gateway="paytrace", transaction_id=event.transaction_id, erp=erp, status="pending",
                      transaction=record)
        s.add(run)
        s.flush()
        event.run_id, event.status = run.id, "routed"
        return Routing(run.id, True)


def mark_started(db_url: str, inbox_id: int) -> None:
    with session_scope(db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        event.status, event.processed_at = "done", utcnow()
