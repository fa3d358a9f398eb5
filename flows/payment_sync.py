"""One PayTrace sale into the ERP: fetch, match, customer, sales order, invoice, receipt, journal.

The match step finds the ERP invoice the payment pays (flows/matching.py, by the mapping's lookup
chain). A payment that pays one is applied to it (never beyond what is due); one that pays none
is, as the mapping's policies say, a sale of its own (its own order and invoice), unapplied cash
on account, or parked for a person. Overpayments and duplicates are never applied twice.

Each step takes a run id, is idempotent (ledger row first, then an ERP-side lookup by the
deterministic reference before any create), and returns nothing the next step needs beyond the
run id: state lives in the database. The Celery wrappers in workers/tasks.py follow STEPS.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Callable

from sqlalchemy import select

from config.mapping import posting_rules
from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, RetriableError, ValidationError
from connectors.paytrace import PayTraceGateway
from db.models import StepLedger, SyncRun
from db.session import session_scope
from db.types import utcnow
from flows import anomalies, matching, names, transform
from flows.ledger import record_decision, run_step, step_record, step_refs
from flows.review import Finding, file_findings
from schemas.domain import ErpDocument, GatewayTransaction
from schemas.mapping import Mapping
from schemas.masking import mask_payload
from schemas.paytrace import load_check, load_transaction

log = logging.getLogger(__name__)
alert_log = logging.getLogger("paysync.alert")

#: Export types a sale run posts; a sale voided before we synced it is still posted (its void run
#: then reverses it), so the books show what happened.
SYNCED_TYPES = frozenset({"SALE", "SETTLED", "PENDING", "VOID", "AUTHORIZATION"})
#: What a run of an authorization that is not captured yet finishes with; a capture revives it.
AUTHORIZED_ONLY = "authorized, not captured yet: posts when captured"
#: The export type each other kind of run must find.
KIND_TYPES = {"refund": "REFUND", "void": "VOID", "decline": "DECLINED"}
TERMINAL = frozenset({"succeeded", "skipped", "dead"})
#: The sync_run.gateway of checks (ACH): their ids are a sequence of their own.
ACH_GATEWAY = "paytrace_ach"
#: How the note of a run that posted nothing because a person must decide begins.
PARKED = "parked for review"


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
    #: The whole mapping (invoice lookup chain, unmatched and duplicate policies); None: every sale
    #: writes its own order and invoice, as before mapping files existed.
    mapping: Mapping | None = None
    #: The integration pair (PayTrace account -> ERP) this context posts for.
    pair: str = "default"

    def rules_for(self, txn: GatewayTransaction) -> transform.PostingRules:
        """The accounts and payment method of the transaction's payment type (ACH has its own)."""
        if txn.payment_type == "ACH" and self.mapping is not None:
            return posting_rules(self.mapping, "ACH")
        return self.rules


def load_record(record: dict, timezone: str) -> GatewayTransaction:
    """A stored export record into the domain: a check's (ACH) or a card transaction's."""
    return load_check(record, timezone) if "check_transaction_id" in record else load_transaction(record, timezone)


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
    return run, load_record(run.transaction, ctx.rules.timezone), step_refs(ctx.db_url, run_id)


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


def _authoritative(ctx: FlowContext, transaction_id: int, gateway: str = "paytrace") -> dict:
    """PayTrace's own record of a transaction a push named.

    A push can outrun PayTrace's export, so "not found" is retried (with the usual backoff) before
    it becomes a dead letter; if the export shows it later, the poller's row revives the run.
    """
    try:
        if gateway == ACH_GATEWAY:
            return ctx.gateway.check(transaction_id)
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
    record = run.transaction or mask_payload(_authoritative(ctx, run.transaction_id, run.gateway))
    txn = load_record(record, ctx.rules.timezone)  # refuses a malformed record, with every field
    customer_key = transform.customer_id_for(txn)
    parent = (record.get("original_transaction_id") or record.get("original_check_transaction_id")) \
        if run.kind == "refund" else None
    with session_scope(ctx.db_url) as s:
        row = s.get(SyncRun, run_id)
        row.transaction = record
        row.status = "running"
        row.amount, row.customer_key, row.paid_at = txn.amount, customer_key, txn.created_at
        row.card_profile = anomalies.card_profile(txn)
        row.parent_transaction_id = int(parent) if str(parent or "").isdigit() else None
    if run.kind != "sale":
        returned = run.kind == "void" and txn.payment_type == "ACH" and txn.status_code == "RETURNED"
        if txn.transaction_type != KIND_TYPES[run.kind] and not returned:
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
    screening = anomalies.screen(ctx.db_url, run_id, txn, customer_key, ctx.pair)
    if screening.flagged and ctx.flags_block_posting:
        # The mapping says a flag holds the payment: a dead letter a person replays once satisfied.
        raise PermanentError(f"held for review: {screening.reasons()}", system="paysync", operation="screen")


def match_invoice(ctx: FlowContext, run_id: int) -> None:
    """Find the ERP invoice the payment pays (flows/matching.py) and decide, once, how it is posted."""
    run, txn, _ = _txn(ctx, run_id)
    if ctx.mapping is None:
        return

    def action() -> tuple[str, str]:
        day = transform.local_date(txn, ctx.rules)
        customer = _linked_customer(ctx, txn) or transform.customer_id_for(txn)
        invoice, via = matching.find(ctx.erp, ctx.mapping, txn, customer, day)
        pending = _pending_on(ctx, invoice.key, run_id) if invoice else Decimal("0.00")
        decision = matching.decide(invoice, via, txn.amount, pending)
        return decision.invoice_key, decision.encode()

    run_step(ctx.db_url, run_id, "match", _key(run, "match"), action, ctx.lease_seconds, ctx.mapping_checksum)


def _pending_on(ctx: FlowContext, invoice_key: str, run_id: int) -> Decimal:
    """What other runs decided to apply to the invoice but have not applied yet (the ERP does not know)."""
    paid = select(StepLedger.run_id).where(StepLedger.step == "payment", StepLedger.status == "done")
    with session_scope(ctx.db_url) as s:
        rows = s.scalars(select(StepLedger.erp_reference_number).join(SyncRun, SyncRun.id == StepLedger.run_id).where(
            StepLedger.step == "match", StepLedger.erp_ref == invoice_key, StepLedger.status == "done",
            StepLedger.run_id != run_id, SyncRun.erp == ctx.erp.kind, SyncRun.pair == ctx.pair,
            SyncRun.status.in_(("pending", "running")), StepLedger.run_id.not_in(paid))).all()
    return sum((matching.Decision.decode(invoice_key, r).applied for r in rows), Decimal("0.00"))


def payment_on_its_way(ctx: FlowContext, invoice_key: str) -> bool:
    """Is a payment of ours decided onto this invoice and not applied yet (recurring billing must wait)?"""
    return _pending_on(ctx, invoice_key, run_id=0) > 0


def _decision(ctx: FlowContext, run: SyncRun) -> matching.Decision | None:
    """The sale's match decision; None when it writes its own order and invoice (or is no sale)."""
    run_id = run.id
    if ctx.mapping is None or run.kind != "sale":
        return None
    key, text = step_record(ctx.db_url, run_id, "match")
    if text is None:
        raise PermanentError(f"run {run_id} has no match decision; run match_invoice first", system="paysync",
                             operation="match")
    decision = matching.Decision.decode(key, text)
    if not decision.matched and decision.rest_policy(ctx.mapping) == matching.CREATE:
        return None
    return decision


def upsert_customer(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    decision = _decision(ctx, run)
    if decision is not None and decision.matched:
        # The receipt belongs to whoever the invoice is billed to; their record is theirs, not ours to rewrite.
        run_step(ctx.db_url, run_id, "customer", _key(run, "customer"),
                 lambda: (ctx.erp.invoice_info(decision.invoice_key).customer_id, None), ctx.lease_seconds,
                 ctx.mapping_checksum)
        return
    linked = _linked_customer(ctx, txn)
    if linked:
        # A vault profile the customer sync linked (or merged) to an ERP customer: that one, as it is.
        run_step(ctx.db_url, run_id, "customer", _key(run, "customer"), lambda: (linked, None), ctx.lease_seconds,
                 ctx.mapping_checksum)
        return
    customer = transform.customer_for(txn)  # at most 20 characters; a connector maps to shorter ids
    run_step(ctx.db_url, run_id, "customer", _key(run, "customer"),
             lambda: (names.upsert(ctx.db_url, ctx.pair, ctx.erp, customer), None), ctx.lease_seconds,
             ctx.mapping_checksum)


def _linked_customer(ctx: FlowContext, txn: GatewayTransaction) -> str | None:
    """The ERP customer the customer sync linked the payment's vault profile to, if any."""
    if not txn.customer_id:
        return None
    from flows.customers import linked_erp_customer  # flows.customers builds on this module

    return linked_erp_customer(ctx.db_url, ctx.pair, txn.customer_id)


def create_sales_order(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    if _decision(ctx, run) is not None:
        return  # it pays an invoice the ERP already has, or none at all: no order of its own
    order = transform.sales_order_for(txn, refs.get("customer", ""), ctx.rules_for(txn))
    _post(ctx, run, "sales_order", lambda: ctx.erp.ensure_sales_order(order))


def create_invoice(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    decision = _decision(ctx, run)
    if decision is not None:
        if decision.matched:
            # The invoice found stands as the sale's invoice: refunds credit it, a void reopens it.
            run_step(ctx.db_url, run_id, "invoice", _key(run, "invoice"),
                     lambda: (decision.invoice_key, decision.invoice_reference or None), ctx.lease_seconds,
                     ctx.mapping_checksum)
        return
    invoice = transform.invoice_for(txn, refs.get("customer", ""), refs.get("sales_order"), ctx.rules_for(txn))
    _post(ctx, run, "invoice", lambda: ctx.erp.ensure_invoice(invoice))


def apply_receipt(ctx: FlowContext, run_id: int) -> None:
    run, txn, refs = _txn(ctx, run_id)
    decision = _decision(ctx, run)
    if decision is None:
        invoice_key = refs.get("invoice")
        if not invoice_key:
            raise PermanentError(f"run {run_id} has no invoice to apply the receipt to", system="paysync",
                                 operation="payment")
        payment = transform.payment_for(txn, refs.get("customer", ""), invoice_key, ctx.rules_for(txn))
        _post(ctx, run, "payment", lambda: ctx.erp.ensure_payment(payment))
        return
    policy = decision.rest_policy(ctx.mapping)
    rest = txn.amount - decision.applied
    if rest > 0 and policy == matching.REVIEW and "payment" not in refs:
        _park(ctx, run, txn, decision)
    customer = refs.get("customer", "")
    if decision.applied > 0:
        decision = _apply_to_invoice(ctx, run, txn, decision, customer)
        rest = txn.amount - decision.applied
        policy = decision.rest_policy(ctx.mapping)
        if rest > 0 and policy == matching.REVIEW and "payment" not in step_refs(ctx.db_url, run_id):
            _park(ctx, run, txn, decision)
    if rest > 0:
        unapplied = replace(transform.payment_for(txn, customer, None, ctx.rules_for(txn)),
                            reference=transform.ref(txn, "on_account"), amount=rest)
        _post(ctx, run, "on_account", lambda: ctx.erp.ensure_payment(unapplied))
        log.info("payment %s: %s; %s on account as %s", txn.transaction_id, decision.describe(), rest,
                 unapplied.reference)
        if policy in (matching.FLAG, matching.REVIEW):
            # (review reaches here only when part was applied before the ERP said less was due)
            _file(ctx, txn, decision, f"{rest} posted on account (unapplied cash) as {unapplied.reference}; "
                                      f"apply or refund it")


def _apply_to_invoice(ctx: FlowContext, run: SyncRun, txn: GatewayTransaction, decision: matching.Decision,
                      customer: str) -> matching.Decision:
    """The decided part to its invoice; if the ERP says less is due now (a payment raced ours), decide again."""
    payment = replace(transform.payment_for(txn, customer, decision.invoice_key, ctx.rules_for(txn)),
                      amount=decision.applied)
    try:
        _post(ctx, run, "payment", lambda: ctx.erp.ensure_payment(payment))
        return decision
    except ValidationError:
        invoice = ctx.erp.invoice_info(decision.invoice_key)
        if invoice.open_amount >= decision.applied:
            raise  # refused for another reason: a person must look
    again = matching.decide(invoice, decision.via, txn.amount)
    record_decision(ctx.db_url, run.id, again.invoice_key, again.encode())
    if again.applied > 0:
        payment = replace(payment, amount=again.applied)
        _post(ctx, run, "payment", lambda: ctx.erp.ensure_payment(payment))
    return again


def _park(ctx: FlowContext, run: SyncRun, txn: GatewayTransaction, decision: matching.Decision) -> None:
    """Post nothing: the mapping says a person decides. The run stops, with the reason, on the review list."""
    note = f"{PARKED}: {decision.describe()}"
    _file(ctx, txn, decision, "nothing posted; post it by hand (or change the mapping's policy and replay)")
    _finish(ctx, run.id, "skipped", note)
    raise RunFinished("skipped")


def _file(ctx: FlowContext, txn: GatewayTransaction, decision: matching.Decision, action: str) -> None:
    kind = {matching.UNMATCHED: "unmatched", matching.DUPLICATE: "duplicate"}.get(decision.outcome, "overpayment")
    reason = f"payment {txn.transaction_id} of {txn.amount}: {decision.describe()}; {action}"
    alert_log.warning("REVIEW %s", reason)
    file_findings(ctx.db_url, f"{kind}:{transform.local_date(txn, ctx.rules).isoformat()}", [Finding(
        kind, transform.review_reference(txn, ctx.pair), reason,
        {"transaction_id": txn.transaction_id, "amount": str(txn.amount), "invoice": decision.invoice_reference
         or decision.invoice_key, "applied": str(decision.applied), "invoice_id": txn.invoice_id,
         "customer_reference_id": txn.customer_reference_id})])


def post_journal(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    entry = transform.journal_for(txn, ctx.rules_for(txn))
    _post(ctx, run, "journal", lambda: ctx.erp.ensure_journal(entry))
    _finish(ctx, run_id, "succeeded")


STEPS = (fetch_transaction, match_invoice, upsert_customer, create_sales_order, create_invoice, apply_receipt,
         post_journal)


#: Ledger step name -> the flow step that writes it, so a run resumes where it stopped.
LEDGER_STEPS = {"match": "match_invoice", "customer": "upsert_customer", "sales_order": "create_sales_order",
                "invoice": "create_invoice", "payment": "apply_receipt", "on_account": "apply_receipt",
                "journal": "post_journal"}
