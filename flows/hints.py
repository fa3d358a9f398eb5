"""Hints PayTrace never confirms: a run announced only by silent posts is dropped quietly, and counted.

A silent post is unsigned, so anyone can name a made-up transaction. While PayTrace does not
show it, the fetch is retried as for any push; once the run is older than SILENT_POST_CONFIRM_SECONDS
(and always before the retries would run out), it ends `skipped` with the hold UNCONFIRMED (its note says why):
no dead letter, no alert. A webhook or the poller naming the same transaction keeps the usual
rules (retry, then a dead letter a person sees). `dropped_count` is the count an operator reads.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from config.settings import Settings, get_settings
from db.models import InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow

log = logging.getLogger("paysync.hints")

#: The hold of a run dropped this way (sync_run.hold); the count is of runs with it. Its note says why.
UNCONFIRMED = "unconfirmed"
NOTE = "silent post for a transaction PayTrace does not show: dropped"


def confirm_window(settings: Settings) -> float:
    """How long a silent-post run waits for PayTrace: the setting, but less than the shortest retry budget."""
    # compute_backoff draws each wait in [ceiling/2, ceiling]: the retries last at least this long.
    shortest = sum(min(settings.retry_backoff_max, settings.retry_backoff_base * 2 ** i) / 2
                   for i in range(settings.retry_max_attempts - 1))
    return min(settings.silent_post_confirm_seconds, shortest * 0.9)


def drop_unconfirmed(db_url: str, run_id: int) -> bool:
    """Finish the run as dropped if only silent posts announced it and its wait is over; say whether it was."""
    settings = get_settings()
    with session_scope(db_url) as s:
        run = s.get(SyncRun, run_id)
        sources = set(s.scalars(select(InboxEvent.source).where(InboxEvent.run_id == run_id)))
        if run is None or sources != {"silent_post"}:
            return False
        if utcnow() - run.created_at < timedelta(seconds=confirm_window(settings)):
            return False
        run.status, run.finished_at, run.current_step = "skipped", utcnow(), None
        run.hold, run.note, run.last_error = UNCONFIRMED, NOTE, None
        transaction_id = run.transaction_id
    log.info("silent post for transaction %s dropped: PayTrace does not show it (%d dropped in all)",
             transaction_id, dropped_count(db_url))
    return True


def dropped_count(db_url: str) -> int:
    """How many silent-post runs were dropped unconfirmed."""
    with session_scope(db_url) as s:
        return s.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "skipped",
                                                                         SyncRun.hold == UNCONFIRMED)) or 0
