"""The only Celery app: JSON only, late acks, one task per process, queues and beat in one place."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import logging

from celery import Celery
from celery.app import trace as celery_trace
from celery.signals import after_setup_logger, after_setup_task_logger, worker_init
from celery.schedules import crontab
from kombu import Exchange, Queue

from config.queues import DEAD_LETTER_QUEUE, INGEST_QUEUE, RECONCILE_QUEUE, all_queues, erp_queue
from config.settings import Settings, get_settings

__all__ = ["celery_app", "make_celery", "send_ingest", "INGEST_QUEUE", "DEAD_LETTER_QUEUE", "RECONCILE_QUEUE", "erp_queue",
           "all_queues"]


class MerchantCrontab(crontab):
    """A crontab read on the merchant's wall clock, while the app itself keeps UTC.

    Celery matches crontab fields in the schedule's `tz` (the app's by default); this one names
    its own zone, so 21:30 stays 21:30 local across daylight-saving changes. It pickles with its
    zone, as beat's schedule file requires.
    """

    def __init__(self, minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*",
                 zone: str = "UTC", **kwargs) -> None:
        super().__init__(minute, hour, day_of_week, day_of_month, month_of_year, **kwargs)
        self.zone = zone

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def __reduce__(self):
        return (self.__class__, (self._orig_minute, self._orig_hour, self._orig_day_of_week,
                                 self._orig_day_of_month, self._orig_month_of_year, self.zone), self._orig_kwargs)

    def __repr__(self) -> str:
        return f"<MerchantCrontab: {self._orig_minute} {self._orig_hour} * * * ({self.zone})>"


def beat_schedule(settings: Settings) -> dict:
    """Every periodic job of paysync, in one place."""
    from config.store import load_store_settings

    store = load_store_settings(settings.pair, first_pair=settings.pair_names[0])
    return {
        "poll-paytrace": {
            "task": "paysync.poll_paytrace",
            "schedule": settings.poll_interval_seconds,
            # A poll that waited longer than its interval is stale: the next one covers it.
            "options": {"queue": INGEST_QUEUE, "expires": settings.poll_interval_seconds},
        },
        "sweep-inbox": {
            "task": "paysync.sweep_inbox",
            "schedule": settings.sweep_interval_seconds,
            "options": {"queue": INGEST_QUEUE, "expires": settings.sweep_interval_seconds},
        },
        "sync-customers": {
            # Both ways between the PayTrace vault and the ERP (flows/customers.py); ERP work, on its queue.
            "task": "paysync.sync_customers",
            "schedule": settings.customer_sync_interval_seconds,
            "options": {"queue": erp_queue(settings.erp), "expires": settings.customer_sync_interval_seconds},
        },
        "reconcile-day": {
            # After PayTrace's batch close (8 PM Pacific by default); the task works out which day
            # from this schedule, and the day's lock plus its run key make two beats run it once.
            "task": "paysync.reconcile_day",
            "schedule": MerchantCrontab(minute=settings.reconcile_minute, hour=settings.reconcile_hour,
                                        zone=settings.merchant_timezone),
            "options": {"queue": RECONCILE_QUEUE, "expires": settings.reconcile_expires_seconds},
        },
        "push-store-statuses": {
            # Statuses owed to the online store (paid, failed, refunded, cancelled), and late orders filed.
            "task": "paysync.push_store_statuses",
            "schedule": store.push_interval_seconds,
            "options": {"queue": erp_queue(settings.erp), "expires": store.push_interval_seconds},
        },
        "sync-store-stock": {
            # The ERP's quantities to the store's inventory levels (flows/stock.py).
            "task": "paysync.sync_store_stock",
            "schedule": store.stock_interval_seconds,
            "options": {"queue": erp_queue(settings.erp), "expires": store.stock_interval_seconds},
        },
        "recurring-day": {
            # Charge ERP invoices falling due to their customers' PayTrace profiles (flows/recurring.py),
            # once a day on the merchant's clock; a missed day is caught up by the next (due on or before).
            "task": "paysync.run_recurring",
            "schedule": MerchantCrontab(minute=0, hour=settings.recurring_hour, zone=settings.merchant_timezone),
            "options": {"queue": RECONCILE_QUEUE, "expires": 6 * 3600},
        },
    }


#: Where a publish goes when REDIS_URL is not set: a socket that does not exist, so it fails fast.
NO_BROKER = "redis+socket:///nonexistent/REDIS_URL-is-not-set"


def make_celery(settings: Settings) -> Celery:
    app = Celery("paysync", include=["workers.tasks", "workers.customer_tasks", "workers.recurring_tasks",
                                     "workers.console_tasks", "workers.observe", "workers.store_tasks"])
    transport = {
        # Must outlive every countdown we schedule, or Redis hands a waiting task out again
        # (celery#2599); Settings refuses a visibility timeout shorter than the longest backoff.
        "visibility_timeout": settings.visibility_timeout,
    }
    app.conf.update(
        # Never Celery's default AMQP broker: without REDIS_URL a publish fails at once (no socket
        # there) instead of landing in a queue no worker reads; commands refuse before that.
        broker_url=settings.redis_url or NO_BROKER,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # A publish that cannot reach Redis fails fast: the ingress has already committed the
        # event (the sweeper sends it later), and a worker's retry is re-driven by the sweeper.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.25,
                                   "interval_max": 0.5},
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        # prefork, where a pool child killed right after start is replaced instead of ending the worker.
        worker_pool="workers.pool:TaskPool",
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_soft_shutdown_timeout=10.0,
        worker_enable_remote_control=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 5),
        task_default_queue=INGEST_QUEUE,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in all_queues()],
        task_routes={
            "paysync.ingest_event": {"queue": INGEST_QUEUE},
            "paysync.poll_paytrace": {"queue": INGEST_QUEUE},
            "paysync.sweep_inbox": {"queue": INGEST_QUEUE},
            "paysync.dead_letter_notice": {"queue": DEAD_LETTER_QUEUE},
            "paysync.replay_dead_letter": {"queue": INGEST_QUEUE},  # from the console
            "paysync.reconcile_day": {"queue": RECONCILE_QUEUE},
            "paysync.run_recurring": {"queue": RECONCILE_QUEUE},  # the daily batch jobs' queue
            "paysync.sync_customers": {"queue": erp_queue(settings.erp)},
            "paysync.push_store_statuses": {"queue": erp_queue(settings.erp)},
            "paysync.sync_store_stock": {"queue": erp_queue(settings.erp)},
            # ERP steps are routed per run to erp.<kind> when the chain is built.
        },
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
        enable_utc=True,
    )
    return app


celery_app = make_celery(get_settings())


def send_ingest(inbox_id: int) -> None:
    """Hand a stored inbox event to the workers, by task name (the sender never loads the flows)."""
    celery_app.send_task("paysync.ingest_event", args=[inbox_id], queue=INGEST_QUEUE)


@worker_init.connect
def fresh_metrics(**_) -> None:
    """Before the pool starts: counters of a previous run's processes must not be added to this one's."""
    from metrics.exposition import prepare_multiprocess_dir

    prepare_multiprocess_dir()


@worker_init.connect
def refuse_half_configured(**_) -> None:
    """Before a worker consumes anything, its settings and mapping must be whole, or it exits.

    SettingsError and MappingError list every mistake at once. Connected here, with the app,
    so it is in place before the worker starts (the task modules load later).
    """
    from config.mapping import MappingError, active_mapping
    from config.settings import SettingsError

    try:
        get_settings().broker_url  # a worker without REDIS_URL would consume nothing anyone sends
        for pair in get_settings().pairs():  # every integration pair, or none
            active_mapping(pair)
    except (SettingsError, MappingError) as exc:
        logging.getLogger("paysync.alert").critical("worker refused to start: %s", exc)
        raise SystemExit(2) from exc


# Celery logs a task's runtime with all of a float's digits; 17 of them can pass for a card number,
# and the mask (rightly) hides them, leaving "succeeded in xxxxxxxxxxxxx3461s". Milliseconds are enough.
celery_trace.LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime).3fs: %(return_value)s"


@after_setup_logger.connect
@after_setup_task_logger.connect
def mask_logs(logger=None, **_) -> None:
    """Every worker, beat and flower log line passes the card-data mask (schemas.masking)."""
    from schemas.masking import install_log_masking

    install_log_masking(logger or logging.getLogger())
