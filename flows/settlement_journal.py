"""Each settled batch's journal: Dr bank (and fees), Cr the clearing account of each brand it carried.

Posted once per batch and pair (settlement_posting), from the totals the batch's own transactions
add up to (flows/settlement_rules.py BatchSums), never from totals PayTrace says and they do not.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from config.mapping import account_for
from connectors.errors import ConnectorError
from db.reconcile_models import SettlementPosting
from db.session import session_scope
from db.types import utcnow
from flows.settlement_rules import (SETTLEMENT, TOTALS, BatchSums, derived_totals, money, settlement_entry,
                                    settlement_reference, total_differences)
from flows.settlement_run import ReconcileContext, RunHandle, item, run_row, update_run, write_items


def clearing_amounts(ctx: ReconcileContext, items: dict, net: Decimal) -> dict[str, Decimal]:
    """Account -> what the batch's sales and refunds put through it, by the mapping's clearing account
    of each brand (brands sharing an account are one line). Totals kept by an older run, without
    brands, clear everything through the default clearing account."""
    by_brand = items.get("by_brand")
    if not by_brand:
        return {account_for(ctx.mapping, "clearing"): net}
    out: dict[str, Decimal] = {}
    for brand, amount in by_brand.items():
        account = account_for(ctx.mapping, "clearing", brand)
        out[account] = out.get(account, Decimal("0.00")) + money(amount)
    return out


def check_batch_totals(ctx: ReconcileContext, run: RunHandle) -> None:
    """Each batch's derived totals: readable, and agreeing with any totals PayTrace gave itself."""
    rows = []
    for number, batch in run_row(ctx, run.id).totals.items():
        items = batch.get("items") or BatchSums().as_dict()
        problems = total_differences(batch["paytrace"], items)
        if int(items.get("unreadable") or 0):
            problems.insert(0, f"{items['unreadable']} transaction record(s) unreadable: the batch's totals are unknown")
        if problems:
            said = batch["paytrace"].get("net_amount")
            rows.append(item(run.id, f"B{number}", TOTALS, batch=int(number),
                              expected=money(said) if said is not None else None,
                              found=money(items["net_amount"]), action="on the review list",
                              detail="; ".join(problems)))
    write_items(ctx, rows)


def post_settlements(ctx: ReconcileContext, run: RunHandle) -> None:
    """Each batch's settlement journal, once however often the day is reconciled."""
    totals = run_row(ctx, run.id).totals
    rows = []
    for number, batch in totals.items():
        outcome = _post_settlement(ctx, run, int(number), batch)
        batch["settlement"] = outcome
        if outcome["status"] == "failed":
            derived = derived_totals(batch.get("items"))
            rows.append(item(run.id, f"J{number}", SETTLEMENT, batch=int(number),
                              expected=None if isinstance(derived, str) else derived[0], action="on the review list",
                              detail=outcome["detail"]))
        run.renew()
    write_items(ctx, rows)
    update_run(ctx, run.id, totals=totals)


def _post_settlement(ctx: ReconcileContext, run: RunHandle, number: int, batch: dict) -> dict:
    """Post the batch's journal from the totals its transactions add up to; nothing when they are unknown
    or PayTrace's own totals (if its export gives any) disagree with them."""
    ref = settlement_reference(number)
    with session_scope(ctx.db_url) as s:
        posting = s.scalars(select(SettlementPosting).where(SettlementPosting.pair == ctx.pair,
                                                            SettlementPosting.erp == ctx.erp_kind,
                                                            SettlementPosting.batch_number == number)).one_or_none()
        if posting is not None and posting.status in ("posted", "nothing"):
            return {"status": "already", "reference": ref, "key": posting.erp_key, "amount": str(posting.amount),
                    "run_id": posting.run_id}
    derived = derived_totals(batch.get("items"))
    disagree = total_differences(batch["paytrace"], batch.get("items") or {}) if not isinstance(derived, str) else []
    if isinstance(derived, str) or disagree:
        why = derived if isinstance(derived, str) else "PayTrace's own totals disagree: " + "; ".join(disagree)
        return {"status": "failed", "reference": ref, "detail": f"settlement journal {ref} not posted: {why}"}
    net, sales_amount, count = derived
    fees = ctx.fees.of(sales_amount, count)
    with session_scope(ctx.db_url) as s:
        posting = s.scalars(select(SettlementPosting).where(SettlementPosting.pair == ctx.pair,
                                                            SettlementPosting.erp == ctx.erp_kind,
                                                            SettlementPosting.batch_number == number)).one_or_none()
        if posting is None:
            s.add(SettlementPosting(pair=ctx.pair, batch_number=number, erp=ctx.erp_kind, journal_ref=ref, amount=net,
                                    status="pending", run_id=run.id, created_at=utcnow()))
    if net == 0:
        _mark_posting(ctx, number, "nothing", None, run.id)
        return {"status": "nothing", "reference": ref, "detail": "net amount 0: nothing deposited"}
    entry = settlement_entry(number, run.day, net, fees, bank=account_for(ctx.mapping, "bank"),
                             clearing=clearing_amounts(ctx, batch["items"], net), fee_account=ctx.fees.account)
    try:
        doc = ctx.erp.ensure_journal(entry)  # looks the reference up first: never twice in the ERP
    except ConnectorError as exc:
        return {"status": "failed", "reference": ref, "detail": f"settlement journal {ref} not posted: {exc}"}
    _mark_posting(ctx, number, "posted", doc.key, run.id)
    return {"status": "posted", "reference": ref, "key": doc.key, "amount": str(net), "fees": str(fees),
            "run_id": run.id}


def _mark_posting(ctx: ReconcileContext, number: int, status: str, key: str | None, run_id: int) -> None:
    with session_scope(ctx.db_url) as s:
        posting = s.scalars(select(SettlementPosting).where(SettlementPosting.pair == ctx.pair,
                                                            SettlementPosting.erp == ctx.erp_kind,
                                                            SettlementPosting.batch_number == number)).one()
        posting.status, posting.erp_key, posting.run_id, posting.posted_at = status, key, run_id, utcnow()
