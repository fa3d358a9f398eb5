"""The pure parts of recurring billing: what a run reports, who holds a `charging` row, and what an
invoice's ledger rows call for next (flows/recurring.py runs them against PayTrace and the ERP)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from connectors.errors import ChargeInDoubt
from db.models import RecurringCharge
from db.types import utcnow
from flows.ledger import claimer, claimer_dead
from schemas.mapping import Recurring

OUTCOMES = ("charged", "declined", "retried", "resolved_after_doubt", "in_doubt", "failed", "skipped")


# -- the report ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """What one run did with one invoice."""

    invoice_key: str
    reference: str
    customer_id: str
    amount: Decimal | None
    attempt: int | None
    outcome: str
    detail: str


@dataclass
class RecurringReport:
    """A run's counts by outcome and one line per invoice it looked at.

    `charged` and `declined` are PayTrace's answers to charges this run made (`retried` counts
    those after a decline too); `resolved_after_doubt` are earlier charges in doubt that PayTrace's
    export settled without charging again; `in_doubt` are those it does not show yet.
    """

    day: date
    enabled: bool = True
    note: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    lines: list[Line] = field(default_factory=list)

    def add(self, line: Line, *also: str) -> None:
        self.lines.append(line)
        for outcome in (line.outcome, *also):
            self.counts[outcome] += 1

    @property
    def in_doubt(self) -> list[Line]:
        return [line for line in self.lines if line.outcome == "in_doubt"]

    def raise_if_in_doubt(self) -> None:
        """Charges PayTrace does not show yet need another look soon: a retriable error says so."""
        if self.in_doubt:
            keys = ", ".join(line.reference or line.invoice_key for line in self.in_doubt)
            raise ChargeInDoubt(f"{len(self.in_doubt)} charge(s) in doubt, not in PayTrace's export yet: {keys}",
                                system="paysync", operation="recurring")


# -- the claim on a `charging` row -------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """Who holds a `charging` row, since when, and when PayTrace was last called for it."""

    by: str | None
    at: datetime | None
    called_at: datetime | None
    doubt: str = ""

    @classmethod
    def calling(cls, previous: "Claim | None" = None) -> "Claim":
        now = utcnow()
        return cls(claimer(), now, now, previous.doubt if previous else "")

    def taken(self) -> "Claim":
        """This process holds it now; the time of the last call is kept."""
        return Claim(claimer(), utcnow(), self.called_at, self.doubt)

    def released(self, doubt: str) -> "Claim":
        return Claim(None, None, self.called_at, doubt[:500])

    def live(self, now: datetime, lease_seconds: float) -> bool:
        """Held by a process that may still be talking to PayTrace about it."""
        return bool(self.by) and self.at is not None and now - self.at < timedelta(seconds=lease_seconds) \
            and not claimer_dead(self.by)

    def text(self) -> str:
        return json.dumps({"claimed_by": self.by, "claimed_at": _iso(self.at), "called_at": _iso(self.called_at),
                           "doubt": self.doubt})

    @classmethod
    def parse(cls, text: str | None, written: datetime) -> "Claim":
        """The claim a row holds; one that cannot be read counts as a call made when the row was written."""
        try:
            data = json.loads(text or "")
            return cls(data.get("claimed_by"), _when(data.get("claimed_at")), _when(data.get("called_at")),
                       data.get("doubt") or "")
        except (ValueError, TypeError, AttributeError):
            return cls(None, None, written, "claim unreadable")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- what the ledger rows call for (pure) ------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The next thing to do for one invoice: charge, settle (a doubt), dun (keep the status) or skip."""

    action: str
    attempt: int = 0
    detail: str = ""


def plan_for(rows: list[RecurringCharge], due: date, day: date, recurring: Recurring) -> Plan:
    """What an invoice's ledger rows call for on `day`."""
    charged = [r for r in rows if r.status == "charged"]
    if charged:
        return Plan("skip", charged[0].attempt, f"already charged (sale {charged[0].transaction_id})")
    latest = max(rows, key=lambda r: r.attempt, default=None)
    if latest is not None and latest.status == "charging":
        return Plan("settle", latest.attempt)
    if latest is not None and latest.status == "declined":
        if latest.next_attempt_on is None:
            return Plan("skip", latest.attempt, "declined; retries exhausted (on the review list)")
        if latest.next_attempt_on > day:
            return Plan("dun", latest.attempt, f"declined; next attempt on {latest.next_attempt_on}")
        return Plan("charge", latest.attempt + 1)
    if latest is not None and latest.status == "failed":
        return Plan("skip", latest.attempt, "refused by PayTrace (on the review list)")
    # No row yet, or the last attempt was superseded (never charged; the invoice is due again).
    if (day - due).days > recurring.max_age_days:
        return Plan("skip", 0, f"due {due}, more than {recurring.max_age_days} days ago: left to a person")
    return Plan("charge", (latest.attempt + 1) if latest else 1)


def next_attempt_on(recurring: Recurring, attempt: int, day: date) -> date | None:
    """When to try again after attempt `attempt` was declined on `day`; None when no retries are left."""
    if attempt > len(recurring.retry_days):
        return None
    return day + timedelta(days=recurring.retry_days[attempt - 1])


