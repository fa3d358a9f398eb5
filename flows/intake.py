"""From an inbox row to a sync run: one run per gateway transaction, however often it arrives."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from connectors.errors import PermanentError
from db.models import DeadLetter, InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow
from flows.payment_sync import ACH_GATEWAY, AUTHORIZED_ONLY


@dataclass(frozen=True)
class Routing:
    """What to do with an inbox event: start the run's chain (and any predecessor's), or nothing."""

    run_id: int | None
    start: bool
    kind: str = "sale"
    #: A predecessor run created with this one (a void's sale nobody had synced): start it too.
    also: tuple[tuple[int, str], ...] = ()


#: Export record types and webhook event types -> the kind of run they call for.
RECORD_KINDS = {"REFUND": "refund", "VOID": "void", "DECLINED": "decline"}
WEBHOOK_KINDS = {"transaction.refund": "refund", "transaction.void": "void", "transaction.declined": "decline",
                 "chargeback": "chargeback"}


#: A check's raw status that makes its record a run of another kind: not processed, returned [I].
CHECK_STATUS_KINDS = {"X": "decline", "R": "void"}


def gateway_of(event: InboxEvent) -> str:
    """Whose id space the event's transaction id is in: card transactions, or checks (ACH)."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    return ACH_GATEWAY if payload.get("gateway") == ACH_GATEWAY else "paytrace"


def kind_of(event: InboxEvent) -> str:
    """Which run an event is about: a refund and a void are runs of their own; the rest are sales."""
    record = event.payload.get("record") if isinstance(event.payload, dict) else None
    if isinstance(record, dict):
        if gateway_of(event) == ACH_GATEWAY:
            # An ACH return comes days later as the sale's own record, status R: it is undone like a void.
            status = str(record.get("status_code") or "").strip().upper()
            if status in CHECK_STATUS_KINDS:
                return CHECK_STATUS_KINDS[status]
        return RECORD_KINDS.get(str(record.get("transaction_type") or "").upper(), "sale")
    if event.source == "reconcile":
        return RECORD_KINDS.get(event.event_type.rsplit(".", 1)[-1].upper(), "sale")
    return WEBHOOK_KINDS.get(event.event_type, "sale")


def _captured(event: InboxEvent, record) -> bool:
    """Is this export row an authorization (or a check hold) that has been captured (funded) since?"""
    if not isinstance(record, dict):
        return False
    kind = str(record.get("transaction_type")).upper()
    status = str(record.get("status_code") or "").strip().upper()
    if kind == "AUTHORIZATION":
        return (status or "N") != "N"
    # a check hold, funded since: no longer held, voided or not processed
    return gateway_of(event) == ACH_GATEWAY and kind == "HOLD" and status not in ("", "H", "X", "V")


def _find_run(s, event: InboxEvent, erp: str, kind: str) -> SyncRun | None:
    return s.scalar(select(SyncRun).where(SyncRun.pair == event.pair, SyncRun.gateway == gateway_of(event),
                                          SyncRun.transaction_id == event.transaction_id, SyncRun.erp == erp,
                                          SyncRun.kind == kind))


def route_event(db_url: str, inbox_id: int, erp: str) -> Routing:
    """Attach the event to its run, creating the run if it is the first word of it.

    One run per (transaction, kind): a sale, each refund (its own transaction id), and a void
    (the sale's id, kind "void"). The run and the inbox row's link to it commit together, so a
    crash right after leaves the row `routed` and its redelivery starts the chain instead of
    calling itself a repeat. A concurrent first delivery from another source loses on the run's
    unique key and raises IntegrityError, which the task retries: then it finds the run.
    """
    with session_scope(db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        if event is None:
            raise PermanentError(f"inbox event {inbox_id} does not exist", system="paysync", operation="route")
        event.attempts += 1
        kind = kind_of(event)
        if event.status in ("done", "duplicate"):
            return Routing(event.run_id, False, kind)
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
            return Routing(event.run_id, pending, run.kind if run else kind)
        # Only export rows are authoritative records; pushed hints leave it for the fetch step.
        # (A chargeback's record is its case, read from this inbox event by the chargeback flow.)
        record = event.payload.get("record") if event.source == "poller" else None
        run = _find_run(s, event, erp, kind)
        if run is not None and run.status == "dead" and run.transaction is None:
            # The run died before PayTrace ever showed us the transaction (a push that outran the
            # export, a PayTrace outage). This event is new word of it: start the run again.
            run.status, run.finished_at, run.updated_at = "pending", None, utcnow()
            run.transaction = record
            for letter in s.scalars(select(DeadLetter).where(DeadLetter.run_id == run.id,
                                                              DeadLetter.status == "open")):
                letter.status, letter.replayed_at = "superseded", utcnow()
            event.run_id, event.status = run.id, "routed"
            return Routing(run.id, True, kind)
        captured = _captured(event, record)
        if run is not None and run.status == "skipped" and run.last_error == AUTHORIZED_ONLY and \
                (captured or event.event_type == "transaction.capture"):
            # An authorization we skipped has been captured: now there is a sale to post.
            run.status, run.finished_at, run.updated_at, run.last_error = "pending", None, utcnow(), None
            run.transaction = record if captured else None
            event.run_id, event.status = run.id, "routed"
            return Routing(run.id, True, kind)
        if run is not None:
            event.run_id, event.status, event.processed_at = run.id, "duplicate", utcnow()
            return Routing(run.id, False, kind)
        also: tuple[tuple[int, str], ...] = ()
        if kind == "void" and _find_run(s, event, erp, "sale") is None:
            # Voided before anyone synced the sale: the sale is posted first, then reversed, so
            # the books show what happened (and the invoice open again, as for any void).
            sale = SyncRun(pair=event.pair, gateway=gateway_of(event), transaction_id=event.transaction_id, erp=erp,
                           kind="sale",
                           status="pending", transaction=None)
            s.add(sale)
            s.flush()
            also = ((sale.id, "sale"),)
        run = SyncRun(pair=event.pair, gateway=gateway_of(event), transaction_id=event.transaction_id, erp=erp,
                      kind=kind, status="pending", transaction=record)
        s.add(run)
        s.flush()
        event.run_id, event.status = run.id, "routed"
        return Routing(run.id, True, kind, also)


def _pair_of(db_url: str, model, row_id: int, what: str) -> str:
    with session_scope(db_url) as s:
        pair = s.scalar(select(model.pair).where(model.id == row_id))
    if pair is None:
        raise PermanentError(f"{what} {row_id} does not exist", system="paysync", operation="pair")
    return pair


def event_pair(db_url: str, inbox_id: int) -> str:
    """The integration pair an inbox event came in for."""
    return _pair_of(db_url, InboxEvent, inbox_id, "inbox event")


def run_pair(db_url: str, run_id: int) -> str:
    """The integration pair a sync run posts for."""
    return _pair_of(db_url, SyncRun, run_id, "sync run")


def mark_started(db_url: str, inbox_id: int) -> None:
    with session_scope(db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        event.status, event.processed_at = "done", utcnow()
