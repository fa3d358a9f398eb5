"""What a task does with each exception: one table, read by the house task class (workers/tasks.py).

The first row whose exception type matches wins, so the more specific rows come first. Like
dramatiq's `retry_when`/`throws` options, this is declared, not coded into each task.
"""
from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded
from marshmallow import ValidationError as SchemaError
from sqlalchemy.exc import IntegrityError, OperationalError, TimeoutError as PoolTimeout

from connectors.errors import PermanentError, RetriableError, RunFinished, SkippableError, StepBusy

STOP = "stop"  # the run needs no more steps: end the chain quietly
SKIP = "skip"  # the work is already done
WAIT = "wait"  # another worker holds the step: come back when its lease ends, outside the retry budget
RETRY = "retry"  # may pass: retry with backoff, bounded by RETRY_MAX_ATTEMPTS, then a dead letter
DEAD = "dead"  # a person must act: a dead letter now

POLICY: tuple[tuple[type[BaseException], str, str], ...] = (
    # (exception, action, who acts)
    (RunFinished, STOP, "nobody"),
    (SkippableError, SKIP, "nobody"),
    (StepBusy, WAIT, "the other worker"),
    (RetriableError, RETRY, "the other system"),  # network, 5xx, 429, locks, a sale not synced yet
    (OperationalError, RETRY, "the database"),  # a restart, a lost connection
    (PoolTimeout, RETRY, "the database"),  # every pooled connection busy past DATABASE_POOL_TIMEOUT (a stall)
    (IntegrityError, RETRY, "nobody"),  # a lost insert race: the repeat finds the winner's row
    (SoftTimeLimitExceeded, RETRY, "nobody"),  # the ledger makes the repeat safe
    (PermanentError, DEAD, "a person"),  # validation, unknown item, mapping or settings mistakes (the key named)
    (SchemaError, DEAD, "a person"),  # a record PayTrace sent that does not validate
    (Exception, DEAD, "a developer"),  # a bug: dead-lettered with its type
)


def action_for(exc: BaseException) -> str:
    """What to do with `exc`: stop, skip, wait, retry or dead."""
    for kind, action, _ in POLICY:
        if isinstance(exc, kind):
            return action
    return DEAD
