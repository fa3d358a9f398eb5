"""What happens to a payment after the sale: refunds (full, partial, several) and voids.

A refund is a PayTrace transaction of its own (type REFUND, linked to its sale); a void keeps the
sale's id (type VOID). Each waits for its sale to be in the ERP, then posts, step by step with
the same ledger-first, look-up-before-create idempotency as the sale:

    refund: fetch -> credit memo against the sale's invoice -> customer refund -> journal
    void:   fetch -> reverse the sale's receipt (the invoice is open again) -> reversing journal

The journals undo the sale's move into card clearing for the money that went back, so clearing
keeps matching what the processor will settle. The sum of refunds never exceeds the sale.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from connectors.errors import PermanentError, RetriableError
from db.models import SyncRun
from db.session import session_scope
from flows import orders as store_orders
from flows import payment_sync, store_refunds, transform
from flows.ledger import step_refs
from flows.review import Finding, file_findings
from flows.payment_sync import PARKED, FlowContext, load_record, RunFinished, _finish, _post, _txn, fetch_transaction
from schemas.domain import CreditMemo, GatewayTransaction, JournalEntry, JournalLine, OrderLine, Refund, Reversal

alert_log = logging.getLogger("paysync.alert")


# -- helpers ---------------------------------------------------------------------------------
def _sale(ctx: FlowContext, transaction_id: int, waiting: str,
          gateway: str = "paytrace") -> tuple[SyncRun, GatewayTransaction, dict[str, str]]:
    """The sale run a refund or void builds on, once it is in the ERP; until then, try again later."""
    with session_scope(ctx.db_url) as s:
        sale = s.scalar(select(SyncRun).where(SyncRun.pair == ctx.pair, SyncRun.gateway == gateway,
                                              SyncRun.erp == ctx.erp.kind,
                                              SyncRun.transaction_id == transaction_id, SyncRun.kind == "sale"))
    parked = sale is not None and sale.status == "skipped" and (sale.last_error or "").startswith(PARKED)
    if sale is None or (sale.status != "succeeded" and not parked) or sale.transaction is None:
        state = "not seen yet" if sale is None else sale.status
        # Out of order (a refund before its sale synced): wait with the usual backoff; if the sale
        # never lands, this becomes a dead letter to replay once it has.
        raise RetriableError(f"{waiting} waits for sale {transaction_id} ({state})", system="paysync",
                             operation="predecessor")
    return sale, load_record(sale.transaction, ctx.rules.timezone), step_refs(ctx.db_url, sale.id)


def _original_id(txn_record: dict) -> int:
    original = txn_record.get("original_transaction_id") or txn_record.get("original_check_transaction_id")
    if not original:
        # [I] PayTrace's link from a refund to its sale was not found in public sources; the
        # sandbox calls it original_transaction_id. Without it the refund cannot be placed.
        raise PermanentError("refund names no original transaction (original_transaction_id)", system="paysync",
                             operation="refund")
    return int(original)


def _for_a_person(ctx: FlowContext, run: SyncRun, txn: GatewayTransaction, sale_refs: dict[str, str],
                  what: str) -> None:
    """A refund or void of a sale that was not applied to an invoice (parked, or cash on account).

    The credit memo and reversal a refund or void writes need the invoice and the receipt the
    sale was applied to; without them there is nothing the ERP could be asked to undo safely.
    The case goes on the review list and the run stops with the reason.
    """
    if "invoice" in sale_refs and "payment" in sale_refs and "on_account" not in sale_refs:
        return
    state = ("was parked for review: nothing of it was posted" if "payment" not in sale_refs
             and "on_account" not in sale_refs else "was posted (partly) on account as unapplied cash")
    reason = f"{what} {txn.transaction_id} of {txn.amount}: its sale {state}; undo it by hand in the ERP"
    alert_log.warning("REVIEW %s", reason)
    file_findings(ctx.db_url, f"{run.kind}:{transform.local_date(txn, ctx.rules).isoformat()}", [Finding(
        run.kind, transform.review_reference(txn, ctx.pair), reason, {"transaction_id": txn.transaction_id,
                                                     "amount": str(txn.amount), "sale_steps": sale_refs})])
    _finish(ctx, run.id, "skipped", f"{PARKED}: {reason}")
    raise RunFinished("skipped")


def _mark(ctx: FlowContext, kind: str, key: str | None, paytrace_status: str) -> None:
    status = ctx.statuses.get(paytrace_status)
    if key and status:
        ctx.erp.set_status(kind, key, status)


def _clearing_back(reference: str, day, amount: Decimal, text: str, rules) -> JournalEntry:
    """Money that went back to the card: out of card clearing, into the account the refund pays from."""
    return JournalEntry(reference, day, text, (JournalLine(rules.cash_account, amount, text),
                                              JournalLine(rules.clearing_account, -amount, text)))


# -- refund steps ----------------------------------------------------------------------------
def credit_refund(ctx: FlowContext, run_id: int) -> None:
    """A credit memo against the sale's invoice, for the refunded amount (never more than is left)."""
    run, txn, _ = _txn(ctx, run_id)
    original = _original_id(run.transaction)
    sale_run, sale, sale_refs = _sale(ctx, original, f"refund {txn.transaction_id}", run.gateway)
    _for_a_person(ctx, run, txn, sale_refs, "refund")
    with session_scope(ctx.db_url) as s:
        others = s.scalars(select(SyncRun.amount).where(
            SyncRun.kind == "refund", SyncRun.erp == ctx.erp.kind, SyncRun.id != run_id, SyncRun.pair == ctx.pair,
            SyncRun.gateway == run.gateway,
            SyncRun.parent_transaction_id == original, SyncRun.status.in_(("succeeded", "running")))).all()
    refunded = sum((Decimal(a) for a in others if a is not None), Decimal("0"))
    if refunded + txn.amount > sale.amount:
        raise PermanentError(f"refund {txn.transaction_id} of {txn.amount} would take refunds of sale {original} "
                             f"to {refunded + txn.amount}, above the sale's {sale.amount}", system="paysync",
                             operation="refund")
    memo = CreditMemo(transform.ref(txn, "credit_memo"), sale_refs["customer"],
                      transform.local_date(txn, ctx.rules), sale_refs["invoice"],
                      (OrderLine(ctx.rules.default_item, Decimal("1"), txn.amount,
                                 f"PayTrace refund {txn.transaction_id} of sale {original}"),))
    _post(ctx, run, "credit_memo", lambda: store_refunds.ensure_memo(ctx, sale.transaction_id, txn, memo))


def pay_refund(ctx: FlowContext, run_id: int) -> None:
    """The money paid back to the customer, settling the credit memo."""
    run, txn, refs = _txn(ctx, run_id)
    _, _, sale_refs = _sale(ctx, _original_id(run.transaction), f"refund {txn.transaction_id}", run.gateway)
    refund = Refund(transform.ref(txn, "refund"), sale_refs["customer"],
                    transform.local_date(txn, ctx.rules), txn.amount, refs["credit_memo"],
                    ctx.rules_for(txn).cash_account, ctx.rules_for(txn).payment_method)
    _post(ctx, run, "refund", lambda: ctx.erp.ensure_refund(refund))


def post_refund_journal(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    original = _original_id(run.transaction)
    _, sale, sale_refs = _sale(ctx, original, f"refund {txn.transaction_id}", run.gateway)
    entry = _clearing_back(transform.ref(txn, "journal"), transform.local_date(txn, ctx.rules),
                           txn.amount, f"PayTrace refund {txn.transaction_id} of sale {original}", ctx.rules_for(txn))
    _post(ctx, run, "journal", lambda: ctx.erp.ensure_journal(entry))
    _mark(ctx, "invoice", sale_refs.get("invoice"), "refunded" if txn.amount >= sale.amount else "partially_refunded")
    _finish(ctx, run_id, "succeeded")
    store_orders.payment_event(ctx, txn, "refunded", sale_id=original)


# -- void steps ------------------------------------------------------------------------------
def reverse_receipt(ctx: FlowContext, run_id: int) -> None:
    """Undo the sale's receipt: the invoice is open again for the full amount."""
    run, txn, _ = _txn(ctx, run_id)
    _, sale, sale_refs = _sale(ctx, txn.transaction_id, f"void of {txn.transaction_id}", run.gateway)
    _for_a_person(ctx, run, txn, sale_refs, "void")
    reversal = Reversal(transform.ref(txn, "void"), sale_refs["customer"],
                        transform.local_date(txn, ctx.rules), sale.amount, sale_refs["payment"])
    _post(ctx, run, "reversal", lambda: ctx.erp.ensure_reversal(reversal))


def post_void_journal(ctx: FlowContext, run_id: int) -> None:
    run, txn, _ = _txn(ctx, run_id)
    _, sale, sale_refs = _sale(ctx, txn.transaction_id, f"void of {txn.transaction_id}", run.gateway)
    entry = _clearing_back(transform.ref(txn, "void_journal"),
                           transform.local_date(txn, ctx.rules), sale.amount,
                           f"PayTrace void of {txn.transaction_id}", ctx.rules_for(txn))
    _post(ctx, run, "journal", lambda: ctx.erp.ensure_journal(entry))
    _mark(ctx, "invoice", sale_refs.get("invoice"), "voided")
    _finish(ctx, run_id, "succeeded")
    store_orders.payment_event(ctx, txn, "cancelled", sale_id=txn.transaction_id)


# -- decline steps ---------------------------------------------------------------------------
def mark_declined_order(ctx: FlowContext, run_id: int) -> None:
    """The order the customer tried to pay for, marked with the mapped failed status; nothing to cash."""
    run, txn, refs = _txn(ctx, run_id)
    order = transform.sales_order_for(txn, refs.get("customer", ""), ctx.rules_for(txn))
    _post(ctx, run, "sales_order", lambda: ctx.erp.ensure_sales_order(order))
    _mark(ctx, "sales_order", step_refs(ctx.db_url, run_id).get("sales_order"), "declined")
    reason = f"declined: {txn.status_message or 'not approved'} ({txn.amount} on {txn.masked_card or 'card'})"
    alert_log.error("ALERT payment %s declined for order %s: %s", txn.transaction_id, order.reference, reason)
    file_findings(ctx.db_url, f"declined:{txn.created_at.date().isoformat()}", [Finding(
        "declined", transform.review_reference(txn, ctx.pair), reason, {"transaction_id": txn.transaction_id, "order": order.reference,
                                                       "amount": str(txn.amount)})])
    _finish(ctx, run_id, "succeeded", reason)
    store_orders.payment_event(ctx, txn, "failed")


DECLINE_STEPS = (fetch_transaction, payment_sync.upsert_customer, mark_declined_order)
REFUND_STEPS = (fetch_transaction, credit_refund, pay_refund, post_refund_journal)
VOID_STEPS = (fetch_transaction, reverse_receipt, post_void_journal)


#: Every kind of run and its steps, in order; and, per kind, which flow step writes each ledger step.
STEPS_BY_KIND = {"sale": payment_sync.STEPS, "refund": REFUND_STEPS, "void": VOID_STEPS, "decline": DECLINE_STEPS}
# Chargebacks register themselves (flows.chargebacks imports this module).
LEDGER_BY_KIND = {
    "sale": payment_sync.LEDGER_STEPS,
    "refund": {"credit_memo": "credit_refund", "refund": "pay_refund", "journal": "post_refund_journal"},
    "void": {"reversal": "reverse_receipt", "journal": "post_void_journal"},
    "chargeback": {"journal": "post_chargeback"},
    "decline": {"customer": "upsert_customer", "sales_order": "mark_declined_order"},
}


def resume_steps(kind: str, step_name: str | None) -> tuple:
    """The steps a run of `kind` still has to run from `step_name` (a flow or ledger step name).

    Done steps are no-ops anyway (the ledger), so an unknown name starts from the beginning.
    """
    steps = STEPS_BY_KIND[kind]
    names = [f.__name__ for f in steps]
    name = LEDGER_BY_KIND[kind].get(step_name or "", step_name)
    return steps[names.index(name):] if name in names else steps
