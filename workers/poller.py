"""The poller: PayTrace's export API is the primary feed (the sweeper is workers/sweeper.py).

PayTrace has no webhooks (paytrace.md §7), so every minute beat asks the export API for what was
created since the cursor's day. Export dates are whole days in the merchant's zone, and a record may
reach the export after its day has ended, so the window overlaps: the days before the cursor's
(POLL_OVERLAP_DAYS) are read again, every POLL_OLDER_EVERY_SECONDS rather than every tick. A tick
costs what is new in it: records are taken a page at a time, the page's known ids are found with one
query and the new ones written with one statement (db/inbox.store_events), and the tick counts
what it fetched and the statements it ran (TickCounts).
"""
from __future__ import annotations

import hashlib
import json
import logging
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import event, select

from config.settings import Settings
from connectors.errors import ConnectorError
from connectors.paytrace import PayTraceGateway
from db.inbox import NewEvent, store_events
from db.models import PollerCursor
from db.session import get_engine, session_scope
from db.types import utcnow
from flows.runs import ACH_GATEWAY
from metrics.registry import POLL_RECORDS, POLL_STATEMENTS

CURSOR = "paytrace.transactions"
CHECKS_CURSOR = "paytrace.checks"
#: Each feed's cursors: how far it has read, and when it last read the overlap's older days (short
#: names: with a pair's name they must fit poller_cursor.name's 40 characters, as the first does).
FEEDS = {"cards": (CURSOR, "paytrace.older"), "checks": (CHECKS_CURSOR, "paytrace.older.ach")}
log = logging.getLogger("paysync.alert")


def cursor_name(base: str, pair: str) -> str:
    """The cursor of one feed of one pair (the default pair keeps the names it always had).

    poller_cursor.name holds 40 characters and a pair's name up to 31: where the two do not fit, the
    feed is named by a short stable tag instead (a name that fits keeps the form it always had)."""
    if pair == "default":
        return base
    name = f"{base}:{pair}"
    return name if len(name) <= 40 else f"{zlib.crc32(base.encode()):08x}:{pair}"


@dataclass
class TickCounts:
    """What a tick cost: export records fetched, known and new, SQL statements run, days read (over feeds)."""

    fetched: int = 0
    known: int = 0
    new: int = 0
    statements: int = 0
    days: int = 0

    def __iadd__(self, other: "TickCounts") -> "TickCounts":
        for name in ("fetched", "known", "new", "statements", "days"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def __str__(self) -> str:
        return (f"fetched={self.fetched} known={self.known} new={self.new} statements={self.statements} "
                f"days={self.days}")


@dataclass
class Tick:
    """One pair's poll: the new inbox ids (to enqueue, in export order) and what it cost."""

    new_ids: list[int] = field(default_factory=list)
    counts: TickCounts = field(default_factory=TickCounts)


def poll_once(settings: Settings, gateway: PayTraceGateway, now: datetime | None = None) -> list[int]:
    """Store every exported transaction (and check, when the pair takes ACH) not seen before; return new inbox ids."""
    return poll_tick(settings, gateway, now).new_ids


def poll_tick(settings: Settings, gateway: PayTraceGateway, now: datetime | None = None) -> Tick:
    """poll_once, with what the tick cost.

    `settings` are the pair's (Settings.for_pair): its cursor, its PayTrace account's gateway.
    """
    now = now or utcnow()
    tick = Tick()
    _poll_feed(settings, "cards", gateway.transactions_between, now, _card_event, tick)
    if settings.paytrace.ach:
        try:
            _poll_feed(settings, "checks", gateway.checks_between, now, _check_event, tick)
        except ConnectorError as exc:
            # The card feed is in; the checks feed's cursor has not moved, so the next tick covers it.
            log.error("ALERT poll of PayTrace checks (ACH) for pair %s failed: %s", settings.pair, exc,
                      extra={"alert": {"kind": "poll_failed", "feed": "checks", "pair": settings.pair,
                                       "reason": str(exc)}})
    return tick


def _card_event(record: dict) -> tuple[int, str, str, dict] | None:
    try:
        txn_id = int(record["transaction_id"])
    except (KeyError, TypeError, ValueError):
        return None
    kind = str(record.get("transaction_type") or "UNKNOWN").upper()
    if kind == "AUTHORIZATION" and str(record.get("status_code") or "N") != "N":
        kind = "AUTHORIZATION:CAPTURED"  # the same id, captured since: new word of it
    return txn_id, f"{txn_id}:{kind}", f"export.{kind.split(':')[0].lower()}", {"record": record}


def _check_event(record: dict) -> tuple[int, str, str, dict] | None:
    """A check (ACH): its own id space, and its status matters (not processed, returned days later)."""
    try:
        check_id = int(record["check_transaction_id"])
    except (KeyError, TypeError, ValueError):
        return None
    kind = str(record.get("transaction_type") or "UNKNOWN").upper()
    status = str(record.get("status_code") or "").strip().upper()
    word = {"X": ":NOT_PROCESSED", "R": ":RETURNED"}.get(status, "")
    if kind == "HOLD" and status not in ("H", "X", "V", ""):
        word = word or ":FUNDED"  # the same hold, funded since: new word of it (as a card capture)
    return check_id, f"ach:{check_id}:{kind}{word}", f"export.ach.{kind.lower()}", \
        {"record": record, "gateway": ACH_GATEWAY}


def window(now: datetime, since: datetime, older_since: datetime | None, *, tz: ZoneInfo, overlap_days: int,
           older_every: float) -> tuple[date, date, bool]:
    """The days a tick reads (first, last) and whether they include the overlap's older days.

    Every tick reads from the cursor's day (today, once a tick has run today) to today. The
    overlap goes back `overlap_days` before the day the older days were last read, so a record
    that reaches the export after its day ended is still found, at most `older_every` seconds late.
    """
    today = now.astimezone(tz).date()
    first = since.astimezone(tz).date()
    due = older_since is None or (now - older_since).total_seconds() >= older_every
    if overlap_days == 0 or not due:
        return first, today, False
    read_last = min(since, older_since or since).astimezone(tz).date()
    return read_last - timedelta(days=overlap_days), today, True


def _poll_feed(settings: Settings, feed: str, export: Callable[[date, date], list[dict]], now: datetime,
               event_of, tick: Tick) -> None:
    counts = TickCounts()
    cursor_key, older_key = (cursor_name(base, settings.pair) for base in FEEDS[feed])
    with counting_statements(settings.database_url, counts):
        with session_scope(settings.database_url) as s:
            marks = dict(s.execute(select(PollerCursor.name, PollerCursor.position).where(
                PollerCursor.name.in_((cursor_key, older_key)))).all())
        first, last, older = window(now, marks.get(cursor_key, now), marks.get(older_key),
                                    tz=ZoneInfo(settings.merchant_timezone), overlap_days=settings.poll_overlap_days,
                                    older_every=settings.poll_older_every_seconds)
        records = export(first, last)
        counts.fetched, counts.days = len(records), (last - first).days + 1
        page = settings.poll_page_size
        for start in range(0, len(records), page):
            new_ids, known = store_events(settings.database_url, source="poller", pair=settings.pair,
                                          events=[_new_event(r, event_of) for r in records[start:start + page]])
            tick.new_ids += new_ids
            counts.new += len(new_ids)
            counts.known += known
        with session_scope(settings.database_url) as s:
            for name in (cursor_key, older_key) if older else (cursor_key,):
                cursor = s.get(PollerCursor, name)
                if cursor is None:
                    s.add(PollerCursor(name=name, position=now, updated_at=now))
                else:
                    cursor.position = max(cursor.position, now)
    tick.counts += counts
    POLL_RECORDS.labels(feed, "known").inc(counts.known)
    POLL_RECORDS.labels(feed, "new").inc(counts.new)
    POLL_STATEMENTS.labels(feed).inc(counts.statements)


def _new_event(record: dict, event_of) -> NewEvent:
    event = event_of(record)
    if event is None:
        # Kept, not dropped: its ingest dead-letters it with the reason, once per distinct record.
        digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:20]
        return NewEvent(f"invalid:{digest}", "export.invalid", None, {"record": record})
    txn_id, event_id, event_type, payload = event
    return NewEvent(event_id, event_type, txn_id, payload)


_COUNTS: ContextVar[TickCounts | None] = ContextVar("poll_statement_counts", default=None)


def _count_statement(*_args) -> None:
    counts = _COUNTS.get()
    if counts is not None:
        counts.statements += 1


@contextmanager
def counting_statements(db_url: str, counts: TickCounts) -> Iterator[TickCounts]:
    """Count into `counts` the statements this thread sends to the database (the engine's cursor events)."""
    engine = get_engine(db_url)
    if not event.contains(engine, "before_cursor_execute", _count_statement):
        event.listen(engine, "before_cursor_execute", _count_statement)
    token = _COUNTS.set(counts)
    try:
        yield counts
    finally:
        _COUNTS.reset(token)
