"""A backlog drains: runs only waiting in a queue are never re-sent, so no run ever has two live messages.

Bounded (about a minute): 80 sales whose stages wait in the ERP's queue longer than the stall limit
while the sweeper runs every second through beat, then an ERP worker that drains them and is
SIGKILLed once mid-drain. The broker's queues are sampled all along (bench/backlog.py reads them).
"""
from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import pytest
import redis
from sqlalchemy import func, select

from bench.backlog import messages_per_key
from cli.traffic import make_sales, push_webhook
from config.queues import INGEST_QUEUE, erp_queue
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import StepLedger
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, dead_reasons, run_statuses, wait_for_runs

pytestmark = pytest.mark.slow

#: Stall after 11 s (about the least the settings' checks allow with an 8 s task limit and a 2 s backoff
#: cap), a sweep every second, Redis hands a dead worker's message out again after 12 s.
STALL = 11
SHORT = {"SWEEP_STALL_SECONDS": str(STALL), "SWEEP_INTERVAL_SECONDS": "1", "TASK_TIME_LIMIT": "8",
         "RETRY_BACKOFF_MAX": "2", "VISIBILITY_TIMEOUT": "12", "POLL_INTERVAL_SECONDS": "3600"}


class Sampler:
    """Reads the broker every 0.2 s in a thread: the most live messages any one run (or inbox event) had."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.worst: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, count in messages_per_key(self.client).items():
                self.worst[key] = max(self.worst[key], count)
            self.samples += 1
            self._stop.wait(0.2)

    def stop(self) -> Counter:
        self._stop.set()
        self._thread.join(10)
        return self.worst


def _prepared(database_url: str) -> int:
    statuses = run_statuses(database_url)
    return statuses["running"] + statuses["succeeded"] + statuses["skipped"]


def test_a_backlog_drains_with_one_message_per_run_and_each_document_once(stack_factory):
    # given 80 sales pushed, ingested and prepared, their stages waiting in the ERP's queue with no ERP
    # worker yet, while the sweeper runs every second: to the database, every run looks stalled
    stack = stack_factory(**SHORT)
    stack.set_faults(latency_ms=10)
    stack.start_ingress()
    sales = make_sales(PayTraceClient(get_settings().paytrace), 80, seed=21)
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    sampler = Sampler(stack.redis_url)
    stack.start_beat()
    stack.start_worker("ingest", concurrency=2, queues=INGEST_QUEUE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _prepared(stack.database_url) < len(sales):
        time.sleep(0.2)
    assert _prepared(stack.database_url) == len(sales), f"{run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    time.sleep(STALL + 3)

    # when an ERP worker drains the queue, is SIGKILLed once mid-drain and comes back
    worker = stack.start_worker("erp0", concurrency=2, queues=erp_queue("sage50"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and run_statuses(stack.database_url)["succeeded"] < 20:
        time.sleep(0.2)
    assert worker.alive(), dump_logs(stack)
    worker.kill(signal.SIGKILL)
    stack.start_worker("erp1", concurrency=2, queues=erp_queue("sage50"))

    # then every sale finishes once, the ERP holds each document once
    done = wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=90)
    worst = sampler.stop()
    assert done == len(sales), f"{done}/{len(sales)}; {run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    assert run_statuses(stack.database_url)["dead"] == 0, dead_reasons(stack.database_url)
    assert_erp_exactly(stack.erp_summary(), sales)
    with session_scope(stack.database_url) as s:
        assert s.scalar(select(func.count()).select_from(StepLedger).where(StepLedger.status != "done")) == 0
    # and at no sampled moment did a run (or an inbox event) have more than one live message
    assert sampler.samples > 20 and worst, "the sampler must have seen the backlog"
    several = sorted((k for k, c in worst.items() if c > 1), key=lambda k: -worst[k])
    assert not several, f"{len(several)} with several messages, e.g. {several[:5]}, most {worst[several[0]]}"
