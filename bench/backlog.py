"""backlog: 5,000 sales at once (300 and two kills with --quick) under short stall settings and worker kills.

    python bench/backlog.py [--sales 5000] [--kills 3] [--threads 8]

The sales are pushed to the ingress and prepared by an ingest worker while no ERP worker runs, and
wait in the ERP's queue past the stall limit (SWEEP_STALL_SECONDS 11, a sweep every second), so the
database calls every one of them stalled, as a backlog does. Then an io worker (threads, as the
Procfile runs it) drains the queue; with kills it is SIGKILLed (main process and all) `--kills`
times, each time after another share of the runs finished, and started again. The broker's queues
are sampled every 0.25 s all along (every second past 1,000 sales: a read decodes the whole queue). Reported: the most live messages any run (or inbox event) had
at one moment, seconds from the ERP worker's start until every run finished, and documents the ERP
sandbox holds twice. The baseline, in the same run, is the same drain without kills: the ratio is
its seconds over the seconds with kills (1.0: the kills cost nothing).
Not a test: nothing here asserts a time.

How the broker is read, independently of paysync's own sweeper (workers/sweeper.py), so the bench
and the backlog test judge the broker, not paysync's bookkeeping of it: kombu's Redis transport keeps a queue's waiting messages as JSON in a list named after the queue
(a priority has its own list, `<queue>\\x06\\x16<priority>`), and each message a worker took but has
not acked yet in the `unacked` hash, as `[message, exchange, routing_key]`. A message's body is
base64 of `[args, kwargs, embed]`; its headers name the task, its id and its retry count.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
import requests  # noqa: E402

from bench.figures import Figure  # noqa: E402
from bench.stacks import dead_runs, fresh_database, kept_environment, wait_finished  # noqa: E402
from config.queues import INGEST_QUEUE, all_queues, erp_queue  # noqa: E402

STAGES = ("paysync.prepare", "paysync.customer", "paysync.order", "paysync.payment", "paysync.gl")
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def _key_of(message: dict) -> tuple[str, int, str, str, int] | None:
    """(kind, id, task, task id, retries) of a paysync run or inbox message; None for any other task."""
    headers = message.get("headers") or {}
    task = headers.get("task", "")
    if task != "paysync.ingest_event" and task not in STAGES:
        return None
    body = message["body"]
    if (message.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]
    kind = "inbox" if task == "paysync.ingest_event" else "run"
    return kind, int(args[0]), task, headers.get("id", ""), int(headers.get("retries") or 0)


def snapshot(client: redis.Redis) -> tuple[list[tuple], list[tuple]]:
    """Every paysync run or inbox message waiting in a queue, and every one a worker holds, in one MULTI."""
    names = [f"{q}{suffix}" for q in all_queues() for suffix in PRIORITY_SUFFIXES]
    pipe = client.pipeline(transaction=True)
    for name in names:
        pipe.lrange(name, 0, -1)
    pipe.hvals("unacked")
    *lists, held = pipe.execute()
    queued = [k for raw in (m for lst in lists for m in lst) if (k := _key_of(json.loads(raw)))]
    taken = [k for raw in held if (k := _key_of(json.loads(raw)[0]))]
    return queued, taken


def messages_per_key(client: redis.Redis) -> Counter:
    """Live messages per (kind, id): a run's (prepare and stages) or an inbox event's (ingest).

    A message a worker still holds whose successor is already queued (the same task id retried, or
    a later stage of the chain) is one message moving: Celery publishes a chain's next step, or a
    retry, before it acks the current one. Anything else held beside a queued message counts.
    """
    queued, taken = snapshot(client)
    by_key: dict[tuple, list] = defaultdict(list)
    for kind, id_, task, task_id, retries in queued:
        by_key[(kind, id_)].append(("queued", task, task_id, retries))
    for kind, id_, task, task_id, retries in taken:
        by_key[(kind, id_)].append(("taken", task, task_id, retries))
    counts = Counter()
    for key, messages in by_key.items():
        live = 0
        for place, task, task_id, retries in messages:
            if place == "taken" and any(_follows((t, i, r), (task, task_id, retries))
                                        for _p, t, i, r in messages):
                continue  # handed over: its successor is out already
            live += 1
        counts[key] = live
    return counts


def _follows(later: tuple[str, str, int], earlier: tuple[str, str, int]) -> bool:
    task, task_id, retries = later
    was_task, was_id, was_retries = earlier
    if task_id == was_id:
        return retries > was_retries
    return task in STAGES and was_task in STAGES and STAGES.index(task) > STAGES.index(was_task)


# -- the measurement ----------------------------------------------------------------------------
#: Short stall settings (the least the settings' checks allow around an 8 s task limit).
SHORT = {"SWEEP_STALL_SECONDS": "11", "SWEEP_INTERVAL_SECONDS": "1", "TASK_TIME_LIMIT": "8",
         "RETRY_BACKOFF_MAX": "2", "RETRY_BACKOFF_BASE": "0.2", "RETRY_MAX_ATTEMPTS": "12",
         "VISIBILITY_TIMEOUT": "12", "POLL_INTERVAL_SECONDS": "3600", "HTTP_RETRIES": "1"}
TARGET = "at most 1 message per run at any time; no duplicates"


class Sampler:
    """The broker read every `every` seconds in a thread: the most live messages each run or event had."""

    def __init__(self, redis_url: str, every: float = 0.25) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.worst: Counter = Counter()
        self.samples, self.deepest = 0, 0
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            counts = messages_per_key(self.client)
            for key, count in counts.items():
                self.worst[key] = max(self.worst[key], count)
            self.deepest = max(self.deepest, sum(counts.values()))
            self.samples += 1
            self._stop.wait(self.every)

    def stop(self) -> Counter:
        self._stop.set()
        self._thread.join(30)
        return self.worst


def _statuses(database_url: str) -> Counter:
    from sqlalchemy import func, select

    from db.models import SyncRun
    from db.session import session_scope

    with session_scope(database_url) as s:
        return Counter(dict(s.execute(select(SyncRun.status, func.count()).group_by(SyncRun.status)).all()))


def _prepared(database_url: str) -> int:
    statuses = _statuses(database_url)
    return sum(statuses.values()) - statuses["pending"]


def duplicates(summary: dict) -> int:
    """Documents of ours the ERP holds more than once (sales orders, invoices, receipts, journals)."""
    extra = 0
    for kind in ("sales_orders", "invoices", "payments", "journals"):
        seen = Counter(r["reference"] for r in summary[kind] if r["reference"].startswith("PT"))
        extra += sum(n - 1 for n in seen.values() if n > 1)
    return extra


def drain(sales: int, kills: int, threads: int) -> dict:
    """One backlog of `sales` drained by an io worker killed `kills` times; what the broker and the ERP saw."""
    from cli.stack import Stack
    from cli.traffic import make_sales, push_webhook
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="paysync-bench-backlog-"))
    with fresh_database(home) as database_url:
        stack = Stack(home=home, database_url=database_url, extra_env=dict(SHORT))
        try:
            stack.start_services()
            os.environ.update(stack.env)
            get_settings.cache_clear()
            stack.start_ingress(workers=2)
            made = make_sales(PayTraceClient(get_settings().paytrace), sales, seed=5, decline_every=0)
            session = requests.Session()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda s: push_webhook(stack.ingress_url, stack.webhook_secret, s, session=session),
                              made))
            sampler = Sampler(stack.redis_url, every=0.25 if sales <= 1000 else 1.0)  # a read costs the queue
            stack.start_beat()
            stack.start_worker("ingest", 8, queues=INGEST_QUEUE, pool="threads")
            deadline = time.monotonic() + 60 + sales / 10
            while time.monotonic() < deadline and _prepared(database_url) < sales:
                time.sleep(0.25)
            time.sleep(int(SHORT["SWEEP_STALL_SECONDS"]) + 2)  # every run is stalled to the database now
            started = time.perf_counter()
            worker = stack.start_worker("io0", threads, queues=erp_queue("sage50"), pool="threads")
            for n in range(1, kills + 1):  # spread over the drain: after each further share of runs finished
                while _statuses(database_url)["succeeded"] < sales * n // (kills + 1):
                    time.sleep(0.1)
                worker.kill(signal.SIGKILL)
                worker = stack.start_worker(f"io{n}", threads, queues=erp_queue("sage50"), pool="threads")
            wait_finished(database_url, [s.transaction_id for s in made], timeout=600 + sales / 2)
            converged = time.perf_counter() - started
            worst = sampler.stop()
            summary = stack.erp_summary()
            dead = dead_runs(database_url)
        finally:
            stack.stop()
    return {"sales": sales, "kills": kills, "threads": threads, "converged_s": converged,
            "max_messages_per_run": max(worst.values(), default=0),
            "runs_with_several": sum(1 for c in worst.values() if c > 1), "duplicates": duplicates(summary),
            "dead": dead, "samples": sampler.samples, "deepest_queue": sampler.deepest,
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite"}


def run(sales: int, kills: int, threads: int) -> dict:
    baseline = drain(sales, 0, threads)
    killed = drain(sales, kills, threads)
    return {"baseline": baseline, **killed}


def measure(quick: bool) -> Figure:
    try:
        with kept_environment():
            # Quick: fewer sales and kills; each kill costs its messages' visibility timeout, whatever the size.
            r = run(300 if quick else 5000, kills=2 if quick else 3, threads=8)
    except Exception as exc:  # one broken bench never hides the others
        return Figure.failed("backlog", TARGET, f"{type(exc).__name__}: {exc}")
    base = r["baseline"]
    ratio = base["converged_s"] / r["converged_s"] if r["converged_s"] else None
    met = r["max_messages_per_run"] <= 1 and base["max_messages_per_run"] <= 1 and r["duplicates"] == 0 \
        and base["duplicates"] == 0 and r["dead"] == 0
    return Figure("backlog", f"{r['converged_s']:.1f} s, at most {r['max_messages_per_run']} message/run",
                  f"{base['converged_s']:.1f} s without kills", round(ratio, 3) if ratio else None, TARGET, met,
                  {"max_messages_per_run": r["max_messages_per_run"], "converged_s": round(r["converged_s"], 1),
                   "duplicates": r["duplicates"]},
                  f"{r['sales']} sales waiting past an 11 s stall limit, one io worker of {r['threads']} threads "
                  f"SIGKILLed {r['kills']} times; baseline: the same drain without kills (at most "
                  f"{base['max_messages_per_run']} message/run, {base['duplicates']} duplicates); deepest queue "
                  f"{r['deepest_queue']} messages; {r['samples']} samples; dead {r['dead']}; {r['database']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    r = run(args.sales, args.kills, args.threads)
    base = r["baseline"]
    print(f"{r['sales']} sales waiting past the stall limit, one io worker of {r['threads']} threads, {r['database']}")
    for name, x in (("without kills", base), (f"{r['kills']} SIGKILLs", r)):
        print(f"{name:14}: converged in {x['converged_s']:7.1f} s; at most {x['max_messages_per_run']} live "
              f"message(s) per run ({x['runs_with_several']} runs with several); {x['duplicates']} duplicate "
              f"documents; dead {x['dead']}; deepest queue {x['deepest_queue']}; {x['samples']} samples")
    print(f"ratio (seconds without kills / with)  : {base['converged_s'] / r['converged_s']:.3f}")


if __name__ == "__main__":
    main()
