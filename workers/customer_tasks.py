"""The customer sync task (flows/customers.py), run by beat every CUSTOMER_SYNC_INTERVAL_SECONDS, per pair."""
from __future__ import annotations

from config.celery import celery_app
from flows import customers
from workers.context import flow_context, for_each_pair
from workers.tasks import PaysyncTask


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.sync_customers")
def sync_customers(self, pair: str | None = None) -> dict | None:
    """Both passes for one pair or every pair; a customer that failed for now makes the task retry."""
    return self.guarded(lambda: sync_pairs(pair), step="sync_customers")


def sync_pairs(pair: str | None = None) -> dict:
    """Every pair is synced even if one fails; then the first failure (a retriable one first) is raised."""

    def sync(name: str) -> dict:
        report = customers.sync_customers(flow_context(name), pair=name)
        report.raise_retriable()
        return report.counts()

    return for_each_pair(pair, sync)
