"""Chargebacks: a case from the processor's CSV or a signed push becomes a journal and a review item.

PayTrace has no chargeback API (paytrace.md §3), so the case itself is the record: it is read
from the run's inbox event. Once the sale is in the ERP, paysync posts the journal (the chargeback
account debited, card clearing credited, since the processor withholds the money from a coming
deposit), marks the sale's invoice with the mapped status, and puts the case on the review list.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from connectors.errors import PermanentError
from db.models import InboxEvent, SyncRun
from db.session import session_scope
from flows import transform
from flows.lifecycle import STEPS_BY_KIND, _mark, _sale
from flows.payment_sync import TERMINAL, FlowContext, RunFinished, _finish, _post
from flows.review import Finding, file_findings
from schemas.domain import JournalEntry, JournalLine
from schemas.events import ChargebackSchema


def _case(ctx: FlowContext, run_id: int) -> tuple[SyncRun, dict]:
    with session_scope(ctx.db_url) as s:
        run = s.get(SyncRun, run_id)
        event = s.scalar(select(InboxEvent).where(InboxEvent.run_id == run_id).order_by(InboxEvent.id).limit(1))
    if run is None or event is None:
        raise PermanentError(f"chargeback run {run_id} has no case", system="paysync", operation="chargeback")
    if run.status in TERMINAL:
        raise RunFinished(run.status)
    return run, ChargebackSchema().load(event.payload)


def post_chargeback(ctx: FlowContext, run_id: int) -> None:
    """Journal the chargeback against the sale, mark its invoice, and ask a person to follow the case."""
    run, case = _case(ctx, run_id)
    _, sale, sale_refs = _sale(ctx, case["transaction_id"], f"chargeback {case['case_id']}")
    amount = Decimal(case["amount"])
    if amount > sale.amount:
        raise PermanentError(f"chargeback {case['case_id']} of {amount} is above sale {sale.transaction_id}'s "
                             f"{sale.amount}", system="paysync", operation="chargeback")
    day = case["date"] or transform.local_date(sale, ctx.rules)
    text = f"Chargeback {case['case_id']} on PayTrace {sale.transaction_id}: {case['reason']}"[:160]
    entry = JournalEntry(transform.reference(sale.transaction_id, "chargeback"), day, text,
                         (JournalLine(ctx.chargeback_account, amount, text),
                          JournalLine(ctx.rules.clearing_account, -amount, text)))
    _post(ctx, run, "journal", lambda: ctx.erp.ensure_journal(entry))
    _mark(ctx, "invoice", sale_refs.get("invoice"), "chargeback")
    file_findings(ctx.db_url, f"chargeback:{case['case_id']}", [Finding(
        "chargeback", case["case_id"], f"chargeback of {amount} on PayTrace {sale.transaction_id}: {case['reason']}",
        {"transaction_id": sale.transaction_id, "amount": str(amount), "journal": entry.reference})])
    _finish(ctx, run_id, "succeeded")


CHARGEBACK_STEPS = (post_chargeback,)

STEPS_BY_KIND["chargeback"] = CHARGEBACK_STEPS
