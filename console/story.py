""""Where is my payment?": find a payment by what a person knows, then tell its whole story.

Everything is read through the small functions here, so a step or column renamed by the flows
is fixed in one place. A payment is (pair, gateway, PayTrace id): checks (ACH) are numbered apart
from cards, and two pairs' PayTrace accounts may reuse a number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select

from db.models import DeadLetter, InboxEvent, ReviewItem, StepLedger, SyncRun
from db.reconcile_models import ReconcileItem, ReconcileRun, SettlementPosting
from db.session import session_scope
from flows import settlement_items

CARD, ACH = "paytrace", "paytrace_ach"
PREFIX = {CARD: "PT", ACH: "PTA"}
_REFERENCE = re.compile(r"^(PTA|PT)(\d{1,12})(?:-[A-Z]+)?$", re.IGNORECASE)
_AMOUNT = re.compile(r"^\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Found:
    """One payment a search found, as a line of the result list."""

    pair: str
    gateway: str
    transaction_id: int
    kind: str
    status: str
    amount: Decimal | None
    customer: str
    paid_at: datetime | None
    invoice_id: str

    @property
    def path(self) -> str:
        return f"/payments/{self.pair}/{self.gateway}/{self.transaction_id}"


def _facts(record: dict | None) -> dict[str, str]:
    """The few fields of a stored (masked) export record the console shows, whatever its shape."""
    record = record or {}
    billing = record.get("billing_address") if isinstance(record.get("billing_address"), dict) else {}
    check = record.get("check") if isinstance(record.get("check"), dict) else {}
    card = record.get("credit_card") if isinstance(record.get("credit_card"), dict) else {}
    return {
        "invoice_id": str(record.get("invoice_id") or ""),
        "name": str(billing.get("name") or record.get("customer_id") or ""),
        "customer_id": str(record.get("customer_id") or ""),
        "email": str(record.get("email") or ""),
        "description": str(record.get("description") or ""),
        "masked": str(card.get("masked_number") or check.get("masked_account_number") or ""),
        "type": str(record.get("transaction_type") or ""),
        "status": str(record.get("status_message") or ""),
        "po": str(record.get("customer_reference_id") or ""),
    }


def _found(run: SyncRun) -> Found:
    facts = _facts(run.transaction)
    return Found(run.pair, run.gateway, run.transaction_id, run.kind, run.status, run.amount,
                 facts["name"] or (run.customer_key or ""), run.paid_at, facts["invoice_id"])


def search(db_url: str, text: str, limit: int = SEARCH_LIMIT) -> list[Found]:
    """Runs matching a PayTrace id, one of our references, an amount, an invoice id or a customer."""
    q = text.strip()
    if not q:
        return []
    # A PayTrace id, one of our references or an amount is looked up by index (0014) and nothing
    # else: with the free-text conditions beside it, every search read every run ever (2 s at a year
    # of 5,000 sales a day). Anything else is free text, read newest first.
    conditions = []
    if match := _REFERENCE.match(q.replace(" ", "")):
        gateway = ACH if match.group(1).upper() == "PTA" else CARD
        conditions.append((SyncRun.transaction_id == int(match.group(2))) & (SyncRun.gateway == gateway))
    if q.isdigit() and len(q) <= 12:
        conditions.append(or_(SyncRun.transaction_id == int(q), SyncRun.parent_transaction_id == int(q)))
    if _AMOUNT.match(q):
        try:
            conditions.append(SyncRun.amount == Decimal(q.replace("$", "").replace(",", "").strip()))
        except InvalidOperation:
            pass  # not an amount after all
    if not conditions:
        like = f"%{q.lower()}%"
        conditions.append(SyncRun.customer_key == q)
        # The invoice id and payer's name live in the stored export record; a JSON path reads them on
        # PostgreSQL and SQLite alike. The newest runs are searched first, and at most `limit` come back.
        conditions.append(SyncRun.transaction["invoice_id"].as_string() == q)
        conditions.append(func.lower(SyncRun.transaction["billing_address"]["name"].as_string()).like(like))
        conditions.append(func.lower(SyncRun.transaction["customer_id"].as_string()) == q.lower())
    with session_scope(db_url) as s:
        runs = s.scalars(select(SyncRun).where(or_(*conditions)).order_by(SyncRun.id.desc()).limit(limit)).all()
    return [_found(r) for r in runs]


@dataclass
class RunStory:
    """One run (sale, refund, void, decline, chargeback) with its steps and dead letters."""

    run: SyncRun
    steps: list[StepLedger]
    letters: list[DeadLetter]


@dataclass
class Story:
    """Everything paysync knows about one payment, oldest first."""

    pair: str
    gateway: str
    transaction_id: int
    facts: dict[str, str]
    amount: Decimal | None
    events: list[InboxEvent] = field(default_factory=list)
    runs: list[RunStory] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    settlement: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reference_prefix(self) -> str:
        return f"{PREFIX.get(self.gateway, 'PT')}{self.transaction_id}"

    @property
    def documents(self) -> list[tuple[str, StepLedger]]:
        """Every ERP document written for the payment: (run kind, ledger row with its reference)."""
        return [(r.run.kind, step) for r in self.runs for step in r.steps if step.erp_ref or step.erp_reference_number]

    @property
    def retries(self) -> int:
        return sum(max(0, step.attempts - 1) for r in self.runs for step in r.steps)


def story(db_url: str, pair: str, gateway: str, transaction_id: int) -> Story | None:
    """The payment's story, or None when paysync has never heard of it."""
    with session_scope(db_url) as s:
        runs = s.scalars(select(SyncRun).where(
            SyncRun.pair == pair, SyncRun.gateway == gateway,
            or_(SyncRun.transaction_id == transaction_id, SyncRun.parent_transaction_id == transaction_id))
            .order_by(SyncRun.id)).all()
        events = s.scalars(select(InboxEvent).where(
            InboxEvent.pair == pair, or_(InboxEvent.transaction_id == transaction_id,
                                         InboxEvent.run_id.in_([r.id for r in runs]) if runs else False))
            .order_by(InboxEvent.id).limit(200)).all()
        if not runs and not events:
            return None
        run_ids = [r.id for r in runs]
        steps = s.scalars(select(StepLedger).where(StepLedger.run_id.in_(run_ids)).order_by(StepLedger.id)).all()
        letters = s.scalars(select(DeadLetter).where(DeadLetter.run_id.in_(run_ids)).order_by(DeadLetter.id)).all()
        base = f"{PREFIX.get(gateway, 'PT')}{transaction_id}"
        references = [base if pair == "default" else f"{pair}:{base}"]
        review = s.scalars(select(ReviewItem).where(or_(ReviewItem.reference.in_(references),
                                                        ReviewItem.reference.like(f"%:{transaction_id}")))
                           .order_by(ReviewItem.id).limit(100)).all()
        review = [i for i in review if i.reference in references
                  or str((i.context or {}).get("transaction_id")) == str(transaction_id)]
        settlement = _settlement(s, pair, transaction_id) if gateway == CARD else []
    own = next((r for r in runs if r.transaction_id == transaction_id and r.transaction), None)
    record = own.transaction if own else (events[0].payload if events else {})
    return Story(pair, gateway, transaction_id, _facts(record), own.amount if own else None, list(events),
                 [RunStory(r, [x for x in steps if x.run_id == r.id], [l for l in letters if l.run_id == r.id])
                  for r in runs], list(review), settlement)


def _settlement(s, pair: str, transaction_id: int) -> list[dict[str, Any]]:
    """What the nightly reconciliation found for the payment, newest run first, with its batch journal.

    Its findings are found by (run, subject), the index every run writes, one look per run of the
    pair: by transaction id alone it was a scan of every item ever written (6M items, 60 nights of
    100k: 440 ms against 0.7 ms), growing by a night's volume every night. Its plain matches, kept
    a few rows per batch since 0015, by the range of ids each row holds (flows/settlement_items.py).
    """
    found = s.execute(select(ReconcileItem, ReconcileRun).join(ReconcileRun, ReconcileItem.run_id == ReconcileRun.id)
                      .where(ReconcileItem.subject == f"T{transaction_id}",
                             ReconcileItem.transaction_id == transaction_id, ReconcileRun.pair == pair)
                      .order_by(ReconcileRun.id.desc()).limit(5)).all()
    rows = sorted([*found, *settlement_items.matches_of(s, pair, transaction_id)],
                  key=lambda row: row[1].id, reverse=True)[:5]
    out = []
    for item, run in rows:
        posting = None
        if item.batch_number is not None:
            posting = s.scalar(select(SettlementPosting).where(SettlementPosting.pair == pair,
                                                               SettlementPosting.batch_number == item.batch_number))
        out.append({"day": run.day, "run": run.number, "run_id": run.id, "batch": item.batch_number,
                    "class": item.item_class, "exception": item.is_exception, "action": item.action,
                    "detail": item.detail, "journal": posting.journal_ref if posting else "",
                    "journal_status": posting.status if posting else "",
                    "deposit": posting.amount if posting else None})
    return out
