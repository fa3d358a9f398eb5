"""The poller (PayTrace's export API is the primary feed) and the sweeper (nothing stalls forever).

PayTrace has no webhooks (paytrace.md §7), so every minute beat asks the export API for
everything created since a day before the cursor: windows overlap, and the inbox's unique key
makes re-reading a boundary free. Export dates are whole days in the merchant's zone.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.settings import Settings
from connectors.errors import ConnectorError
from connectors.paytrace import PayTraceGateway
from db.inbox import store_event
from db.models import PollerCursor
from db.session import session_scope
from db.types import utcnow
from flows.runs import ACH_GATEWAY

CURSOR = "paytrace.transactions"
CHECKS_CURSOR = "paytrace.checks"
log = logging.getLogger("paysync.alert")


def cursor_name(base: str, pair: str) -> str:
    """The cursor of one feed of one pair (the default pair keeps the names it always had)."""
    return base if pair == "default" else f"{base}:{pair}"


def poll_once(settings: Settings, gateway: PayTraceGateway, now: datetime | None = None) -> list[int]:
    """Store every exported transaction (and check, when the pair takes ACH) not seen before; return new inbox ids.

    `settings` are the pair's (Settings.for_pair): its cursor, its PayTrace account's gateway.
    """
    now = now or utcnow()
    new_ids = _poll_feed(settings, cursor_name(CURSOR, settings.pair), gateway.transactions_between, now,
                         _card_event)
    if settings.paytrace.ach:
        try:
            new_ids += _poll_feed(settings, cursor_name(CHECKS_CURSOR, settings.pair), gateway.checks_between, now,
                                  _check_event)
        except ConnectorError as exc:
            # The card feed is in; the checks feed's cursor has not moved, so the next tick covers it.
            log.error("ALERT poll of PayTrace checks (ACH) for pair %s failed: %s", settings.pair, exc,
                      extra={"alert": {"kind": "poll_failed", "feed": "checks", "pair": settings.pair,
                                       "reason": str(exc)}})
    return new_ids


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


def _poll_feed(settings: Settings, cursor_key: str, export, now: datetime, event_of) -> list[int]:
    tz = ZoneInfo(settings.merchant_timezone)
    with session_scope(settings.database_url) as s:
        cursor = s.get(PollerCursor, cursor_key)
        since = cursor.position if cursor else now
    start = since.astimezone(tz).date() - timedelta(days=settings.poll_overlap_days)
    end = now.astimezone(tz).date()
    new_ids = []
    for record in export(start, end):
        event = event_of(record)
        if event is None:
            # Kept, not dropped: its ingest dead-letters it with the reason, once per distinct record.
            digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:20]
            inbox_id, created = store_event(settings.database_url, source="poller", event_id=f"invalid:{digest}",
                                            event_type="export.invalid", transaction_id=None,
                                            payload={"record": record}, pair=settings.pair)
        else:
            txn_id, event_id, event_type, payload = event
            inbox_id, created = store_event(settings.database_url, source="poller", event_id=event_id,
                                            event_type=event_type, transaction_id=txn_id, payload=payload,
                                            pair=settings.pair)
        if created:
            new_ids.append(inbox_id)
    with session_scope(settings.database_url) as s:
        cursor = s.get(PollerCursor, cursor_key)
        if cursor is None:
            s.add(PollerCursor(name=cursor_key, position=now, updated_at=now))
        else:
            cursor.position = max(cursor.position, now)
    return new_ids
