"""The customer sync task (flows/customers.py), run by beat every CUSTOMER_SYNC_INTERVAL_SECONDS, per pair."""
from __future__ import annotations

from config.celery import celery_app
from config.settings import get_settings
from connectors.errors import RetriableError
from flows import customers
from workers.context import flow_context
from workers.tasks import PaysyncTask


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.sync_customers")
def sync_customers(self, pair: str | None = None) -> dict | None:
    """Both passes for one pair or every pair; a customer that failed for now makes the task retry."""
    return self.guarded(lambda: sync_pairs(pair), step="sync_customers")


def sync_pairs(pair: str | None = None) -> dict:
    """Every pair is synced even if one fails; then the first failure (a retriable one first) is raised."""
    counts: dict[str, dict] = {}
    failures: list[Exception] = []
    for name in [pair] if pair else list(get_settings().pair_names):
        try:
            report = customers.sync_customers(flow_context(name), pair=name)
            counts[name] = report.counts()
            report.raise_retriable()
        except Exception as exc:  # raised below, after the other pairs had their run
            failures.append(exc)
    if failures:
        raise next((e for e in failures if isinstance(e, RetriableError)), failures[0])
    return counts
