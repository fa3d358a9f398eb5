"""Celery tasks of the e-commerce path: statuses pushed to the store, the ERP's stock pushed, late orders filed.

Store webhooks themselves ride the ordinary intake (`paysync.ingest_event` hands them to
flows/store_events.py), so the ingress, the sweeper and dead-letter replay treat them like any
inbox event.
"""
from __future__ import annotations

import logging


from config.celery import celery_app
from config.store import shopify_config, store_settings
from config.settings import get_settings
from connectors.shopify import ShopifyConnector
from db.models import DeadLetter
from db.session import session_scope
from flows import orders, stock, store_status
from workers import deadletter
from workers.context import flow_context
from workers.tasks import PaysyncTask

log = logging.getLogger("paysync.store")
_STORES: dict[str, ShopifyConnector] = {}


def store_for(pair: str) -> ShopifyConnector:
    """The pair's shop connector, built once per process."""
    if pair not in _STORES:
        _STORES[pair] = ShopifyConnector(shopify_config(store_settings(pair),
                                                                     get_settings().http_retries))
    return _STORES[pair]


def _store_pairs():
    for settings in get_settings().pairs():
        ctx = flow_context(settings.pair)
        rules = orders.rules_of(ctx)
        if rules is not None:
            yield settings, ctx, rules


def _dead(db_url: str, status_id: int, exc: Exception) -> None:
    letter = deadletter.record(db_url, task_name="paysync.push_store_statuses", exc=exc, step="store_status")
    with session_scope(db_url) as s:
        row = s.get(DeadLetter, letter)
        row.context = {**(row.context or {}), "store_status": status_id}
    logging.getLogger("paysync.alert").error("ALERT the store refused status %s: %s", status_id,
                                             deadletter.reason_for(exc))


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.push_store_statuses")
def push_store_statuses(self) -> dict:
    """Every owed status that is due, each pair's; and orders no payment came for, filed for review."""
    base = get_settings()
    done = 0
    for settings, ctx, rules in _store_pairs():
        outcome = self.guarded(lambda: store_status.push_due(
            settings.database_url, settings.pair, rules, store_for(settings.pair),
            max_attempts=base.retry_max_attempts, backoff_base=base.retry_backoff_base,
            backoff_max=base.retry_backoff_max,
            on_dead=lambda status_id, exc: _dead(settings.database_url, status_id, exc)), step="store_status")
        done += outcome.done if outcome else 0
        self.guarded(lambda: orders.file_unpaid(ctx), step="store_unpaid")
    return {"done": done}


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.sync_store_stock")
def sync_store_stock(self) -> dict:
    """The ERP's quantities to the store; a failed run is not retried: the next beat tick is its retry."""
    out = {}
    for settings, ctx, rules in _store_pairs():
        if not rules.push_stock:
            continue
        store = store_settings(settings.pair)
        try:
            result = stock.sync(settings.database_url, settings.pair, rules, ctx.erp, store_for(settings.pair),
                                batch=store.stock_batch, calls=store.stock_calls_per_run)
        except Exception as exc:  # one alert per tick while the ERP or the store is down
            logging.getLogger("paysync.alert").error("ALERT stock sync of pair %s failed: %s", settings.pair,
                                                     deadletter.reason_for(exc))
            continue
        if result.unknown:
            log.warning("the store sells none of SKUs %s; their ERP quantities are not pushed", result.unknown)
        out[settings.pair] = {"read": result.read, "pushed": result.pushed, "throttled": result.throttled}
    return out


def replay_status(status_id: int) -> bool:
    """A dead status push, owed again (`paysync dlq replay` of its dead letter)."""
    return store_status.revive(get_settings().database_url, status_id)
