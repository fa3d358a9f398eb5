"""The daily recurring-billing task: a few lines around flows.recurring.run_recurring, per integration pair."""
from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from config.celery import celery_app
from config.settings import Settings, get_settings
from connectors.errors import RetriableError
from flows import recurring
from workers.context import enqueue_ingest, flow_context
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
    counts: dict[str, dict] = {}
    failures: list[Exception] = []
    names = [pair] if pair else list(get_settings().pair_names)
    for name in names:
        try:
            report = recurring.run_recurring(flow_context(name), when, pair=name, enqueue=enqueue_ingest)
            log.info("recurring %s (%s): %s", when, name, report.note or {k: v for k, v in report.counts.items() if v})
            counts[name] = report.counts
            report.raise_if_in_doubt()
        except Exception as exc:  # raised below, after the other pairs had their run
            failures.append(exc)
    if failures:
        raise next((e for e in failures if isinstance(e, RetriableError)), failures[0])
    return counts
