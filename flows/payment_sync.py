"""One PayTrace sale into the ERP: fetch, customer, sales order, invoice, receipt, journal.

Each step takes a run id, is idempotent (ledger row first, then an ERP-side lookup by the
deterministic reference before any create), and returns nothing the next step needs beyond the
run id: state lives in the database. The Celery wrappers in workers/tasks.py follow STEPS.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, RetriableError
from connectors.paytrace import PayTraceGateway
from db.models import SyncRun
from db.session import session_scope
from db.types import utcnow
from flows import anomalies, transform
from flows.ledger import run_step, step_refs
from schemas.domain import ErpDocument, GatewayTransaction
from schemas.masking import mask_payload
from schemas.paytrace import load_transaction

log = logging.getLogger(__name__)

#: Export types a sale run posts; a sale voided before we synced it is still posted (its void run
#: then reverses it), so the books show what happened.
SYNCED_TYPES = frozenset({"SALE", "SETTLED", "PENDING", "VOID", "AUTHORIZATION"})
#: What a run of an authorization that is not captured yet finishes with; a capture revives it.
AUTHORIZED_ONLY = "authorized, not captured yet: posts when captured"
#: The export type each other kind of run must find.
KIND_TYPES = {"refund": "REFUND", "void": "VOID", "decline": "DECLINED"}
TERMINAL = frozenset({"succeeded", "skipped", "dead"})


@dataclass
class FlowContext:
    """What a step needs: where the database is, and the systems on either side."""

    db_url: str
    gateway: PayTraceGateway
    erp: ErpConnector
    rules: transform.PostingRules
    lease_seconds: float
    #: The mapping file the rules came from, recorded on every ledger row it writes.
    mapping_checksum: str | None = None
    #: The mapping's word on whether an anomaly flag holds a payment back (default: it does not).
    flags_block_posting: bool = False
    #: PayTrace status (voided, refunded, ...) -> the invoice status word the mapping gives it.
    statuses: dict[str, str] = field(default_factory=dict)
    #: Where a chargeback's cost is booked (the mapping's accounts.chargeback).
    chargeback_account: str = ""


class RunFinished(Exception):
    """The run needs no more steps (declined, already done); the chain stops here."""


# -- helpers ---------------------------------------------------------------------------------
def _run(ctx: FlowContext, run_id: int) -> SyncRun:
    with session_scope(ctx.db_url) as s:
        run = s.get(SyncRun, run_id)
        if run is None:
            raise PermanentError(f"sync run {run_id} does not exist", system="paysync", operation="load run")
        return run


def _txn(ctx: FlowContext, run_id: int) -> tuple[SyncRun, GatewayTransaction, dict[str, str]]:
    """The run, its transaction, and the ERP keys of the steps it has finished."""
    run = _run(ctx, run_id)
    if run.status in TERMINAL:
        raise RunFinished(run.status)
    if run.transaction is None:
        raise PermanentError(f"run {run_id} has no transaction yet; fetch first", system="paysync",
                             operation="load transaction")
    return run, load_transaction(run.transaction, ctx.rules.timezone), step_refs(ctx.db_url, run_id)


def _key(run: SyncRun, step: str) -> str:
    return f"{run.transaction_id}:{step}"


def _post(ctx: FlowContext, run: SyncRun, step: str, ensure: Callable[[], ErpDocument]) -> None:
    """Write one ERP document for the run's step, once: ledger claim, then the idempotent ensure."""

    def action() -> tuple[str, str]:
        doc = ensure()
        return doc.key, doc.reference

    run_step(ctx.db_url, run.id, step, _key(run, step), action, ctx.lease_seconds, ctx.mapping_checksum)


def _finish(ctx: FlowContext, run_id: int, status: str, note: str | None = None) -> None:
    with session_scope(ctx.db_url) as s:
        run = s.get(SyncRun, run_id)
        run.status = status
        run.finished_at = utcnow()
        run.current_step = None
        run.last_error = note


def _authoritative(ctx: FlowContext, transaction_id: int) -> dict:
    """PayTrace's own record of a transaction a push named.

    A push can outrun PayTrace's export, so "not found" is retried (with the usual backoff) before
    it becomes a dead letter; if the export shows it later, the poller's row revives the run.
    """
    try:
        return ctx.gateway.transaction(transaction_id)
    except NotFoundError as exc:
        raise RetriableError(f"transaction {transaction_id} not in PayTrace's export (yet): {exc.message}",
                             system=exc.system, operation=exc.operation, status=exc.status) from exc


# -- the steps, in the order they run --------------------------------------------------------
def fetch_transaction(ctx: FlowContext, run_id: int) -> None:
    """Read the authoritative transaction from PayTrace; decide whether there is anything to post."""
    run = _run(ctx, run_id)
    if run.status in TERMINAL:
        raise RunFinished(run.status)
    # A row the poller took from the export API is already authoritative (DESIGN.md); a pushed
    # event is only a hint, so its run starts without a record and reads it here.
    record = run.transaction or mask_payload(_authoritative(ctx, run.transaction_id))
    txn = load_transaction(record, ctx.rules.timezone)  # refuses a malformed record, with every field
    customer_key = transform.customer_id_for(txn)
    parent = record.get("original_transaction_id") if run.kind == "refund" else None
    with session_scope(ctx.db_url) as s:
        row = s.get(SyncRun, run_id)
        row.transaction = record
        row.status = "running"
        row.amount, row.customer_key, row.paid_at = txn.amount, customer_key, txn.created_at
        row.card_profile = anomalies.card_profile(txn)
        row.parent_transaction_id = int(parent) if str(parent or "").isdigit() else None
    if run.kind != "sale":
        if txn.transaction_type != KIND_TYPES[run.kind]:
            # A push that named the wrong kind: the poller's own record creates the right run.
            raise PermanentError(f"transaction {txn.transaction_id} is a {txn.transaction_type}, not a "
                                 f"{KIND_TYPES[run.kind]}", system="paysync", operation="route")
        return
    if txn.is_declined:
        _finish(ctx, run_id, "skipped", f"declined ({txn.status_message or 'not approved'}): nothing to post")
        raise RunFinished("skipped")
    if txn.transaction_type not in SYNCED_TYPES:
        raise PermanentError(f"transaction type {txn.transaction_type} is not synced by the sale flow",
                             system="paysync", operation="route")
    if txn.transaction_type == "AUTHORIZATION" and txn.status_code == "N":
        # Money is only held, not taken: nothing to post until the capture (status Y, then GB<n>).
        _finish(ctx, run_id, "skipped", AUTHORIZED_ONLY)
        raise RunFinished("skipped")
    screening = anomalies.screen(ctx.db_url, run_id, txn, customer_key)
    if screening.flagged and ctx.flags_block_posting:
        # The mapping says a flag holds the payment: a dead letter a person replays once satisfied.
        raise PermanentError(f"held for review: {screening.reasons()}", system="paysync", operation="screen")


def upsert_customer(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    customer = transform.customer_for(txn)  # at most 20 characters; a connector maps to shorter ids
    run_step(ctx.db_url, run_id, "customer", _key(run, "customer"),
             lambda: (ctx.erp.upsert_customer(customer), None), ctx.lease_seconds, ctx.mapping_checksum)


def create_sales_order(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    order = transform.sales_order_for(txn, refs.get("customer", ""), ctx.rules)
    _post(ctx, run, "sales_order", lambda: ctx.erp.ensure_sales_order(order))


def create_invoice(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    invoice = transform.invoice_for(txn, refs.get("customer", ""), refs.get("sales_order"), ctx.rules)
    _post(ctx, run, "invoice", lambda: ctx.erp.ensure_invoice(invoice))


def apply_receipt(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    invoice_key = refs.get("invoice")
    if not invoice_key:
        raise PermanentError(f"run {run_id} has no invoice to apply the receipt to", system="paysync",
                             operation="payment")
    payment = transform.payment_for(txn, refs.get("customer", ""), invoice_key, ctx.rules)
    _post(ctx, run, "payment", lambda: ctx.erp.ensure_payment(payment))


def post_journal(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    entry = transform.journal_for(txn, ctx.rules)
    _post(ctx, run, "journal", lambda: ctx.erp.ensure_journal(entry))
    _finish(ctx, run_id, "succeeded")


STEPS = (fetch_transaction, upsert_customer, create_sales_order, create_invoice, apply_receipt, post_journal)


#: Ledger step name -> the flow step that writes it, so a run resumes where it stopped.
LEDGER_STEPS = {"customer": "upsert_customer", "sales_order": "create_sales_order", "invoice": "create_invoice",
                "payment": "apply_receipt", "journal": "post_journal"}
