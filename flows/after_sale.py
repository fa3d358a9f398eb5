"""What a refund, a void and a chargeback share: the sale they build on, and when a person must take over."""
from __future__ import annotations

from connectors.errors import RetriableError
from flows import documents
from flows.review import Finding
from flows.runs import PARKED, FlowContext, Plan, Run


def wait_for_sale(run: Run, what: str) -> Run:
    """The sale the run builds on, once it is in the ERP (or parked); until then, try again later."""
    sale = run.sale
    if sale is None or (sale.status != "succeeded" and sale.hold != PARKED) or sale.txn is None:
        state = "not seen yet" if sale is None else sale.status
        # Out of order (a refund before its sale synced): wait with the usual backoff; if the sale
        # never lands, this becomes a dead letter to replay once it has.
        raise RetriableError(f"{what} waits for sale {run.transaction_id if sale is None else sale.transaction_id} "
                             f"({state})", system="paysync", operation="predecessor")
    return sale


def for_a_person(ctx: FlowContext, run: Run, sale: Run, what: str) -> Plan | None:
    """A refund or void of a sale that was not applied to an invoice (parked, or cash on account).

    The credit memo and reversal a refund or void writes need the invoice and the receipt the
    sale was applied to; without them there is nothing the ERP could be asked to undo safely.
    The case goes on the review list and the run stops with the reason (a park).
    """
    if sale.invoice_key and "payment" in sale.done and "on_account" not in sale.done:
        return None
    state = ("was parked for review: nothing of it was posted" if "payment" not in sale.done
             and "on_account" not in sale.done else "was posted (partly) on account as unapplied cash")
    txn = run.txn
    reason = f"{what} {txn.transaction_id} of {txn.amount}: its sale {state}; undo it by hand in the ERP"
    finding = Finding(run.kind, documents.review_reference(txn, ctx.pair), reason,
                      {"transaction_id": txn.transaction_id, "amount": str(txn.amount), "sale_steps": dict(sale.done)})
    return Plan(park=(finding, f"{run.kind}:{documents.local_date(ctx.mapping, txn).isoformat()}"))


def mark(ctx: FlowContext, kind: str, key: str | None, paytrace_status: str) -> None:
    """Mark the sale's invoice (or order) with the status word the mapping gives a PayTrace status."""
    status = ctx.status_word(paytrace_status)
    if key and status:
        ctx.erp.set_status(kind, key, status)
