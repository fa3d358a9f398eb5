"""From an inbox row to a prepared sync run: one run per gateway transaction, however often it arrives.

Ingest routes the event to its run (`route_event`), then prepares the run once (`prepare`): it
reads PayTrace's own record of the transaction when a push only hinted at it, checks it, and lets
the run's kind decide what is posted (a sale finds the invoice it pays, a refund its sale) and
which stages follow. Everything decided is kept in the run's columns, so the stages read it and
never decide again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping as AbcMapping

from sqlalchemy import select

from connectors.errors import NotFoundError, PermanentError, RetriableError, RunFinished
from db.models import DeadLetter, InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow
from flows import documents, hints
from flows.anomalies import card_profile
from flows.review import Finding, file_in
from flows.runs import ACH_GATEWAY, AUTHORIZED, TERMINAL, FlowContext, Kind, Run, finish, load, park
from schemas.domain import GatewayTransaction
from schemas.masking import mask_payload
from schemas.paytrace import load_check, load_transaction


@dataclass(frozen=True)
class Routing:
    """What to do with an inbox event: prepare and start the run (and any predecessor's), or nothing."""

    run_id: int | None
    start: bool
    kind: str = "sale"
    #: A predecessor run created with this one (a void's sale nobody had synced): start it first.
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


def _revive(run: SyncRun, record: dict | None) -> None:
    """A finished run that new word calls back: pending again, to be prepared from scratch."""
    run.status, run.finished_at, run.updated_at, run.hold, run.note = "pending", None, utcnow(), None, None
    run.transaction, run.facts, run.last_error = record, None, None


def route_event(db_url: str, inbox_id: int, erp: str) -> Routing:
    """Attach the event to its run, creating the run if it is the first word of it.

    One run per (transaction, kind): a sale, each refund (its own transaction id), and a void
    (the sale's id, kind "void"). The run and the inbox row's link to it commit together, so a
    crash right after leaves the row `routed` and its redelivery starts the run instead of
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
        # Only export rows are authoritative records; pushed hints leave it for prepare to read.
        # (A chargeback's record is its case, read from this inbox event by the chargeback flow.)
        record = event.payload.get("record") if event.source == "poller" else None
        run = _find_run(s, event, erp, kind)
        if run is not None and run.status == "dead" and run.facts is None:
            # The run died before PayTrace ever showed us the transaction (a push that outran the
            # export, a PayTrace outage). This event is new word of it: start the run again.
            _revive(run, record)
            for letter in s.scalars(select(DeadLetter).where(DeadLetter.run_id == run.id,
                                                              DeadLetter.status == "open")):
                letter.status, letter.replayed_at = "superseded", utcnow()
            event.run_id, event.status = run.id, "routed"
            return Routing(run.id, True, kind)
        captured = _captured(event, record)
        if run is not None and run.status == "skipped" and run.hold == AUTHORIZED and \
                (captured or event.event_type == "transaction.capture"):
            # An authorization we skipped has been captured: now there is a sale to post.
            _revive(run, record if captured else None)
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
                           kind="sale", status="pending", transaction=None)
            s.add(sale)
            s.flush()
            also = ((sale.id, "sale"),)
        run = SyncRun(pair=event.pair, gateway=gateway_of(event), transaction_id=event.transaction_id, erp=erp,
                      kind=kind, status="pending", transaction=record)
        s.add(run)
        s.flush()
        event.run_id, event.status = run.id, "routed"
        return Routing(run.id, True, kind, also)


# -- preparing a run, once ------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """What ingest decided for a run: the record and columns to keep, and whether it ends here."""

    record: dict | None
    txn: GatewayTransaction | None
    columns: AbcMapping[str, object] = field(default_factory=dict)
    finish: tuple[str, str | None, str | None] | None = None  # (status, hold, note): nothing to post
    park: tuple[Finding, str] | None = None  # a person decides: (the case, its review group)
    findings: tuple[tuple[str, Finding], ...] = ()  # review items filed with it: (group, finding)


def load_record(record: dict, timezone: str) -> GatewayTransaction:
    """A stored export record into the domain: a check's (ACH) or a card transaction's."""
    return load_check(record, timezone) if "check_transaction_id" in record else load_transaction(record, timezone)


def authoritative(ctx: FlowContext, run: Run) -> tuple[dict, GatewayTransaction]:
    """PayTrace's own record of the run's transaction, checked once (a poller row already is one).

    A push can outrun PayTrace's export, so "not found" is retried (with the usual backoff) before
    it becomes a dead letter; if the export shows it later, the poller's row revives the run.
    """
    record = run.record
    if record is None:
        try:
            found = ctx.gateway.check(run.transaction_id) if run.gateway == ACH_GATEWAY \
                else ctx.gateway.transaction(run.transaction_id)
        except NotFoundError as exc:
            if hints.drop_unconfirmed(ctx.db_url, run.id):
                raise RunFinished("skipped") from exc  # only silent posts named it: a quiet drop (flows/hints.py)
            raise RetriableError(f"transaction {run.transaction_id} not in PayTrace's export (yet): {exc.message}",
                                 system=exc.system, operation=exc.operation, status=exc.status) from exc
        record = mask_payload(found)
    return record, load_record(record, ctx.mapping.dates.timezone)  # refuses a malformed record, every field


def fx_rate(ctx: FlowContext) -> Decimal:
    """Base-currency units per PayTrace currency unit, fixed for the run when it is prepared."""
    mapping = ctx.mapping
    if mapping.currency.base == mapping.paytrace.currency:
        return Decimal(1)
    rate = (ctx.rates or {}).get(mapping.paytrace.currency)
    if rate is None:
        from connectors.errors import UnmappableError

        raise UnmappableError(f"no {mapping.paytrace.currency}->{mapping.currency.base} rate", "currency.rates")
    return rate


def prepare(ctx: FlowContext, run_id: int, kinds: AbcMapping[str, Kind], inbox_id: int | None = None) -> tuple[str, ...]:
    """Decide, once, what the run posts; keep it in the run's columns; return the stages to run."""
    with session_scope(ctx.db_url) as s:
        run = load(s, run_id)
        if run.status in TERMINAL:
            _event_done(s, inbox_id)
            return ()
    kind = kinds[run.kind]
    prepared = kind.prepare(ctx, run)
    txn = prepared.txn
    with session_scope(ctx.db_url) as s:
        row = s.get(SyncRun, run_id)
        row.transaction, row.status, row.updated_at = prepared.record, "running", utcnow()
        if txn is not None:
            row.facts, row.amount, row.paid_at = txn.to_facts(), txn.amount, txn.created_at
            row.customer_key = documents.customer_id_for(txn)
            row.card_profile = card_profile(txn)
            row.invoice_ref = (txn.invoice_id or "")[:50] or None
            row.masked_card = (txn.masked_card or "")[:24] or None
        for name, value in prepared.columns.items():
            setattr(row, name, value)
        for group, finding in prepared.findings:
            file_in(s, group, [finding])
        _event_done(s, inbox_id)
        s.flush()
        if prepared.park is not None:
            park(s, load(s, run_id), *prepared.park)
            return ()
        if prepared.finish is not None:
            status, hold, note = prepared.finish
            finish(s, run_id, status, hold=hold, note=note)
            return ()
        return kind.chain(ctx, load(s, run_id))


def _event_done(s, inbox_id: int | None) -> None:
    """The event's run is prepared (or needs nothing): the event itself is handled."""
    event = s.get(InboxEvent, inbox_id) if inbox_id is not None else None
    if event is not None and event.status == "routed":
        event.status, event.processed_at = "done", utcnow()


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
