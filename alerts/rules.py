"""Which ALERT records are worth telling a person about, and what to tell them.

A record carries its facts in `extra={"alert": {"kind": ..., ...}}` at the call site; the text of
the log line is never parsed. Four kinds leave the process:

| kind                 | sent when                                                         | links to            |
|----------------------|-------------------------------------------------------------------|---------------------|
| dead_letter          | always (one per letter)                                            | the dead letter     |
| poll_failed          | always (quiet period: once an hour while PayTrace stays unreachable) | today               |
| reconcile_exceptions | always (once per pair and day within the quiet period)            | the run             |
| decline, anomaly     | the pair's declines or flagged payments within the mapping's window pass its `alerts` threshold | today / review |
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import func, select

from db.models import DeadLetter, ReviewItem, SyncRun
from db.session import session_scope
from schemas.mapping import Alerts


@dataclass(frozen=True)
class Alert:
    """One message for people: what happened, in plain words, and where in the console to look."""

    kind: str
    pair: str
    key: str  # the same key is not sent twice within the quiet period
    title: str
    text: str
    path: str  # the console page, e.g. /dead-letters/7


ThresholdsFor = Callable[[str], Alerts]


class MappingThresholds:
    """The pair's mapping `alerts` section, read at most once a minute (the file may change)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Alerts]] = {}

    def __call__(self, pair: str) -> Alerts:
        hit = self._cache.get(pair)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        from config.mapping import MappingError, active_mapping
        from config.settings import get_settings

        try:
            found = active_mapping(get_settings().for_pair(pair)).alerts
        except (MappingError, KeyError):
            found = Alerts()  # the workers refuse a broken mapping; the defaults still guard the pair
        self._cache[pair] = (time.monotonic(), found)
        return found


def evaluate(db_url: str, facts: dict[str, Any], message: str, now: datetime,
             thresholds: ThresholdsFor) -> Alert | None:
    """The alert a record's facts call for, or None when it stays a log line."""
    kind = facts.get("kind")
    pair = str(facts.get("pair") or "default")
    if kind == "dead_letter":
        return _dead_letter(db_url, int(facts["letter_id"]))
    if kind == "poll_failed":
        feed = facts.get("feed", "cards")
        return Alert(kind, pair, f"poll:{pair}:{feed}", f"paysync cannot read PayTrace ({pair}, {feed})",
                     f"The poller could not read PayTrace's {feed} export: {facts.get('reason') or message}. "
                     "Nothing is lost (the next poll re-reads the window), but new payments wait until it can.",
                     "/today")
    if kind == "reconcile_exceptions":
        day = facts.get("day")
        return Alert(kind, pair, f"reconcile:{pair}:{day}", f"Reconciliation of {day} ({pair}): "
                     f"{facts.get('exceptions', 0)} exceptions", f"{message}. "
                     f"{facts.get('open', 0)} items wait on the review list.", f"/reconciliation/{facts.get('run_id')}")
    if kind == "decline":
        return _decline_rate(db_url, pair, now, thresholds(pair))
    if kind == "anomaly":
        return _anomalies(db_url, pair, now, thresholds(pair))
    return None


def _dead_letter(db_url: str, letter_id: int) -> Alert | None:
    with session_scope(db_url) as s:
        letter = s.get(DeadLetter, letter_id)
        run = s.get(SyncRun, letter.run_id) if letter is not None and letter.run_id else None
    if letter is None:
        return None
    pair = run.pair if run else "default"
    what = f"{run.kind} of PayTrace {run.transaction_id} ({run.amount})" if run else f"inbox event {letter.inbox_id}"
    return Alert("dead_letter", pair, f"dead_letter:{letter_id}", f"A payment failed: {what}",
                 f"Dead letter {letter_id} at step {(letter.step or 'start').replace('_', ' ')}: {letter.reason}. "
                 "Fix the cause, then replay it from the console.", f"/dead-letters/{letter_id}")


def _decline_rate(db_url: str, pair: str, now: datetime, limits: Alerts) -> Alert | None:
    since = now - timedelta(minutes=limits.window_minutes)
    with session_scope(db_url) as s:
        rows = dict(s.execute(select(SyncRun.kind, func.count()).where(
            SyncRun.pair == pair, SyncRun.kind.in_(("sale", "decline")), SyncRun.paid_at >= since)
            .group_by(SyncRun.kind)).all())
    total, declined = sum(rows.values()), rows.get("decline", 0)
    if total < limits.decline_min_payments or Decimal(declined) / total <= limits.decline_rate:
        return None
    share = Decimal(declined) / total * 100
    return Alert("decline_rate", pair, f"decline_rate:{pair}", f"Declines are {share:.0f}% of payments ({pair})",
                 f"{declined} of the last {total} payments in {limits.window_minutes} minutes were declined; the "
                 f"mapping's threshold is {limits.decline_rate * 100:.0f}%. A gateway, fraud or checkout problem "
                 "is likely.", "/today")


def _anomalies(db_url: str, pair: str, now: datetime, limits: Alerts) -> Alert | None:
    if limits.anomalies <= 0:
        return None
    since = now - timedelta(minutes=limits.window_minutes)
    with session_scope(db_url) as s:
        references = s.scalars(select(ReviewItem.reference).where(
            ReviewItem.status == "open", ReviewItem.kind.like("anomaly:%"), ReviewItem.created_at >= since)).all()
    # Review references carry the pair as a prefix except for the default pair (flows/documents.review_reference).
    mine = {r for r in references if (r.split(":", 1)[0] == pair if ":" in r else pair == "default")}
    if len(mine) < limits.anomalies:
        return None
    return Alert("anomaly", pair, f"anomaly:{pair}", f"{len(mine)} unusual payment(s) flagged ({pair})",
                 f"The anomaly screen flagged {len(mine)} payment(s) in the last {limits.window_minutes} minutes "
                 f"(an amount far from the customer's usual, or a burst from one card): "
                 f"{', '.join(sorted(mine)[:10])}.", "/review")
