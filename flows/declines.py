"""A declined payment into the ERP: customer → order, marked with the mapping's failed status; nothing to cash.

The customer tried to pay: the order is kept so the ERP shows it, marked as the mapping says
(`statuses.declined`), an alert goes out and the decline is on the review list.
"""
from __future__ import annotations

import logging

from connectors.errors import PermanentError
from flows import documents
from flows import orders as store_orders
from flows.after_sale import mark
from flows.intake import Prepared, authoritative, fx_rate
from flows.review import Finding, file_findings
from flows.runs import FlowContext, Plan, Post, Run, customer_plan

alert_log = logging.getLogger("paysync.alert")


def prepare(ctx: FlowContext, run: Run) -> Prepared:
    record, txn = authoritative(ctx, run)
    if not txn.is_declined:  # a check not processed (status X) reads as DECLINED too
        raise PermanentError(f"transaction {txn.transaction_id} is a {txn.transaction_type}, not a decline",
                             system="paysync", operation="route")
    return Prepared(record, txn, {"fx_rate": fx_rate(ctx)})


def chain(ctx: FlowContext, run: Run) -> tuple[str, ...]:
    return ("order",) if run.erp_customer else ("customer", "order")


def customer(ctx: FlowContext, run: Run) -> Plan:
    return customer_plan(ctx, documents.customer(ctx.mapping, run.txn, ctx.erp.max_reference_length))


def order(ctx: FlowContext, run: Run) -> Plan:
    """The order the customer tried to pay for, marked with the mapped failed status."""
    txn = run.txn

    def marked(keys: dict[str, str]) -> None:
        mark(ctx, "sales_order", keys.get("sales_order"), "declined")
        reason = f"declined: {txn.status_message or 'not approved'} ({txn.amount} on {txn.masked_card or 'card'})"
        reference = documents.ref(ctx.mapping, txn, "sales_order")
        alert_log.error("ALERT payment %s declined for order %s: %s", txn.transaction_id, reference, reason,
                        extra={"alert": {"kind": "decline", "pair": ctx.pair, "transaction_id": txn.transaction_id}})
        file_findings(ctx.db_url, f"declined:{txn.created_at.date().isoformat()}", [Finding(
            "declined", documents.review_reference(txn, ctx.pair), reason,
            {"transaction_id": txn.transaction_id, "order": reference, "amount": str(txn.amount)})])
        store_orders.payment_event(ctx, txn, "failed")

    return Plan((Post("sales_order", lambda keys: ctx.erp.ensure_sales_order(
        documents.sales_order(ctx.mapping, txn, keys.get("customer") or run.erp_customer or "", run.fx_rate))),),
        then=marked, note=f"declined: {txn.status_message or 'not approved'}")


STAGES = {"customer": customer, "order": order}
