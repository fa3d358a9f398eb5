"""Every metric paysync's processes count, defined once (prometheus-client).

This module imports nothing of ours, so any layer may count here without a new dependency.
Under gunicorn and Celery's prefork pool each process counts in its own file of
PROMETHEUS_MULTIPROC_DIR; the /metrics endpoint adds them up (metrics/exposition.py).
"""
from __future__ import annotations

import os

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus-client writes there from the first count on
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import Counter, Histogram  # noqa: E402  (after the directory exists)

EVENTS_IN = Counter("paysync_events_in", "Inbound events stored, by source (webhook, poll, silent_post, ...)",
                    ["source", "pair"])
EVENTS_REPEATED = Counter("paysync_events_repeated", "Inbound events already stored (a repeat delivery)",
                          ["source", "pair"])
POLL_RECORDS = Counter("paysync_poll_records", "Export records the poller read, by feed (cards, checks) and outcome "
                       "(known: skipped in bulk, new: stored)", ["feed", "outcome"])
POLL_STATEMENTS = Counter("paysync_poll_statements", "SQL statements the poller ran, by feed (a page costs one or two)",
                          ["feed"])
TASKS = Counter("paysync_tasks", "Tasks finished, by task and outcome (success, retry, failure)",
                ["task", "outcome"])
TASK_SECONDS = Histogram("paysync_task_seconds", "How long a task ran, by task and queue", ["task", "queue"],
                         buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
POSTINGS = Counter("paysync_erp_postings", "ERP steps completed, by ERP and step", ["erp", "step"])
RETRIES = Counter("paysync_retries", "Task retries scheduled, by task", ["task"])
DEAD_LETTERS = Counter("paysync_dead_letters", "Dead letters written, by task and error type", ["task", "error"])
EXTERNAL_SECONDS = Histogram("paysync_external_request_seconds",
                             "Calls to PayTrace and the ERPs over HTTP, by system and operation",
                             ["system", "operation"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
EXTERNAL_ERRORS = Counter("paysync_external_errors", "Failed calls (no answer, or 5xx/429), by system and kind",
                          ["system", "kind"])
ALERTS = Counter("paysync_alerts", "Alerts by kind and what became of them (sent, quiet, held, failed)",
                 ["kind", "outcome"])
