"""Which sale a refund gives money back from, by what real PayTrace records carry.

No public source shows a field in PayTrace's export that links a refund to its sale (evidence.md).
So a refund is linked, in this order, by:

1. paysync's own word: a refund run created already knowing its sale (`parent_transaction_id`);
2. the export's link field, when the account's records carry one (`PAYTRACE_REFUND_LINK_FIELD`,
   [I], default `original_transaction_id`; `paysync doctor` tells whether they do);
3. the evidence every record has: the same merchant invoice id, else the same vault customer,
   else the same masked card and cardholder; only a sale of this pair paid with the refund's card
   (PayTrace refunds a transaction to the card that paid it), dated before the refund, not voided,
   with enough left to give back. Several equally good sales make no link: a person decides.

A refund nothing links is posted on account (a credit memo applied to no invoice, and the money
paid out against it) and goes on the review list.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import SyncRun
from flows.anomalies import card_profile
from schemas.domain import GatewayTransaction

#: How many sales sharing an invoice id, customer or card are looked at (the newest first).
CANDIDATES = 50
LIVE = ("succeeded", "running", "pending", "skipped")


@dataclass(frozen=True)
class Link:
    """The sale a refund was linked to, and what linked it."""

    sale_run_id: int
    sale_transaction_id: int
    via: str


def _refunded(s: Session, sale_ids: list[int], refund_run_id: int) -> dict[int, Decimal]:
    rows = s.execute(select(SyncRun.sale_run_id, func.sum(SyncRun.amount)).where(
        SyncRun.sale_run_id.in_(sale_ids), SyncRun.kind == "refund", SyncRun.id != refund_run_id,
        SyncRun.status.in_(("succeeded", "running"))).group_by(SyncRun.sale_run_id)).all()
    return {sale_id: Decimal(total or 0) for sale_id, total in rows}


def link(s: Session, run: SyncRun, txn: GatewayTransaction, record: dict, link_field: str) -> Link | None:
    """The sale run `run` (a refund) gives money back from, or None when nothing links it for sure."""
    same_books = (SyncRun.pair == run.pair, SyncRun.gateway == run.gateway, SyncRun.erp == run.erp,
                  SyncRun.kind == "sale")
    named = run.parent_transaction_id
    via = "paysync"
    if named is None and link_field:
        value = str(record.get(link_field) or "").strip()
        named, via = (int(value), link_field) if value.isdigit() else (None, via)
    if named is not None:
        sale = s.scalar(select(SyncRun).where(*same_books, SyncRun.transaction_id == named))
        return Link(sale.id, sale.transaction_id, via) if sale is not None else None
    profile = card_profile(txn)  # the vault customer when there is one, else the masked card and cardholder
    tiers = [("invoice_id", SyncRun.invoice_ref == txn.invoice_id.strip()[:50])] if txn.invoice_id.strip() else []
    if txn.customer_id or txn.masked_card:
        tiers.append(("customer" if txn.customer_id else "card", SyncRun.card_profile == profile))
    if not tiers:
        return None
    # A correlated NOT EXISTS on the runs' unique key, not NOT IN: that read every run's key for the
    # voids (290 ms at a year of 5,000 sales a day; 1 ms now).
    void = aliased(SyncRun)
    voided = select(void.id).where(void.pair == run.pair, void.gateway == run.gateway, void.erp == run.erp,
                                   void.transaction_id == SyncRun.transaction_id, void.kind == "void",
                                   void.status != "dead")
    # PayTrace gives a refund of a transaction back to the card (or account) that paid it.
    same_card = (SyncRun.masked_card == txn.masked_card[:24],) if txn.masked_card else ()
    candidates = s.scalars(select(SyncRun).where(*same_books, *same_card, or_(*(cond for _, cond in tiers)),
                                                 SyncRun.status.in_(LIVE), SyncRun.amount.is_not(None),
                                                 SyncRun.paid_at <= txn.created_at,
                                                 ~voided.exists())  # a void took it all back
                           .order_by(SyncRun.paid_at.desc()).limit(CANDIDATES)).all()
    refunded = _refunded(s, [c.id for c in candidates], run.id)
    room = [c for c in candidates if c.amount - refunded.get(c.id, Decimal("0")) >= txn.amount]
    for name, _ in tiers:
        matches = [c for c in room if _matches(name, c, txn)]
        if len(matches) > 1:
            # Prefer the one of exactly this amount (a whole refund).
            matches = [c for c in matches if c.amount == txn.amount] or matches
        if len(matches) == 1:
            return Link(matches[0].id, matches[0].transaction_id, name)
        if matches:
            return None  # several sales fit as well as each other: a person decides
    return None


def _matches(tier: str, sale: SyncRun, txn: GatewayTransaction) -> bool:
    if tier == "invoice_id":
        return (sale.invoice_ref or "") == txn.invoice_id.strip()[:50]
    return sale.card_profile == card_profile(txn)
