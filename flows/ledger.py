"""The step ledger: a row per (run, document) written before the ERP is touched, claimed atomically.

A stage claims the rows of the documents it is about to write inside the transaction that loads
its run, with one compare-and-set UPDATE per row, so it works alike on PostgreSQL and SQLite and
holds no lock while the ERP call runs. Two deliveries of the same stage (Redis redelivers on
worker loss) cannot both reach the ERP: the second finds a row claimed and backs off, unless the
claimer is a dead process on this host or its lease has run out.
"""
from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.errors import StepBusy
from db.models import StepLedger

HOST = socket.gethostname()


def claimer() -> str:
    """Who is claiming: host, process and thread (a thread pool runs several stages per process)."""
    return f"{HOST}:{os.getpid()}:{threading.get_ident()}"


def claimer_dead(claimed_by: str | None) -> bool:
    """True when the claimer was a process on this host that no longer exists."""
    parts = (claimed_by or "").split(":")
    if len(parts) < 2 or parts[0] != HOST or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def done_keys(s: Session, run_id: int) -> dict[str, str]:
    """The ERP keys of the run's finished documents, by document."""
    return dict(s.execute(select(StepLedger.step, StepLedger.erp_ref).where(
        StepLedger.run_id == run_id, StepLedger.status == "done")).all())


def claim(s: Session, run_id: int, stage: str, documents: dict[str, str], me: str, lease_seconds: float,
          now: datetime) -> dict[str, int]:
    """Claim the rows of `documents` (document -> idempotency key) for `me`, in the caller's transaction;
    return each claimed document's attempt number (1: no earlier attempt can have reached the ERP).

    A missing row is inserted claimed; a failed or released one, or one whose claimer died or
    whose lease ran out, is taken over with a compare-and-set on `attempts` (the row's version).
    A row a live worker holds raises StepBusy (retriable, bounded by that lease), and the caller's
    transaction rolls back every claim it made.
    """
    attempts: dict[str, int] = {}
    if not documents:
        return attempts
    rows = {row.step: row for row in s.scalars(select(StepLedger).where(
        StepLedger.run_id == run_id, StepLedger.step.in_(list(documents))))}
    stale = now - timedelta(seconds=lease_seconds)
    for document, key in documents.items():
        row = rows.get(document)
        if row is None:
            s.add(StepLedger(run_id=run_id, step=document, stage=stage, idempotency_key=key, status="running",
                             claimed_by=me, attempts=1, started_at=now))
            attempts[document] = 1
            continue
        if row.status == "done":
            continue
        free = row.status in ("pending", "failed") or (
            row.status == "running" and (row.started_at < stale or claimer_dead(row.claimed_by)))
        if free and s.execute(update(StepLedger).where(StepLedger.id == row.id, StepLedger.attempts == row.attempts)
                              .values(status="running", claimed_by=me, started_at=now, stage=stage,
                                      attempts=row.attempts + 1)).rowcount == 1:
            attempts[document] = row.attempts + 1
            continue
        expires = row.started_at + timedelta(seconds=lease_seconds)
        # Come back when the other claim's lease runs out (at the latest): if its holder died on
        # another host, that is when the stage becomes ours. Tasks do not count this against the
        # retry budget, since the lease bounds it.
        raise StepBusy(f"{document} of run {run_id} is being written by another worker",
                       retry_after=max(2.0, (expires - now).total_seconds()), system="paysync", operation=stage)
    s.flush()
    return attempts


def record(s: Session, run_id: int, written: dict[str, tuple[str, str | None, bool]], checksum: str | None,
           now: datetime) -> None:
    """Mark documents written: their ERP key and reference, whether the ERP held none before (created),
    and the mapping they were written with."""
    for document, (key, number, created) in written.items():
        s.execute(update(StepLedger).where(StepLedger.run_id == run_id, StepLedger.step == document)
                  .values(status="done", erp_ref=key, erp_reference_number=number, created=created,
                          completed_at=now, last_error=None, mapping_checksum=checksum))


def release(s: Session, run_id: int, documents: list[str], me: str, error: str) -> None:
    """Give back the claims `me` holds on documents it did not write, with the reason."""
    if documents:
        s.execute(update(StepLedger).where(StepLedger.run_id == run_id, StepLedger.step.in_(documents),
                                           StepLedger.claimed_by == me, StepLedger.status == "running")
                  .values(status="failed", last_error=error[:2000]))
