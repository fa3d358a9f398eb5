"""Statuses owed to the store (paid, failed, refunded, cancelled), pushed through its Admin API.

Each owed status is a `store_status` row, written by the flow that learnt it (flows/orders.py).
A push does what the mapping's `store.statuses` says (mark paid, cancel, add a tag), each action
idempotent on the store's side (connectors/shopify reads the order first). A push that fails for
a reason that may pass is tried again later with backoff; one the store refuses, or that runs out
of attempts, becomes a dead letter with the store's words and the row is `dead` until replayed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from sqlalchemy import select, update

from connectors.backoff import compute_backoff
from connectors.errors import ConnectorError, PermanentError, RetriableError
from db.session import session_scope
from db.store_models import StoreOrder, StoreStatus
from db.types import utcnow
from schemas.store_mapping import StoreRules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushOutcome:
    """What one round of pushes did."""

    done: int = 0
    retrying: int = 0
    dead: tuple[tuple[int, Exception], ...] = ()


def due(db_url: str, pair: str, limit: int = 100) -> list[int]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(StoreStatus.id).where(
            StoreStatus.pair == pair, StoreStatus.state == "pending", StoreStatus.next_attempt_at <= utcnow())
            .order_by(StoreStatus.id).limit(limit)))


def push(db_url: str, status_id: int, rules: StoreRules, store) -> None:
    """Do what the mapping says for one owed status; raises ConnectorError when the store did not take it."""
    with session_scope(db_url) as s:
        row = s.get(StoreStatus, status_id)
        order = s.get(StoreOrder, row.order_id)
        status, store_kind, store_order_id = row.status, order.store, order.store_order_id
    action = rules.statuses.get(status)
    if action is None:
        return
    if store_kind != "shopify":
        # The generic format has no API to answer: the status is kept here only (docs/store.md).
        log.info("order %s of store %s: status %s kept (the store has no Admin API)", store_order_id, store_kind,
                 status)
        return
    if action.mark_paid:
        store.mark_paid(store_order_id)
    if action.cancel:
        store.cancel(store_order_id, "DECLINED" if status == "failed" else "OTHER")
    if action.tag:
        store.add_tag(store_order_id, action.tag)


def push_due(db_url: str, pair: str, rules: StoreRules, store, *, max_attempts: int, backoff_base: float,
             backoff_max: float, limit: int = 100,
             on_dead: Callable[[int, Exception], None] | None = None) -> PushOutcome:
    """Push every owed status that is due; each ends done, later, or dead (reported through `on_dead`)."""
    done, retrying, dead = 0, 0, []
    for status_id in due(db_url, pair, limit):
        try:
            push(db_url, status_id, rules, store)
        except RetriableError as exc:
            with session_scope(db_url) as s:
                row = s.get(StoreStatus, status_id)
                row.attempts += 1
                row.last_error = str(exc)[:2000]
                if row.attempts >= max_attempts:
                    row.state = "dead"
                    dead.append((status_id, exc))
                else:
                    wait = compute_backoff(row.attempts, base=backoff_base, cap=backoff_max,
                                           retry_after=exc.retry_after)
                    row.next_attempt_at = utcnow() + timedelta(seconds=wait)
                    retrying += 1
            if isinstance(exc, RetriableError) and getattr(exc, "retry_after", None):
                break  # the store asked us to slow down: the rest waits for the next round
            continue
        except (PermanentError, ConnectorError) as exc:
            with session_scope(db_url) as s:
                s.execute(update(StoreStatus).where(StoreStatus.id == status_id).values(
                    state="dead", attempts=StoreStatus.attempts + 1, last_error=str(exc)[:2000]))
            dead.append((status_id, exc))
            continue
        with session_scope(db_url) as s:
            s.execute(update(StoreStatus).where(StoreStatus.id == status_id).values(
                state="done", attempts=StoreStatus.attempts + 1, done_at=utcnow(), last_error=None))
        done += 1
    for status_id, exc in dead:
        if on_dead is not None:
            on_dead(status_id, exc)
    return PushOutcome(done, retrying, tuple(dead))


def revive(db_url: str, status_id: int) -> bool:
    """A replayed dead letter: the status is owed again, due now."""
    with session_scope(db_url) as s:
        return bool(s.execute(update(StoreStatus).where(StoreStatus.id == status_id, StoreStatus.state == "dead")
                              .values(state="pending", attempts=0, next_attempt_at=utcnow())).rowcount)
