"""Reconciliation's step after matching: receipts of the day in the ERP that no settled batch holds.

With a listing, they are the listed receipts whose references the join pass found no staged
record for (flows/settlement_match.py `outside_receipts`); without one, the receipts our runs of
the day wrote, each found by its own reference. PayTrace is asked about each: unknown to it is an
exception; pending or settled in another batch (a sale after the batch closed) is noted; voided or
declined is a status mismatch. A listed receipt whose reference reads as a transaction the run
holds already is a second receipt for that payment, and one that reads as no possible id is
reported: neither stops the night.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_

from connectors.errors import NotFoundError
from db.models import SyncRun
from db.reconcile_models import ReconcileItem
from db.session import session_scope
from flows import settlement_match as match
from flows.settlement_rules import SETTLES_LATER, STATUS, UNKNOWN, money
from flows.settlement_run import ACTIONS, ReconcileContext, RunHandle, chunked, item, write_items
from flows.settlement_stage import BIGINT
from schemas.domain import ErpDocument, is_settled_status


def find_unsettled_receipts(ctx: ReconcileContext, run: RunHandle) -> None:
    """Receipts of ours dated that day whose transaction is in none of the day's batches.

    PayTrace is asked about each: unknown to it is an exception; pending or settled in another
    batch (a sale after the batch closed) is noted; voided or declined is a status mismatch.
    """
    if run.staging.listed:
        receipts = (d for chunk in match.outside_receipts(run.staging, ctx.chunk_size) for d in chunk)
        source = "ERP"
    else:
        receipts = _receipts_our_ledger_wrote(ctx, run.day)
        source = "ledger"
    ours = ((txn_id, d) for d in receipts if (txn_id := ctx.transaction_of(d.reference)) is not None)
    # A reference keyed by hand can read as a number no transaction id can be (no BIGINT holds it).
    ours = ((txn_id, d) if 0 < txn_id < BIGINT else (None, d) for txn_id, d in ours)
    # A receipt whose transaction the run already holds is not outside the batches: looked for among
    # the run's findings, and (with a listing) among the day's staged records, since a plain match
    # keeps no finding of its own. Without a listing, such a receipt is the one found under the
    # transaction's own reference: nothing more to say. With one, the listing's receipts under a
    # staged record's own reference never get here, so one that does is a second receipt for the
    # payment under another spelling (another case, leading zeros): an exception of its own.
    seen: set[str] = set()
    for chunk in chunked(ours, ctx.chunk_size):
        subjects = {f"T{txn_id}" for txn_id, _ in chunk if txn_id is not None}
        with session_scope(ctx.db_url) as s:
            seen.update(s.scalars(select(ReconcileItem.subject).where(ReconcileItem.run_id == run.id,
                                                                      ReconcileItem.subject.in_(subjects))))
        if run.staging.listed:
            seen.update(f"T{txn_id}" for txn_id in match.staged(run.staging, {t for t, _ in chunk if t is not None}))
        rows = []
        for txn_id, doc in chunk:
            if txn_id is None:
                rows.append(item(run.id, f"E{doc.key}"[:40], UNKNOWN, found=doc.amount, action=ACTIONS["review"],
                                 detail=f"receipt {doc.reference} ({doc.key}) in the ERP reads as a transaction id "
                                        "no PayTrace transaction can have"))
                continue
            subject = f"T{txn_id}"
            if subject in seen:
                if run.staging.listed:
                    rows.append(_second_receipt(ctx, run, txn_id, doc))
                continue
            seen.add(subject)
            rows.append(_outside_batches(ctx, run, txn_id, doc, source))
        write_items(ctx, rows)
        run.renew()


def _outside_batches(ctx: ReconcileContext, run: RunHandle, txn_id: int, doc: ErpDocument, source: str) -> dict:
    subject = f"T{txn_id}"
    try:
        record = ctx.gateway.transaction(txn_id)
    except NotFoundError:
        return item(run.id, subject, UNKNOWN, transaction_id=txn_id, found=doc.amount, action="on the review list",
                     detail=f"receipt {doc.reference} ({doc.key}) in the ERP; PayTrace has no transaction {txn_id}")
    status = str(record.get("status_code") or "")
    kind = str(record.get("transaction_type") or "")
    amount = money(record.get("amount")) if record.get("amount") is not None else None
    if status == "Y" or is_settled_status(status):
        where = "pending settlement" if status == "Y" else \
            f"settled in batch {status[2:]}" if status.startswith("GB") else f"settled ({status})"
        return item(run.id, subject, SETTLES_LATER, transaction_id=txn_id, expected=amount, found=doc.amount,
                     detail=f"receipt {doc.reference} dated {run.day}; PayTrace: {where} (seen via {source})")
    return item(run.id, subject, STATUS, transaction_id=txn_id, expected=amount, found=doc.amount,
                 action="on the review list",
                 detail=f"receipt {doc.reference} in the ERP, but PayTrace reports {kind or 'it'} as "
                        f"{record.get('status_message') or status}")


def _second_receipt(ctx: ReconcileContext, run: RunHandle, txn_id: int, doc: ErpDocument) -> dict:
    """A receipt listed for the day that reads as a transaction the run holds already, under another
    spelling of its reference: possibly the payment posted twice. Its subject is the ERP's document
    key (E<key>), so the payment's own finding stays one."""
    return item(run.id, f"E{doc.key}"[:40], STATUS, transaction_id=txn_id, found=doc.amount,
                action=ACTIONS["review"],
                detail=f"receipt {doc.reference} ({doc.key}, {'no amount' if doc.amount is None else doc.amount}) in "
                       f"the ERP reads as transaction {txn_id}, whose own reference is "
                       f"{ctx.reference(txn_id, 'payment')}: a second receipt for one payment?")


def _receipts_our_ledger_wrote(ctx: ReconcileContext, day: date) -> Iterator[ErpDocument]:
    """Fallback for an ERP that cannot list by date: our runs of that day, each looked up.

    Paged by (created_at, id) through ix_sync_run_created (0016), so a night reads that day's runs:
    paged by id alone, each night walked every run ever written to reach the day's. (The bound is
    compared with a plain tuple, which SQLAlchemy binds through the columns' types: SQLite keeps
    times as UTC text, and a `tuple_` of values would be bound in the merchant's zone.)
    """
    zone = ZoneInfo(ctx.mapping.dates.timezone)
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    after = (start, 0)
    while True:
        with session_scope(ctx.db_url) as s:
            rows = s.execute(select(SyncRun.created_at, SyncRun.id, SyncRun.transaction_id).where(
                tuple_(SyncRun.created_at, SyncRun.id) > after, SyncRun.created_at < end,
                SyncRun.pair == ctx.pair, SyncRun.gateway == "paytrace", SyncRun.erp == ctx.erp_kind,
                SyncRun.status == "succeeded").order_by(SyncRun.created_at, SyncRun.id).limit(ctx.chunk_size)).all()
        if not rows:
            return
        after = (rows[-1].created_at, rows[-1].id)
        for _, _, txn_id in rows:
            yield from ctx.erp.find("payment", ctx.reference(txn_id, "payment"))
