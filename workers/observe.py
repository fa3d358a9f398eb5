"""What a worker process adds to every task: the run id on its log lines, metrics, and alerts that leave.

Connected to Celery's signals, so no task body changes: before a task, the run (or inbox event)
it works on goes into the logging context; after it, its time and outcome are counted. Each pool
child installs the alert handler (its own delivery thread); the main process serves /metrics on
WORKER_METRICS_PORT, adding up every child's counters (PROMETHEUS_MULTIPROC_DIR).
"""
from __future__ import annotations

import contextvars
import logging
import os
import time

from celery.signals import (task_failure, task_postrun, task_prerun, task_retry, worker_process_init,
                            worker_process_shutdown, worker_ready)

from config.logs import current_inbox, current_run, current_task, install as install_log_format
from metrics.registry import POSTINGS, RETRIES, TASK_SECONDS, TASKS

log = logging.getLogger("paysync.observe")
#: Set by workers.deadletter.record: the task ended in a dead letter, not a posting.
dead_lettered: contextvars.ContextVar[bool] = contextvars.ContextVar("paysync_dead_lettered", default=False)
_started: dict[str, tuple[float, list]] = {}
#: Tasks whose first argument is an inbox event id rather than a run id.
INBOX_TASKS = frozenset({"paysync.ingest_event"})
#: Tasks whose first argument is something else again (no run id to log).
OTHER_TASKS = frozenset({"paysync.replay_dead_letter", "paysync.dead_letter_notice", "paysync.reconcile_day",
                         "paysync.poll_paytrace", "paysync.sweep_inbox", "paysync.sync_customers",
                         "paysync.run_recurring"})


def _json_logs(process_name: str) -> None:
    for handler in logging.getLogger().handlers:
        install_log_format(handler, process_name)


@worker_ready.connect
def main_process_ready(**_) -> None:
    """The main process: JSON log lines, and /metrics for the whole pool when a port is given."""
    _json_logs("worker")
    port = os.environ.get("WORKER_METRICS_PORT")
    if port:
        from metrics.exposition import start_server

        try:
            start_server(int(port), os.environ.get("WORKER_METRICS_HOST", "0.0.0.0"))
        except OSError as exc:  # the port is taken: the worker still works, unmeasured; say so loudly
            log.error("worker metrics could not listen on port %s: %s", port, exc)
            return
        log.info("worker metrics on port %s", port)


@worker_process_init.connect
def child_started(**_) -> None:
    from alerts.dispatch import install

    _json_logs("worker")
    install()


@worker_process_shutdown.connect
def child_stopping(pid=None, **_) -> None:
    from alerts.dispatch import install

    install().dispatcher.flush(5.0)  # what this child queued still leaves
    from metrics.exposition import process_dead

    process_dead(pid or os.getpid())


@task_prerun.connect
def before_task(task_id=None, task=None, args=None, **_) -> None:
    first = args[0] if args and isinstance(args[0], int) else None
    name = getattr(task, "name", "")
    tokens = [current_task.set(name), dead_lettered.set(False),
              current_inbox.set(first if name in INBOX_TASKS else None),
              current_run.set(first if name not in INBOX_TASKS | OTHER_TASKS else None)]
    _started[task_id] = (time.monotonic(), tokens)


@task_postrun.connect
def after_task(task_id=None, task=None, state=None, **_) -> None:
    started, tokens = _started.pop(task_id, (None, []))
    name = getattr(task, "name", "")
    queue = ((getattr(task.request, "delivery_info", None) or {}).get("routing_key") or "") if task else ""
    if started is not None:
        TASK_SECONDS.labels(name, queue).observe(time.monotonic() - started)
    if state == "SUCCESS":
        failed = dead_lettered.get()
        TASKS.labels(name, "dead_letter" if failed else "success").inc()
        if queue.startswith("erp.") and not failed:
            POSTINGS.labels(queue[len("erp."):], name.removeprefix("paysync.")).inc()
    for token in reversed(tokens):
        token.var.reset(token)


@task_retry.connect
def on_retry(request=None, **_) -> None:
    name = getattr(request, "task", "") or ""
    RETRIES.labels(name).inc()
    TASKS.labels(name, "retry").inc()


@task_failure.connect
def on_failure(sender=None, **_) -> None:
    TASKS.labels(getattr(sender, "name", ""), "failure").inc()
