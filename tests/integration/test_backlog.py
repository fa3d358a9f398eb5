"""A backlog drains: runs only waiting in a queue are never re-sent, so no run ever has two live messages.

Bounded (about a minute): 60 sales whose stages wait in the ERP's queue longer than the stall limit
while the sweeper runs every second through beat, then an ERP worker that drains them and is
SIGKILLed once mid-drain. The broker's queues are sampled all along (bench/backlog.py reads them).
"""
from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select, update

from bench.backlog import messages_per_key
from cli.traffic import make_sales, push_webhook
from config.queues import INGEST_QUEUE, erp_queue
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import InboxEvent, StepLedger, SyncRun
from db.session import session_scope
from db.types import utcnow
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
    # given 60 sales pushed, ingested and prepared, their stages waiting in the ERP's queue with no ERP
    # worker yet, while the sweeper runs every second: to the database, every run looks stalled
    stack = stack_factory(**SHORT)
    stack.set_faults(latency_ms=10)
    stack.start_ingress()
    sales = make_sales(PayTraceClient(get_settings().paytrace), 60, seed=21)
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    sampler = Sampler(stack.redis_url)
    stack.start_beat()
    stack.start_worker("ingest", concurrency=2, queues=INGEST_QUEUE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _prepared(stack.database_url) < len(sales):
        time.sleep(0.2)
    assert _prepared(stack.database_url) == len(sales), f"{run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    time.sleep(STALL + 1)

    # when an ERP worker drains the queue, is SIGKILLed once mid-drain and comes back
    worker = stack.start_worker("erp0", concurrency=2, queues=erp_queue("sage50"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and run_statuses(stack.database_url)["succeeded"] < 15:
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


# -- the sweeper's rule, one case at a time (no worker: the messages stay where they are put) ----------------
def _runs_and_events(database_url: str, n_runs: int, n_events: int, age: timedelta) -> tuple[list[int], list[int]]:
    """Runs and inbox events with no sign of life for `age` (runs `running` at their customer stage)."""
    old = utcnow() - age
    with session_scope(database_url) as s:
        runs = [SyncRun(transaction_id=900000 + i, erp="sage50", kind="sale", status="running",
                        current_step="customer", updated_at=old) for i in range(n_runs)]
        events = [InboxEvent(source="webhook", event_id=f"evt-{i}", event_type="transaction.sale",
                             transaction_id=800000 + i, payload={}, status="received", received_at=old)
                  for i in range(n_events)]
        s.add_all(runs + events)
        s.flush()
        return [r.id for r in runs], [e.id for e in events]


def test_the_sweeper_sends_again_only_what_has_no_live_message(stack_factory):
    from workers import live, sweeper, tasks

    # given runs and events the database calls stalled, each in another state in Redis
    stack = stack_factory(**SHORT)
    settings = get_settings()
    r = redis.Redis.from_url(stack.redis_url)
    runs, events = _runs_and_events(stack.database_url, 6, 3, timedelta(seconds=3 * STALL))
    queued, unmarked, leased, lost, routed, superseded = runs
    tasks.send_stages(queued, "sage50", ("customer", "order"))  # waiting, its marker set as it was sent
    tasks.send_stages(unmarked, "sage50", ("customer",))  # waiting, its marker expired (or Redis lost it)
    r.delete(live.marker(live.RUN, unmarked))
    assert live.start("paysync.customer", [leased], "t-leased", 0)  # a worker is at it (its message taken)
    r.delete(live.marker(live.RUN, leased))
    with session_scope(stack.database_url) as s:  # still being prepared: its inbox event carries it
        s.add(InboxEvent(source="webhook", event_id="evt-routed", event_type="transaction.sale", payload={},
                         transaction_id=900000 + 4, status="routed", run_id=routed, enqueued_at=utcnow()))
    tasks.send_stages(superseded, "sage50", ("customer",))
    first = r.get(live.marker(live.RUN, superseded)).decode()
    tasks.send_stages(superseded, "sage50", ("customer",))  # sent again: the first copy is superseded
    waiting, marked, unsent = events
    tasks.ingest_event.apply_async(args=[waiting], queue=INGEST_QUEUE)
    r.delete(live.marker(live.INBOX, waiting))  # as the ingress sends it: no marker
    tasks.ingest_event.apply_async(args=[marked], queue=INGEST_QUEUE)  # its marker set as it was sent

    # when the sweeper looks, and again once the database calls them stalled again
    broker = sweeper.Broker(live.client(), STALL)
    first_events = sweeper.stalled_events(settings, broker=broker)
    first_runs = sweeper.stalled_runs(settings, broker=broker)
    # (a look just after sends nothing again: each candidate waits another stall period)
    assert sweeper.stalled_events(settings, broker=sweeper.Broker(live.client(), STALL)) == []
    assert sweeper.stalled_runs(settings, broker=sweeper.Broker(live.client(), STALL)) == []
    _age(stack.database_url, timedelta(seconds=3 * STALL))
    broker = sweeper.Broker(live.client(), STALL)
    again_events = sweeper.stalled_events(settings, broker=broker)
    again_runs = sweeper.stalled_runs(settings, broker=broker)

    # then nothing is sent at the first look (a message a worker is taking is in no list for a moment),
    # and at the second only what has no marker, no lease and no message anywhere
    assert first_events == [] and first_runs == []
    assert again_events == [unsent]
    assert [run for run, *_ in again_runs] == [lost]
    # and what it found waiting without a marker has its marker back
    assert r.get(live.marker(live.RUN, unmarked)) is not None and r.get(live.marker(live.INBOX, waiting)) is not None
    # and of two messages of one run only the newer may work: the older acks doing nothing
    newer = r.get(live.marker(live.RUN, superseded)).decode()
    task_id, retries = first.rsplit(":", 1)
    assert not live.start("paysync.customer", [superseded], task_id, int(retries))
    task_id, retries = newer.rsplit(":", 1)
    assert live.start("paysync.customer", [superseded], task_id, int(retries))


def _age(database_url: str, age: timedelta) -> None:
    """Every run and event of the test back to no sign of life for `age` (as a stall period passing)."""
    old = utcnow() - age
    with session_scope(database_url) as s:
        s.execute(update(SyncRun).values(updated_at=old))
        s.execute(update(InboxEvent).where(InboxEvent.status == "received").values(enqueued_at=old))
