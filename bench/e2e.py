"""p2, end-to-end throughput: synced sales (and store orders) per second, beside a bare 4-task Celery chain in the same run.

    python bench/e2e.py [--events 200] [--orders 50] [--threads 8] [--database-url postgresql://...]

Both sides run on the same Redis with one worker process of the same pool and size: threads, as
the Procfile's `io` role runs paysync's steps, on PostgreSQL (a database of its own, bench/stacks.py)
unless --database-url names another. The ERP sandbox answers at once: what is measured is paysync
and Celery, not a simulator's latency. Beside the rates it prints what one sale costs: Celery tasks
(counted from the workers' task events), the database transactions committed (PostgreSQL's own
xact_commit counter) and the requests the ERP answered (the sandbox's request log).

An order is a store order (two or three SKUs, tax, shipping) whose webhook the store simulator
delivered and whose PayTrace sale a signed hint announced: its event, its join, its sales order
with real lines and stock, invoice, receipt and journal, and the status pushed back.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
import requests  # noqa: E402
from celery import chain  # noqa: E402

from bench.figures import Figure  # noqa: E402
from bench.stacks import fresh_database, kept_environment, wait_finished  # noqa: E402
from cli import runtime  # noqa: E402
from cli.stack import Stack  # noqa: E402
from cli.traffic import make_sales, push_webhook  # noqa: E402


def bare_chains(env: dict, home: Path, n: int, concurrency: int) -> float:
    """Chains of 4 no-op tasks per second, on a worker of the same pool and size as paysync's."""
    os.environ["REDIS_URL"] = env["REDIS_URL"]
    from bench import baseline

    baseline.app.conf.broker_url = env["REDIS_URL"]
    argv = [sys.executable, "-m", "celery", "-A", "bench.baseline:app", "worker", "-Q", "bench", "-c", str(concurrency),
            "-P", "threads", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
    worker = runtime.Child("bench-worker", argv, env, home / "bench-worker.log").start()
    r = redis.Redis.from_url(env["REDIS_URL"])
    r.delete("bench:done")
    try:
        time.sleep(2)  # let the worker connect before the clock starts
        started = time.perf_counter()
        for i in range(n):
            chain(baseline.step.si(i), baseline.step.si(i), baseline.step.si(i), baseline.last.si(i)).apply_async()
        while int(r.get("bench:done") or 0) < n:
            time.sleep(0.01)
        return n / (time.perf_counter() - started)
    finally:
        worker.stop()


class TaskCounter:
    """Counts `task-started` events the workers send (worker_send_task_events is on), in a thread."""

    def __init__(self, broker_url: str) -> None:
        import threading

        from celery import Celery

        self.count = 0
        self._app = Celery(broker=broker_url)
        self._ready = threading.Event()
        threading.Thread(target=self._listen, daemon=True).start()
        self._ready.wait(10)

    def _listen(self) -> None:
        def started(_event):
            self.count += 1

        try:
            with self._app.connection() as conn:
                receiver = self._app.events.Receiver(conn, handlers={"task-started": started})
                self._ready.set()
                receiver.capture(limit=None, timeout=None, wakeup=True)
        except Exception:  # the bench's Redis stopped at its end: the count is already read
            pass


def _commits(database_url: str) -> int | None:
    """PostgreSQL's count of committed transactions in the database (None on SQLite)."""
    if not database_url.startswith("postgresql"):
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as conn:
        found = int(conn.execute(text(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")).scalar())
    engine.dispose()
    return found


def _erp_requests(stack: Stack) -> int:
    stats = requests.get(f"{stack.erp_server.url}/_sandbox/stats", timeout=5).json()
    return sum(sum(codes.values()) for codes in stats["requests"].values())


def paysync_rate(stack: Stack, n: int, concurrency: int) -> tuple[float, int, dict]:
    """Sales pushed to the ingress and synced into Sage 50 per second, and what one sale cost."""
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient
    from db.models import SyncRun
    from db.session import session_scope
    from sqlalchemy import func, select

    client = PayTraceClient(get_settings().paytrace)
    sales = make_sales(client, n, seed=1, decline_every=0)  # made before the clock starts
    worker = stack.start_worker("bench", concurrency, queues=runtime.IO_QUEUES, pool="threads")
    time.sleep(2)
    tasks = TaskCounter(stack.redis_url)
    commits_before, erp_before = _commits(stack.database_url), _erp_requests(stack)
    session = requests.Session()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda s: push_webhook(stack.ingress_url, stack.webhook_secret, s, session=session), sales))
    ids = [s.transaction_id for s in sales]
    looks = wait_finished(stack.database_url, ids)
    elapsed = time.perf_counter() - started
    # PostgreSQL 15 backends flush their counters when idle, within about ten seconds; the last
    # task-started events are on their way too
    time.sleep(11 if commits_before is not None else 1)
    commits_after = _commits(stack.database_url)
    with session_scope(stack.database_url) as s:
        dead = s.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "dead")) or 0
    worker.stop()
    costs = {"tasks_per_sale": round(tasks.count / n, 2),
             # the bench's own looks (one transaction each, and the two counter reads) are not paysync's
             "db_tx_per_sale": round((commits_after - commits_before - looks - 3) / n, 2)
             if commits_before is not None else None,
             "erp_calls_per_sale": round((_erp_requests(stack) - erp_before) / n, 2)}
    return n / elapsed, dead, costs


def orders_rate(stack: Stack, n: int, concurrency: int) -> tuple[float, int]:
    """Store orders placed and paid, then synced with their lines and stock, per second (worker started at 0)."""
    import random

    from cli.orders_demo import hint, pay_order, place_order
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient
    from db.models import SyncRun
    from db.session import session_scope
    from sqlalchemy import func, select

    client = PayTraceClient(get_settings().paytrace)
    rng = random.Random(3)
    ids = []
    for _ in range(n):  # the orders' webhooks wait in the inbox and on the queue: no worker yet
        order = place_order(stack.shop.url, rng)
        ids.append(pay_order(client, order))
    while requests.get(f"{stack.shop.url}/_sandbox/webhooks", timeout=10).json()["pending"]:
        time.sleep(0.05)
    started = time.perf_counter()
    worker = stack.start_worker("bench-orders", concurrency, queues=runtime.IO_QUEUES, pool="threads")
    for txn in ids:
        hint(stack.ingress_url, stack.webhook_secret, txn)
    wait_finished(stack.database_url, ids)
    elapsed = time.perf_counter() - started
    with session_scope(stack.database_url) as s:
        dead = s.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.transaction_id.in_(ids), SyncRun.status == "dead")) or 0
    worker.stop()
    return n / elapsed, dead


def run(events: int, orders: int, threads: int, database_url: str | None = None) -> dict:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandboxes' request log
    home = Path(tempfile.mkdtemp(prefix="paysync-bench-"))
    with (nullcontext(database_url) if database_url else fresh_database(home)) as url:
        stack = Stack(home=home, database_url=url, with_shop=bool(orders),
                      extra_env={"POLL_INTERVAL_SECONDS": "3600", "SWEEP_INTERVAL_SECONDS": "3600"})
        try:
            stack.start_services()
            os.environ.update(stack.env)
            from config.settings import get_settings

            get_settings.cache_clear()
            stack.start_ingress()
            if orders:
                stack.subscribe_shop()
            baseline = bare_chains(stack.env, home, events, threads)
            rate, dead, costs = paysync_rate(stack, events, threads)
            order_rate, order_dead = orders_rate(stack, orders, threads) if orders else (0.0, 0)
        finally:
            stack.stop()
    return {"database": url.split("@")[-1].split("?")[0], "threads": threads, "events": events, "baseline": baseline,
            "rate": rate, "dead": dead, **costs, "orders": orders, "order_rate": order_rate, "order_dead": order_dead}


TARGET = "ratio >= 0.5; tasks, transactions and ERP calls per sale down (were 8 / ~34 / 13)"


def measure(quick: bool) -> Figure:
    try:
        with kept_environment():
            r = run(100 if quick else 300, 0, threads=8)
    except Exception as exc:  # one broken bench never hides the others
        return Figure.failed("p2", TARGET, f"{type(exc).__name__}: {exc}")
    ratio = r["rate"] / r["baseline"]
    return Figure("p2", f"{r['rate']:.1f} sales/s", f"{r['baseline']:.1f} bare chains/s", round(ratio, 3), TARGET,
                  ratio >= 0.5 and r["dead"] == 0,
                  {"ratio": round(ratio, 3), "tasks_per_sale": r["tasks_per_sale"],
                   "db_tx_per_sale": r["db_tx_per_sale"], "erp_calls_per_sale": r["erp_calls_per_sale"]},
                  f"{r['events']} sales, one worker of {r['threads']} threads each side, {r['database']}, "
                  f"dead {r['dead']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    r = run(args.events, args.orders, args.threads, args.database_url)
    print(f"database: {r['database']}; one worker of {r['threads']} threads each side; {r['events']} events")
    print(f"bare 4-task Celery chain : {r['baseline']:8.1f} chains/s")
    print(f"paysync end to end       : {r['rate']:8.1f} sales synced/s  (dead: {r['dead']})")
    print(f"ratio paysync / bare     : {r['rate'] / r['baseline']:8.3f}")
    print(f"per sale                 : {r['tasks_per_sale']} tasks, "
          f"{r['db_tx_per_sale'] if r['db_tx_per_sale'] is not None else 'n/a (SQLite)'} database "
          f"transactions, {r['erp_calls_per_sale']} ERP requests")
    if args.orders:
        print(f"store orders end to end  : {r['order_rate']:8.1f} orders synced/s  ({args.orders} orders, "
              f"dead: {r['order_dead']})")
        print(f"ratio orders / bare      : {r['order_rate'] / r['baseline']:8.3f}")


if __name__ == "__main__":
    main()
