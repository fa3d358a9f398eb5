"""A PayTrace refund into the ERP: prepare (link it to its sale), then order → payment → GL.

    linked to its sale:       order (credit memo against the sale's invoice) → payment (refund) → gl
    nothing links it:         customer → order (credit memo on account) → payment (refund) → gl,
                              and the refund on the review list

A refund is a PayTrace transaction of its own (type REFUND); flows/refund_links.py finds its sale
by what real records carry. The sum of a sale's refunds never exceeds the sale, and the invoice's
status follows the running total (partly credited, then credited).
"""
from __future__ import annotations

from datetime import timedelta

from connectors.errors import PermanentError, RetriableError
from db.models import SyncRun
from db.session import session_scope
from db.types import utcnow
from flows import documents, refund_links, store_refunds
from flows import orders as store_orders
from flows.after_sale import for_a_person, mark, wait_for_sale
from flows.intake import Prepared, authoritative, fx_rate
from flows.review import Finding
from flows.runs import FlowContext, Plan, Post, Run, customer_plan, invoice_hold


def prepare(ctx: FlowContext, run: Run) -> Prepared:
    """Check the refund and link it, once, to the sale it gives money back from."""
    record, txn = authoritative(ctx, run)
    if txn.transaction_type != "REFUND":
        # A push that named the wrong kind: the poller's own record creates the right run.
        raise PermanentError(f"transaction {txn.transaction_id} is a {txn.transaction_type}, not a REFUND",
                             system="paysync", operation="route")
    with session_scope(ctx.db_url) as s:
        found = refund_links.link(s, s.get(SyncRun, run.id), txn, record, ctx.refund_link_field)
    columns = {"fx_rate": fx_rate(ctx)}
    if found is not None:
        columns.update(sale_run_id=found.sale_run_id, parent_transaction_id=found.sale_transaction_id,
                       match_via=found.via)
        return Prepared(record, txn, columns)
    if utcnow() - txn.created_at < timedelta(seconds=ctx.refund_link_wait_seconds):
        # Its sale may not have reached paysync yet (a pushed refund can outrun the poller).
        raise RetriableError(f"refund {txn.transaction_id}: no sale links to it yet", system="paysync",
                             operation="link refund")
    reason = (f"refund {txn.transaction_id} of {txn.amount} ({txn.masked_card or 'no card'}, invoice "
              f"{txn.invoice_id or 'none'}): no sale links to it; posted on account as "
              f"{documents.ref(ctx.mapping, txn, 'credit_memo')}: apply it to the right invoice")
    finding = Finding("refund", documents.review_reference(txn, ctx.pair), reason,
                      {"transaction_id": txn.transaction_id, "amount": str(txn.amount), "invoice_id": txn.invoice_id})
    return Prepared(record, txn, columns,
                    findings=((f"refund:{documents.local_date(ctx.mapping, txn).isoformat()}", finding),))


def chain(ctx: FlowContext, run: Run) -> tuple[str, ...]:
    return ("order", "payment", "gl") if run.sale is not None else ("customer", "order", "payment", "gl")


def _documents(ctx: FlowContext, run: Run, keys: dict[str, str]) -> documents.RefundDocuments:
    sale = run.sale
    held = documents.Held(customer=sale.customer_key if sale else keys.get("customer", ""),
                          invoice=sale.invoice_key if sale else None, credit_memo=keys.get("credit_memo"))
    return documents.refund(ctx.mapping, run.txn, sale.txn if sale else None, held, run.fx_rate)


def customer(ctx: FlowContext, run: Run) -> Plan:
    """The payer as an ERP customer, for a refund no sale links to (its credit memo is on their account)."""
    return customer_plan(ctx, documents.customer(ctx.mapping, run.txn, ctx.erp.max_reference_length))


def order(ctx: FlowContext, run: Run) -> Plan:
    """A credit memo against the sale's invoice, for the refunded amount (never more than is left)."""
    if run.sale is not None:
        sale = wait_for_sale(run, f"refund {run.transaction_id}")
        parked = for_a_person(ctx, run, sale, "refund")
        if parked is not None:
            return parked
        if run.sale_refunded + run.txn.amount > sale.amount:
            raise PermanentError(f"refund {run.transaction_id} of {run.txn.amount} would take refunds of sale "
                                 f"{sale.transaction_id} to {run.sale_refunded + run.txn.amount}, above the sale's "
                                 f"{sale.amount}", system="paysync", operation="refund")
    if run.sale is not None:  # a store refund of the same money may have written its credit memo already
        return Plan((Post("credit_memo", lambda keys: store_refunds.ensure_memo(
            ctx, run.sale.transaction_id, run.txn, _documents(ctx, run, keys).credit_memo)),),
            holds=invoice_hold(run.sale.invoice_key))
    return Plan((Post("credit_memo", lambda keys: ctx.erp.ensure_credit_memo(_documents(ctx, run, keys).credit_memo)),))


def payment(ctx: FlowContext, run: Run) -> Plan:
    """The money paid back to the customer, settling the credit memo."""
    return Plan((Post("refund", lambda keys: ctx.erp.ensure_refund(_documents(ctx, run, keys).refund,
                                                                   absent=keys.absent), after=("credit_memo",)),))


def gl(ctx: FlowContext, run: Run) -> Plan:
    """The journal out of card clearing; the sale's invoice marked by the running total of its refunds."""
    sale = run.sale

    def status(keys: dict[str, str]) -> None:
        if sale is not None:
            whole = run.sale_refunded + run.txn.amount >= sale.amount
            mark(ctx, "invoice", sale.invoice_key, "refunded" if whole else "partially_refunded")
            store_orders.payment_event(ctx, run.txn, "refunded", sale_id=sale.transaction_id)

    return Plan((Post("journal", lambda keys: ctx.erp.ensure_journal(_documents(ctx, run, keys).journal,
                                                                     absent=keys.absent), after=("refund",)),),
                then=status)


STAGES = {"customer": customer, "order": order, "payment": payment, "gl": gl}
