"""Chargebacks: a case from the processor's CSV or a signed push becomes a journal (GL) and a review item.

PayTrace has no chargeback API (paytrace.md §3), so the case itself is the record: it is read
from the run's inbox event when the run is prepared. Once the sale is in the ERP, paysync posts
the journal (the chargeback account debited, card clearing credited, since the processor
withholds the money from a coming deposit), marks the sale's invoice with the mapped status, and
puts the case on the review list.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from connectors.errors import PermanentError, RetriableError
from db.models import InboxEvent, SyncRun
from db.session import session_scope
from flows import documents
from flows.after_sale import mark, wait_for_sale
from flows.intake import Prepared
from flows.review import Finding, file_findings
from flows.runs import FlowContext, Plan, Post, Run
from schemas.events import ChargebackSchema


def prepare(ctx: FlowContext, run: Run) -> Prepared:
    """The case from the run's inbox event, and the sale it takes money back from."""
    with session_scope(ctx.db_url) as s:
        event = s.scalar(select(InboxEvent).where(InboxEvent.run_id == run.id).order_by(InboxEvent.id).limit(1))
        sale_id = s.scalar(select(SyncRun.id).where(
            SyncRun.pair == run.pair, SyncRun.gateway == "paytrace", SyncRun.erp == run.erp,
            SyncRun.transaction_id == run.transaction_id, SyncRun.kind == "sale"))
    if event is None:
        raise PermanentError(f"chargeback run {run.id} has no case", system="paysync", operation="chargeback")
    case = ChargebackSchema().load(event.payload)
    if sale_id is None:
        raise RetriableError(f"chargeback {case['case_id']} waits for sale {run.transaction_id} (not seen yet)",
                             system="paysync", operation="predecessor")
    return Prepared(dict(event.payload), None, {"sale_run_id": sale_id, "amount": Decimal(case["amount"]),
                                                "parent_transaction_id": run.transaction_id})


def chain(ctx: FlowContext, run: Run) -> tuple[str, ...]:
    return ("gl",)


def gl(ctx: FlowContext, run: Run) -> Plan:
    """Journal the chargeback against the sale, mark its invoice, and ask a person to follow the case."""
    case = ChargebackSchema().load(run.record)
    sale = wait_for_sale(run, f"chargeback {case['case_id']}")
    amount = Decimal(case["amount"])
    if amount > sale.amount:
        raise PermanentError(f"chargeback {case['case_id']} of {amount} is above sale {sale.transaction_id}'s "
                             f"{sale.amount}", system="paysync", operation="chargeback")
    entry = documents.chargeback(ctx.mapping, sale.txn, case["case_id"], case["reason"], amount, case["date"])

    def follow_up(keys: dict[str, str]) -> None:
        mark(ctx, "invoice", sale.invoice_key, "chargeback")
        file_findings(ctx.db_url, f"chargeback:{case['case_id']}", [Finding(
            "chargeback", case["case_id"], f"chargeback of {amount} on PayTrace {sale.transaction_id}: {case['reason']}",
            {"transaction_id": sale.transaction_id, "amount": str(amount), "journal": entry.reference})])

    return Plan((Post("journal", lambda keys: ctx.erp.ensure_journal(entry)),), then=follow_up)


STAGES = {"gl": gl}
