"""Dead letters: recorded in the database with their reason, announced on the dead_letter queue,
listed and replayed from the CLI. Replay resumes the run at the step that failed."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from connectors.errors import ConnectorError
from db.models import DeadLetter, InboxEvent, StepLedger, SyncRun
from db.session import session_scope
from db.types import utcnow
from metrics.registry import DEAD_LETTERS
from schemas.masking import mask_text

log = logging.getLogger("paysync.dead_letter")


def reason_for(exc: BaseException) -> str:
    """A sentence a person can act on: what failed, where, and the other side's words."""
    if isinstance(exc, ConnectorError):
        field = getattr(exc, "field", None)
        return mask_text(f"{exc}" + (f" [field {field}]" if field else ""))
    messages = getattr(exc, "messages", None)  # marshmallow.ValidationError lists every bad field
    if messages:
        return mask_text(f"invalid data: {messages}")
    return mask_text(f"{type(exc).__name__}: {exc}")


def record(db_url: str, *, task_name: str, exc: BaseException, run_id: int | None = None,
           inbox_id: int | None = None, step: str | None = None, attempts: int = 0,
           exhausted: bool = False) -> int:
    """Write the dead letter and mark its run dead; return the dead letter's id."""
    context: dict[str, Any] = {"attempts": attempts, "exhausted": exhausted}
    if isinstance(exc, ConnectorError):
        context.update(exc.context())
    reason = reason_for(exc)
    if exhausted:
        reason = f"gave up after {attempts} attempts: {reason}"
    with session_scope(db_url) as s:
        if run_id is not None:
            run = s.get(SyncRun, run_id)
            if run is not None:
                run.status, run.last_error, run.finished_at = "dead", reason, utcnow()
                context["transaction_id"] = run.transaction_id
                context["kind"] = run.kind  # replay resumes the right flow
        letter = DeadLetter(run_id=run_id, inbox_id=inbox_id, task_name=task_name, step=step, reason=reason,
                            error_type=type(exc).__name__, context=context, status="open", replay_count=0,
                            created_at=utcnow())
        s.add(letter)
        s.flush()
        letter_id = letter.id
    DEAD_LETTERS.labels(task_name, type(exc).__name__).inc()
    from workers.observe import dead_lettered

    dead_lettered.set(True)  # the task ends without a posting (workers/observe.py counts postings)
    log.warning("dead letter %s: %s %s run=%s inbox=%s: %s", letter_id, task_name, step or "", run_id,
                inbox_id, reason)
    return letter_id


def list_letters(db_url: str, status: str | None = "open", limit: int = 100) -> list[DeadLetter]:
    with session_scope(db_url) as s:
        q = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if status:
            q = q.where(DeadLetter.status == status)
        return list(s.scalars(q))


def get_letter(db_url: str, letter_id: int) -> DeadLetter | None:
    with session_scope(db_url) as s:
        return s.get(DeadLetter, letter_id)


def prepare_replay(db_url: str, letter_id: int) -> DeadLetter:
    """Reopen the letter's run at its failed step; the caller then re-sends the work."""
    with session_scope(db_url) as s:
        letter = s.get(DeadLetter, letter_id)
        if letter is None:
            raise LookupError(f"no dead letter {letter_id}")
        if letter.status != "open":
            raise ValueError(f"dead letter {letter_id} is {letter.status}, not open")
        letter.status, letter.replayed_at = "replayed", utcnow()
        letter.replay_count += 1
        if letter.run_id is not None:
            run = s.get(SyncRun, letter.run_id)
            run.status, run.finished_at, run.updated_at = "pending", None, utcnow()
            # A step left claimed by the failed attempt is free again; done steps stay done.
            s.execute(update(StepLedger).where(StepLedger.run_id == run.id, StepLedger.status != "done")
                      .values(status="failed"))
        if letter.inbox_id is not None:
            event = s.get(InboxEvent, letter.inbox_id)
            if event is not None and event.status in ("invalid", "received"):
                event.status = "received"
        s.flush()
        return letter
