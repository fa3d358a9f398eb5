"""The step ledger: a row per (run, step) written before the ERP is touched, claimed atomically.

A claim is one compare-and-set UPDATE, so it works alike on PostgreSQL and SQLite and holds no
lock while the ERP call runs. Two deliveries of the same step (Redis redelivers on worker loss)
cannot both reach the ERP: the second finds the step claimed and backs off, unless the claimer
is a dead process on this host or its lease has run out.
"""
from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from connectors.errors import ConnectorError, RetriableError
from db.models import StepLedger, SyncRun
from db.session import session_scope
from db.types import utcnow

HOST = socket.gethostname()


class StepBusy(RetriableError):
    """Another live process is running this step right now."""


def claimer() -> str:
    return f"{HOST}:{os.getpid()}"


def _claimer_dead(claimed_by: str | None) -> bool:
    """True when the claimer was a process on this host that no longer exists."""
    if not claimed_by or ":" not in claimed_by:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run_step(db_url: str, run_id: int, step: str, key: str, action: Callable[[], tuple[str, str | None]],
             lease_seconds: float, mapping_checksum: str | None = None) -> str:
    """Do `action` once for (run, step) and return the ERP key it produced (or produced before).

    `action` returns (erp key, erp reference number); it must itself be idempotent on the
    ERP side (look up before create), because a crash after the ERP answered and before our
    commit brings us back here with the step still claimed.
    """
    me = claimer()
    try:
        claimed, done_ref, wait = _claim(db_url, run_id, step, key, me, lease_seconds)
    except IntegrityError:
        # A concurrent delivery inserted the row between our look and our insert: look again.
        claimed, done_ref, wait = _claim(db_url, run_id, step, key, me, lease_seconds)
    if done_ref is not None:
        return done_ref
    if not claimed:
        # Come back when the other claim's lease runs out (at the latest): if its holder died on
        # another host, that is when the step becomes ours. Tasks do not count this against the
        # retry budget, since the lease bounds it.
        raise StepBusy(f"step {step} of run {run_id} is being run by another worker", retry_after=wait,
                       system="paysync", operation=step)
    try:
        erp_key, erp_number = action()
    except ConnectorError as exc:
        _release(db_url, run_id, step, me, status="failed", error=str(exc))
        raise
    except BaseException as exc:
        _release(db_url, run_id, step, me, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    with session_scope(db_url) as s:
        s.execute(update(StepLedger).where(StepLedger.run_id == run_id, StepLedger.step == step)
                  .values(status="done", erp_ref=erp_key, erp_reference_number=erp_number,
                          completed_at=utcnow(), last_error=None, mapping_checksum=mapping_checksum))
    return erp_key


def _claim(db_url: str, run_id: int, step: str, key: str, me: str,
           lease_seconds: float) -> tuple[bool, str | None, float]:
    """One transaction: write the ledger row claimed by us, or claim the existing one if free.

    Returns (claimed, the ERP key if the step is already done, seconds until a foreign claim expires).
    """
    now = utcnow()
    with session_scope(db_url) as s:
        row = s.scalars(select(StepLedger).where(StepLedger.run_id == run_id, StepLedger.step == step)).one_or_none()
        if row is None:
            s.add(StepLedger(run_id=run_id, step=step, idempotency_key=key, status="running", claimed_by=me,
                             attempts=1, started_at=now))
            s.flush()
            claimed = True
        elif row.status == "done":
            return False, row.erp_ref or "", 0.0
        else:
            stale = now - timedelta(seconds=lease_seconds)
            free = row.status in ("pending", "failed") or (
                row.status == "running" and (row.started_at < stale or _claimer_dead(row.claimed_by)))
            # `attempts` is the row's version: the claim wins only if nobody claimed it since we read.
            claimed = free and s.execute(
                update(StepLedger)
                .where(StepLedger.id == row.id, StepLedger.attempts == row.attempts)
                .values(status="running", claimed_by=me, started_at=now, attempts=row.attempts + 1)
            ).rowcount == 1
        if claimed:
            s.execute(update(SyncRun).where(SyncRun.id == run_id)
                      .values(current_step=step, status="running", updated_at=now))
            return True, None, 0.0
        expires = row.started_at + timedelta(seconds=lease_seconds)
        return False, None, max(2.0, (expires - now).total_seconds())


def _release(db_url: str, run_id: int, step: str, me: str, *, status: str, error: str) -> None:
    with session_scope(db_url) as s:
        s.execute(update(StepLedger)
                  .where(StepLedger.run_id == run_id, StepLedger.step == step, StepLedger.claimed_by == me)
                  .values(status=status, last_error=error[:2000]))
        s.query(SyncRun).filter(SyncRun.id == run_id).update(
            {"last_error": error[:2000], "updated_at": utcnow()}, synchronize_session=False)


def step_refs(db_url: str, run_id: int) -> dict[str, str]:
    """The ERP keys the run's finished steps recorded, by step."""
    with session_scope(db_url) as s:
        return dict(s.execute(select(StepLedger.step, StepLedger.erp_ref).where(
            StepLedger.run_id == run_id, StepLedger.status == "done")).all())


def step_record(db_url: str, run_id: int, step: str) -> tuple[str | None, str | None]:
    """(ERP key, reference number) a finished step recorded; (None, None) if it has not finished."""
    with session_scope(db_url) as s:
        row = s.execute(select(StepLedger.erp_ref, StepLedger.erp_reference_number).where(
            StepLedger.run_id == run_id, StepLedger.step == step, StepLedger.status == "done")).one_or_none()
    return (row.erp_ref, row.erp_reference_number) if row else (None, None)


def record_decision(db_url: str, run_id: int, erp_key: str, text: str) -> None:
    """Rewrite a finished decision step (the match) when the ERP proved it out of date."""
    with session_scope(db_url) as s:
        s.execute(update(StepLedger).where(StepLedger.run_id == run_id, StepLedger.step == "match")
                  .values(erp_ref=erp_key, erp_reference_number=text, completed_at=utcnow()))
