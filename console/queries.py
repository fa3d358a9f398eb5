"""The console's other reads: a day per pair and ERP, dead letters, the review list, reconciliation runs.

Each is one bounded query (a day, a page, the latest runs) so a page costs the same on the
thousandth day as on the first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db.models import DeadLetter, ReviewItem, SyncRun
from db.reconcile_models import ReconcileRun
from db.session import session_scope

PAGE = 200
#: Run statuses as a person reads them on the day page.
BUCKETS = {"succeeded": "synced", "pending": "pending", "running": "pending", "dead": "failed", "skipped": "skipped"}


@dataclass
class PairDay:
    """One pair's day: payments by state, cash by brand, refunds, chargebacks, the settlement position."""

    pair: str
    erp: str
    counts: dict[str, int] = field(default_factory=lambda: {"in": 0, "synced": 0, "pending": 0, "failed": 0,
                                                            "skipped": 0, "declined": 0})
    cash_by_brand: dict[str, Decimal] = field(default_factory=dict)
    refunds: tuple[int, Decimal] = (0, Decimal("0"))
    voids: tuple[int, Decimal] = (0, Decimal("0"))
    chargebacks: tuple[int, Decimal] = (0, Decimal("0"))
    #: Approved today, less refunds and voids: what PayTrace's batches will deposit (before fees).
    to_deposit: Decimal = Decimal("0")
    #: The part of that the ERP already holds (runs whose documents are all posted).
    in_erp: Decimal = Decimal("0")
    reconcile: ReconcileRun | None = None

    @property
    def not_in_erp(self) -> Decimal:
        return self.to_deposit - self.in_erp


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """The merchant-local day as a UTC [start, end)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def _brand(run: SyncRun) -> str:
    if run.gateway == "paytrace_ach":
        return "ACH"
    card = (run.transaction or {}).get("credit_card") or {}
    number = str(card.get("masked_number") or "")
    # The first digit of the (masked) number names the network; enough for a day's breakdown.
    return {"4": "Visa", "5": "Mastercard", "2": "Mastercard", "3": "American Express", "6": "Discover"}.get(
        number[:1], "Other card")


def day_summary(db_url: str, day: date, zone: str) -> list[PairDay]:
    """Every pair's payments of one merchant-local day (by the time PayTrace took them)."""
    start, end = day_bounds(day, zone)
    with session_scope(db_url) as s:
        runs = s.scalars(select(SyncRun).where(SyncRun.paid_at >= start, SyncRun.paid_at < end)).all()
        latest = {}
        for run in s.scalars(select(ReconcileRun).where(ReconcileRun.day == day).order_by(ReconcileRun.id)):
            latest[run.pair] = run
    days: dict[tuple[str, str], PairDay] = {}
    for run in runs:
        pd = days.setdefault((run.pair, run.erp), PairDay(run.pair, run.erp))
        amount = run.amount or Decimal("0")
        if run.kind in ("sale", "decline"):
            pd.counts["in"] += 1
            if run.kind == "decline":
                pd.counts["declined"] += 1
                continue
            pd.counts[BUCKETS.get(run.status, "pending")] += 1
            if run.status != "skipped":
                pd.to_deposit += amount
            if run.status == "succeeded":
                pd.in_erp += amount
                brand = _brand(run)
                pd.cash_by_brand[brand] = pd.cash_by_brand.get(brand, Decimal("0")) + amount
        elif run.kind in ("refund", "void", "chargeback"):
            n, total = getattr(pd, run.kind + "s")
            setattr(pd, run.kind + "s", (n + 1, total + amount))
            if run.kind != "chargeback":  # a chargeback is taken later, outside the day's batch
                pd.to_deposit -= amount
                if run.status == "succeeded":
                    pd.in_erp -= amount
    for pd in days.values():
        pd.reconcile = latest.get(pd.pair)
    return sorted(days.values(), key=lambda d: (d.pair, d.erp))


def dead_letters(db_url: str, status: str | None = "open", limit: int = PAGE) -> list[tuple[DeadLetter, SyncRun | None]]:
    with session_scope(db_url) as s:
        q = select(DeadLetter, SyncRun).outerjoin(SyncRun, DeadLetter.run_id == SyncRun.id)
        if status:
            q = q.where(DeadLetter.status == status)
        return [tuple(row) for row in s.execute(q.order_by(DeadLetter.id.desc()).limit(limit)).all()]


def dead_letter(db_url: str, letter_id: int) -> tuple[DeadLetter, SyncRun | None] | None:
    with session_scope(db_url) as s:
        letter = s.get(DeadLetter, letter_id)
        return None if letter is None else (letter, s.get(SyncRun, letter.run_id) if letter.run_id else None)


def review_items(db_url: str, status: str | None = "open", limit: int = PAGE) -> list[ReviewItem]:
    with session_scope(db_url) as s:
        q = select(ReviewItem).order_by(ReviewItem.id.desc()).limit(limit)
        return list(s.scalars(q.where(ReviewItem.status == status) if status else q))


def review_item(db_url: str, item_id: int) -> ReviewItem | None:
    with session_scope(db_url) as s:
        return s.get(ReviewItem, item_id)


def reconcile_runs(db_url: str, limit: int = 60) -> list[ReconcileRun]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(ReconcileRun).order_by(ReconcileRun.day.desc(), ReconcileRun.number.desc())
                              .limit(limit)))


def reconcile_run(db_url: str, run_id: int) -> ReconcileRun | None:
    with session_scope(db_url) as s:
        return s.get(ReconcileRun, run_id)


def counts(db_url: str) -> dict[str, int]:
    """What waits for a person: open dead letters and review items (the navigation's badges)."""
    from sqlalchemy import func

    with session_scope(db_url) as s:
        return {"letters": s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.status == "open")),
                "review": s.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open"))}


def recent_records(db_url: str, pair: str, limit: int = 5) -> list[dict]:
    """The newest stored (masked) PayTrace records of a pair's sales: samples for the mapping preview."""
    with session_scope(db_url) as s:
        return [r for r in s.scalars(select(SyncRun.transaction).where(
            SyncRun.pair == pair, SyncRun.kind.in_(("sale", "decline")), SyncRun.gateway == "paytrace",
            SyncRun.transaction.is_not(None)).order_by(SyncRun.id.desc()).limit(limit)) if isinstance(r, dict)]
