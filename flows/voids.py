"""A void (before settlement) or an ACH return into the ERP: payment (the receipt reversed) → GL.

A void keeps the sale's transaction id (type VOID); an ACH return is the check's own record with
status R, undone the same way. The sale must be in the ERP first; its invoice is open again and
marked with the mapping's `voided` status.
"""
from __future__ import annotations

from sqlalchemy import select

from connectors.errors import PermanentError, RetriableError
from db.models import SyncRun
from db.session import session_scope
from flows import documents
from flows import orders as store_orders
from flows.after_sale import for_a_person, mark, wait_for_sale
from flows.intake import Prepared, authoritative, fx_rate
from flows.runs import FlowContext, Plan, Post, Run, invoice_hold


def prepare(ctx: FlowContext, run: Run) -> Prepared:
    record, txn = authoritative(ctx, run)
    returned = txn.payment_type == "ACH" and txn.status_code == "RETURNED"
    if txn.transaction_type != "VOID" and not returned:
        raise PermanentError(f"transaction {txn.transaction_id} is a {txn.transaction_type}, not a VOID",
                             system="paysync", operation="route")
    with session_scope(ctx.db_url) as s:
        sale_id = s.scalar(select(SyncRun.id).where(
            SyncRun.pair == run.pair, SyncRun.gateway == run.gateway, SyncRun.erp == run.erp,
            SyncRun.transaction_id == run.transaction_id, SyncRun.kind == "sale"))
    if sale_id is None:
        raise RetriableError(f"void of {run.transaction_id} waits for its sale (not seen yet)", system="paysync",
                             operation="predecessor")
    return Prepared(record, txn, {"sale_run_id": sale_id, "parent_transaction_id": run.transaction_id,
                                  "fx_rate": fx_rate(ctx)})


def chain(ctx: FlowContext, run: Run) -> tuple[str, ...]:
    return ("payment", "gl")


def _documents(ctx: FlowContext, run: Run) -> documents.VoidDocuments:
    sale = run.sale
    held = documents.Held(customer=sale.customer_key, payment=sale.done.get("payment"))
    return documents.void(ctx.mapping, run.txn, sale.txn, held, sale.fx_rate)


def payment(ctx: FlowContext, run: Run) -> Plan:
    """Undo the sale's receipt: the invoice is open again for the full amount."""
    sale = wait_for_sale(run, f"void of {run.transaction_id}")
    parked = for_a_person(ctx, run, sale, "void")
    if parked is not None:
        return parked
    return Plan((Post("reversal", lambda keys: ctx.erp.ensure_reversal(_documents(ctx, run).reversal)),),
                holds=invoice_hold(sale.invoice_key))


def gl(ctx: FlowContext, run: Run) -> Plan:
    """The sale's move into clearing reversed; its invoice marked voided."""
    sale = wait_for_sale(run, f"void of {run.transaction_id}")
    def after(keys: dict[str, str]) -> None:
        mark(ctx, "invoice", sale.invoice_key, "voided")
        store_orders.payment_event(ctx, run.txn, "cancelled", sale_id=sale.transaction_id)

    return Plan((Post("journal", lambda keys: ctx.erp.ensure_journal(_documents(ctx, run).journal, absent=keys.absent),
                      after=("reversal",)),), then=after)


STAGES = {"payment": payment, "gl": gl}
