"""One PayTrace sale into the ERP, read top-down: prepare at ingest, then customer → order → payment → GL.

At ingest (`prepare`) the sale is checked (a decline, an authorization not captured yet and a
held anomaly post nothing) and the invoice it pays is looked for once (flows/matching.py, the
mapping's lookup chain). The decision is kept in the run's columns. Then, as the mapping's
policies say, the payment is:

    a sale of its own:     customer → order (sales order + invoice) → payment (receipt) → gl
    pays an ERP invoice:                                               payment (receipt) → gl
    unapplied cash:        customer →                                   payment (on account) → gl
    parked for a person:   nothing

Never more than is due is applied; what is left goes on account (and on the review list when the
mapping says flag). Every document comes from flows/documents.py; every stage claims and records
its ledger rows in flows/runs.py, and looks each reference up in the ERP before creating it.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from connectors.errors import PermanentError, RunFinished, ValidationError
from db.session import session_scope
from flows import anomalies, documents, matching
from flows import orders as store_orders
from flows.customer_links import linked_erp_customer
from flows.decision import FLAG, REVIEW, Decision, decide
from flows.intake import Prepared, authoritative, fx_rate
from flows.review import Finding, file_findings
from flows.runs import AUTHORIZED, DECLINED, FlowContext, Plan, Post, Run, claim_more, other_runs_pending_on, park, \
    customer_plan, invoice_hold, record_decision
from schemas.domain import ErpDocument, GatewayTransaction

log = logging.getLogger("paysync.flows")
alert_log = logging.getLogger("paysync.alert")

#: Export types a sale run posts; a sale voided before we synced it is still posted (its void run
#: then reverses it), so the books show what happened.
SYNCED_TYPES = frozenset({"SALE", "SETTLED", "PENDING", "VOID", "AUTHORIZATION"})


# -- at ingest ----------------------------------------------------------------------------------
def prepare(ctx: FlowContext, run: Run) -> Prepared:
    """Check the sale, screen it, and decide once which invoice it pays and how."""
    record, txn = authoritative(ctx, run)
    if txn.is_declined:
        return Prepared(record, txn, finish=("skipped", DECLINED,
                                             f"declined ({txn.status_message or 'not approved'}): nothing to post"))
    if txn.transaction_type not in SYNCED_TYPES:
        raise PermanentError(f"transaction type {txn.transaction_type} is not synced by the sale flow",
                             system="paysync", operation="route")
    if txn.transaction_type == "AUTHORIZATION" and txn.status_code == "N":
        # Money is only held, not taken: nothing to post until the capture (status Y, then GB<n>).
        return Prepared(record, txn, finish=("skipped", AUTHORIZED,
                                             "authorized, not captured yet: posts when captured"))
    store_orders.join(ctx, run, txn)  # the store order it pays, if any: joined now, or waited for
    screening = anomalies.screen(ctx.db_url, run.id, txn, documents.customer_id_for(txn), ctx.pair)
    if screening.flagged and ctx.mapping.policies.flags_block_posting:
        # The mapping says a flag holds the payment: a dead letter a person replays once satisfied.
        raise PermanentError(f"held for review: {screening.reasons()}", system="paysync", operation="screen")
    rate = fx_rate(ctx)
    linked = linked_erp_customer(ctx.db_url, ctx.pair, txn.customer_id) if txn.customer_id else None
    decision = _match(ctx, run, txn, linked, rate)
    # The receipt for an invoice the ERP has is its customer's; otherwise a linked profile's customer, if any.
    columns = {"fx_rate": rate, "erp_customer": (decision.invoice_customer if decision.matched else linked) or None,
               **_decision_columns(decision)}
    amount = documents.amount_of(ctx.mapping, txn.amount, rate)
    if decision.parks(ctx.mapping, amount):
        return Prepared(record, txn, columns, park=_finding(ctx, txn, decision, "nothing posted; post it by hand "
                                                            "(or change the mapping's policy and replay)"))
    return Prepared(record, txn, columns)


def _match(ctx: FlowContext, run: Run, txn: GatewayTransaction, linked: str | None, rate: Decimal) -> Decision:
    """Find the ERP invoice the payment pays by the mapping's chain, and decide how much of it is applied."""
    day = documents.local_date(ctx.mapping, txn)
    customer = linked or documents.customer_id_for(txn)
    invoice, via = matching.find(ctx.erp, ctx.mapping, txn, customer, day)
    pending = Decimal("0.00")
    if invoice is not None:
        with session_scope(ctx.db_url) as s:
            pending = other_runs_pending_on(s, invoice.key, run.id, ctx.erp.kind, ctx.pair)
    return decide(invoice, via, documents.amount_of(ctx.mapping, txn.amount, rate), pending)


def _decision_columns(decision: Decision) -> dict:
    return {"match_outcome": decision.outcome, "match_invoice_key": decision.invoice_key or None,
            "match_invoice_reference": (decision.invoice_reference or "")[:80] or None,
            "match_customer": (decision.invoice_customer or "")[:40] or None, "match_applied": decision.applied,
            "match_via": decision.via or None}


def chain(ctx: FlowContext, run: Run) -> tuple[str, ...]:
    """The stages a prepared sale runs, from its decision (see the module's table)."""
    decision = run.decision
    if decision is not None and decision.matched:
        return ("payment", "gl")
    stages = () if run.erp_customer else ("customer",)
    if decision is None or decision.own_documents(ctx.mapping):
        return stages + ("order", "payment", "gl")
    return stages + ("payment", "gl")  # unapplied cash on account


# -- the stages, in the order they run ----------------------------------------------------------
def _documents(ctx: FlowContext, run: Run, keys: dict[str, str]) -> documents.SaleDocuments:
    held = documents.Held.of({"customer": run.erp_customer or "", **keys})
    return documents.sale(ctx.mapping, run.txn, held, run.decision, run.fx_rate, ctx.erp.max_reference_length)


def _store_order(ctx: FlowContext, run: Run) -> int | None:
    """The store order the sale pays (joined at ingest, read with the run), when the pair has a store."""
    return run.store_order if store_orders.rules_of(ctx) is not None else None


def customer(ctx: FlowContext, run: Run) -> Plan:
    """The payer as an ERP customer: created, or its contact details brought up to date."""
    payer = store_orders.customer_for(ctx, _store_order(ctx, run), _documents(ctx, run, dict(run.done)).customer)
    return customer_plan(ctx, payer)


def order(ctx: FlowContext, run: Run) -> Plan:
    """The sale's own sales order and the invoice billing it (nothing when it pays an ERP invoice)."""
    if _documents(ctx, run, dict(run.done)).sales_order is None:
        return Plan()
    shop = _store_order(ctx, run)
    if shop is not None:
        # A store order's real lines (flows/orders.py), its stock reserved with the sales order.
        return Plan((Post("sales_order", lambda keys: store_orders.ensure_order(
                         ctx, shop, run.txn, store_orders.sales_order_for(ctx, shop, run.txn,
                                                                          _documents(ctx, run, keys).sales_order))),
                     Post("invoice", lambda keys: ctx.erp.ensure_invoice(store_orders.invoice_for(
                         ctx, shop, run.txn, _documents(ctx, run, keys).invoice), absent=keys.absent),
                          after=("sales_order",))))
    return Plan((Post("sales_order", lambda keys: ctx.erp.ensure_sales_order(_documents(ctx, run, keys).sales_order)),
                 Post("invoice", lambda keys: ctx.erp.ensure_invoice(_documents(ctx, run, keys).invoice,
                                                                     absent=keys.absent), after=("sales_order",))))


def payment(ctx: FlowContext, run: Run) -> Plan:
    """The receipt applied to the invoice (never beyond what is due); the rest on account."""
    docs = _documents(ctx, run, dict(run.done))
    posts = []
    if docs.receipt is not None:
        posts.append(Post("payment", lambda keys: _apply(ctx, run, _documents(ctx, run, keys).receipt, keys.absent),
                          after=("invoice",)))
    if docs.on_account is not None:
        posts.append(Post("on_account", lambda keys: ctx.erp.ensure_payment(_documents(ctx, run, keys).on_account,
                                                                            absent=keys.absent), after=("payment",)))
    return Plan(tuple(posts), then=lambda keys: _flag_rest(ctx, run, keys), holds=invoice_hold(run.invoice_key))


def _apply(ctx: FlowContext, run: Run, receipt, absent: bool) -> ErpDocument | dict[str, ErpDocument]:
    """The receipt to its invoice; if the ERP says less is due now (a payment raced ours), decide again."""
    try:
        return ctx.erp.ensure_payment(receipt, absent=absent)
    except ValidationError:
        if run.decision is None or not run.decision.matched:
            raise
        invoice = ctx.erp.invoice_info(run.decision.invoice_key)
        if invoice.open_amount >= receipt.amount:
            raise  # refused for another reason: a person must look
    total = documents.amount_of(ctx.mapping, run.txn.amount, run.fx_rate)
    again = decide(invoice, run.decision.via, total)
    with session_scope(ctx.db_url) as s:
        record_decision(s, run.id, again)
        if again.parks(ctx.mapping, total):
            park(s, replace(run, decision=again), *_finding(ctx, run.txn, again, "nothing posted; post it by hand"))
            raise RunFinished("skipped")
    run = replace(run, decision=again)
    docs = _documents(ctx, run, {})
    written: dict[str, ErpDocument] = {}
    if docs.receipt is not None:
        written["payment"] = ctx.erp.ensure_payment(docs.receipt)
    if docs.on_account is not None:
        claim_more(ctx, run, "payment", "on_account")
        written["on_account"] = ctx.erp.ensure_payment(docs.on_account)
        _flag_rest(ctx, run, {k: v.key for k, v in written.items()})
    return written


def _flag_rest(ctx: FlowContext, run: Run, keys: dict[str, str]) -> None:
    """A payment partly or wholly on account because of a duplicate or overpayment: a person is told (flag)."""
    decision = run.decision
    if decision is None or "on_account" not in keys or decision.rest_policy(ctx.mapping) not in (FLAG, REVIEW):
        return
    docs = _documents(ctx, run, keys)
    log.info("payment %s: %s; %s on account as %s", run.transaction_id, decision.describe(), docs.on_account.amount,
             docs.on_account.reference)
    finding, group = _finding(ctx, run.txn, decision, f"{docs.on_account.amount} posted on account (unapplied "
                                                      f"cash) as {docs.on_account.reference}; apply or refund it")
    file_findings(ctx.db_url, group, [finding])


def _finding(ctx: FlowContext, txn: GatewayTransaction, decision: Decision, action: str) -> tuple[Finding, str]:
    kind = {"unmatched": "unmatched", "duplicate": "duplicate"}.get(decision.outcome, "overpayment")
    reason = f"payment {txn.transaction_id} of {txn.amount}: {decision.describe()}; {action}"
    alert_log.warning("REVIEW %s", reason)
    return Finding(kind, documents.review_reference(txn, ctx.pair), reason, {
        "transaction_id": txn.transaction_id, "amount": str(txn.amount),
        "invoice": decision.invoice_reference or decision.invoice_key, "applied": str(decision.applied),
        "invoice_id": txn.invoice_id, "customer_reference_id": txn.customer_reference_id}), \
        f"{kind}:{documents.local_date(ctx.mapping, txn).isoformat()}"


def gl(ctx: FlowContext, run: Run) -> Plan:
    """The journal moving the receipt from undeposited funds to card clearing until the batch settles."""
    return Plan((Post("journal", lambda keys: ctx.erp.ensure_journal(_documents(ctx, run, keys).journal,
                                                                     absent=keys.absent),
                      after=("payment", "on_account")),),
                then=lambda keys: store_orders.sale_posted(ctx, _store_order(ctx, run)))  # the store is told its order is paid


STAGES = {"customer": customer, "order": order, "payment": payment, "gl": gl}
