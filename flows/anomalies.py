"""Payments worth a second look: far from the customer's usual amount, or a burst from one card.

Robust statistics: the median and the median absolute deviation (MAD) of the customer's earlier
synced payments, so one past outlier cannot hide the next. A finding goes on the review list with
its reason; it blocks posting only when the mapping says so (`unmatched.flags_block_posting`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Iterable

from sqlalchemy import select

from db.models import ReviewItem, SyncRun
from db.session import session_scope
from flows.review import Finding, file_findings
from flows.documents import review_reference
from schemas.domain import GatewayTransaction

#: A robust z-score above this is unusual (Iglewicz and Hoaglin's 3.5 for the modified z-score).
OUTLIER_Z = Decimal("3.5")
#: The MAD is scaled by this to estimate a standard deviation for normal data.
MAD_SCALE = Decimal("1.4826")
MIN_HISTORY = 5
HISTORY_LIMIT = 50
BURST_WINDOW = timedelta(minutes=10)
BURST_LIMIT = 5  # this many payments from one card profile inside the window is a burst
alert_log = logging.getLogger("paysync.alert")


@dataclass(frozen=True)
class Screening:
    """What the screen found for one payment."""

    findings: tuple[Finding, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    def reasons(self) -> str:
        return "; ".join(f.reason for f in self.findings)


def amount_outlier(history: Iterable[Decimal], amount: Decimal) -> str | None:
    """A reason when `amount` is far from `history` by the modified z-score, else None."""
    past = sorted(history)
    if len(past) < MIN_HISTORY:
        return None
    mid = Decimal(median(past))
    mad = Decimal(median([abs(a - mid) for a in past]))
    if mad == 0:
        # Every earlier payment was (nearly) the same amount: anything off by half or more stands out.
        if mid and abs(amount - mid) >= mid / 2:
            return f"amount {amount} while the customer's last {len(past)} payments were all {mid}"
        return None
    z = abs(amount - mid) / (MAD_SCALE * mad)
    if z > OUTLIER_Z:
        return (f"amount {amount} is far from the customer's usual (median {mid:.2f} of {len(past)} payments, "
                f"robust z {z:.1f} > {OUTLIER_Z})")
    return None


def burst(times: Iterable[datetime], now: datetime) -> str | None:
    """A reason when at least BURST_LIMIT payments (this one included) fall in the window before `now`."""
    recent = [t for t in times if now - BURST_WINDOW <= t <= now]
    if len(recent) + 1 >= BURST_LIMIT:
        return f"{len(recent) + 1} payments from one card profile within {int(BURST_WINDOW.total_seconds() // 60)} minutes"
    return None


def card_profile(txn: GatewayTransaction) -> str:
    """The card profile: the vault customer id when there is one, else the masked card and payer."""
    if txn.customer_id:
        return f"vault:{txn.customer_id}"[:120]
    return f"card:{txn.masked_card}:{txn.billing.name.strip().lower()}"[:120]


def screen(db_url: str, run_id: int, txn: GatewayTransaction, customer_key: str, pair: str = "default") -> Screening:
    """Compare the payment with the customer's and the card profile's history; file what stands out.

    Reads the run facts columns (amount, customer_key, card_profile, paid_at) of earlier runs,
    which the fetch step writes, so both questions are one indexed query each.
    """
    profile = card_profile(txn)
    with session_scope(db_url) as s:
        history = s.scalars(
            select(SyncRun.amount).where(SyncRun.customer_key == customer_key, SyncRun.id != run_id,
                                         SyncRun.status == "succeeded", SyncRun.amount.is_not(None))
            .order_by(SyncRun.id.desc()).limit(HISTORY_LIMIT)).all()
        times = s.scalars(
            select(SyncRun.paid_at).where(SyncRun.card_profile == profile, SyncRun.id != run_id,
                                          SyncRun.paid_at >= txn.created_at - BURST_WINDOW,
                                          SyncRun.paid_at <= txn.created_at)).all()
    findings = []
    reference = review_reference(txn, pair)
    context = {"transaction_id": txn.transaction_id, "customer": customer_key, "amount": str(txn.amount)}
    if reason := amount_outlier((Decimal(a) for a in history), txn.amount):
        findings.append(Finding("anomaly:amount", reference, reason, context))
    if reason := burst(times, txn.created_at):
        findings.append(Finding("anomaly:burst", reference, reason, {**context, "profile": profile}))
    if not findings:
        return Screening(())
    file_findings(db_url, f"anomaly:{txn.created_at.date().isoformat()}", findings)
    alert_log.warning("REVIEW payment %s flagged: %s", txn.transaction_id, "; ".join(f.reason for f in findings),
                      extra={"alert": {"kind": "anomaly", "pair": pair, "transaction_id": txn.transaction_id}})
    # A flag a person already resolved (then replayed the held payment) no longer holds it.
    with session_scope(db_url) as s:
        still_open = set(s.scalars(select(ReviewItem.kind).where(
            ReviewItem.reference == reference, ReviewItem.kind.in_([f.kind for f in findings]),
            ReviewItem.status == "open")).all())
    return Screening(tuple(f for f in findings if f.kind in still_open))
