"""The daily recurring-billing task: a few lines around flows.recurring.run_recurring, per integration pair."""
from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from config.celery import celery_app
from config.settings import Settings, get_settings
from flows import recurring
from workers.context import enqueue_ingest, flow_context, for_each_pair
from workers.tasks import PaysyncTask

log = logging.getLogger("paysync.tasks")


def merchant_today(settings: Settings) -> date:
    """The merchant's calendar day now: what falls due "today" means."""
    return datetime.now(ZoneInfo(settings.merchant_timezone)).date()


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.run_recurring",
                 time_limit=get_settings().reconcile_time_limit,
                 soft_time_limit=max(1, get_settings().reconcile_time_limit - 30))
def run_recurring(self, day: str | None = None, pair: str | None = None) -> dict | None:
    """Charge the invoices due by `day` (default: the merchant's today) for one pair or every pair.

    Retried (the house policy) while a charge is in doubt; a re-run charges nothing twice.
    """
    when = date.fromisoformat(day) if day else merchant_today(get_settings())
    return self.guarded(lambda: bill(when, pair), step="recurring")


def bill(when: date, pair: str | None = None) -> dict:
    """Every pair is billed even if one fails; then the first failure (a retriable one first) is raised."""

    def charge(name: str) -> dict:
        report = recurring.run_recurring(flow_context(name), when, pair=name, enqueue=enqueue_ingest)
        log.info("recurring %s (%s): %s", when, name, report.note or {k: v for k, v in report.counts.items() if v})
        report.raise_if_in_doubt()
        return report.counts

    return for_each_pair(pair, charge)
