"""p1: the ingress, signed webhook to committed inbox row and enqueue, beside a bare Flask handler that only LPUSHes.

    python bench/ingress.py [--quick]

Both apps run under the same gunicorn settings (ingress/gunicorn_conf.py: BoundedThreadWorker,
INGRESS_WORKERS x INGRESS_THREADS, the masked access log), on the same PostgreSQL database of the
bench's own and the same real Redis, in the same run. paysync's side is the deployment's app: it
checks the Standard Webhooks signature, validates the event, scrubs card data, commits the inbox row
and sends the ingest task. The baseline reads the body and LPUSHes it to a Redis list.

The load comes from a client process of its own, over a pool of keep-alive connections:
- max: closed loop, `CONNECTIONS` requests in flight, for each app; requests answered 2xx per second;
- p99 at 200/s: open loop on paysync, each request scheduled at a fixed time (i / 200 s after the
  start) and timed from that time, not from when a connection was free to send it, so a queue
  that builds up shows in the figure (no coordinated omission).
Every webhook is new (its own event id and transaction), and after the run the inbox rows and the
ingest queue are counted against the 2xx answers. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import Figure  # noqa: E402

TARGET = "ratio >= 0.5, p99 < 50 ms at 200/s"
RATE = 200
CONNECTIONS = int(os.environ.get("BENCH_INGRESS_CONNECTIONS", "32"))
BARE_LIST = "bench:ingress"


def bare_app():
    """gunicorn entry of the baseline: `bench.ingress:bare_app()`, a handler that LPUSHes the body."""
    import redis
    from flask import Flask, request

    app = Flask("bench.bare")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/webhooks/paytrace")
    def push():
        client.lpush(BARE_LIST, request.get_data())
        return {"status": "accepted"}, 202

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


# -- the load generator (its own process) ----------------------------------------------------------
def _signed(secret: str, first_txn: int, count: int) -> list[tuple[bytes, dict]]:
    """`count` distinct signed `transaction.sale` hints, signed before any clock starts."""
    from standardwebhooks import Webhook

    hook, now = Webhook(secret), datetime.now(timezone.utc)
    out = []
    for txn in range(first_txn, first_txn + count):
        body = json.dumps({"type": "transaction.sale", "data": {"transaction_id": txn, "amount": "12.34"}})
        event_id = f"evt_bench_{txn}"
        out.append((body.encode(), {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
                                    "webhook-signature": hook.sign(event_id, now, body),
                                    "content-type": "application/json"}))
    return out


def _send(conn: http.client.HTTPConnection, body: bytes, headers: dict) -> int:
    try:
        conn.request("POST", "/webhooks/paytrace", body, headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        conn.close()  # the next request connects again
        return 0


def _closed_loop(port: int, requests: list, connections: int, seconds: float, results) -> None:
    """Keep `connections` requests in flight for `seconds`: (2xx count, other count, elapsed)."""
    counter, lock = iter(range(len(requests))), threading.Lock()
    ok, bad = [0] * connections, [0] * connections
    deadline = time.perf_counter() + seconds

    def loop(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            status = _send(conn, *requests[i])
            ok[k] += 200 <= status < 300
            bad[k] += not 200 <= status < 300
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((sum(ok), sum(bad), time.perf_counter() - started))


def _open_loop(port: int, requests: list, rate: float, senders: int, results) -> None:
    """Request i sent at start + i / rate; its latency from that scheduled time: (latencies s, statuses)."""
    n = len(requests)
    latency, status = [0.0] * n, [0] * n
    counter, lock = iter(range(n)), threading.Lock()
    start = time.perf_counter() + 0.2

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            due = start + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            status[i] = _send(conn, *requests[i])
            latency[i] = time.perf_counter() - due
        conn.close()

    threads = [threading.Thread(target=loop) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((latency, status))


def _in_client(target, port: int, secret: str, first_txn: int, count: int, *args):
    """Run a load loop in a spawned process; its result."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_client_main, args=(target.__name__, port, secret, first_txn, count, args, results))
    proc.start()
    try:
        return results.get(timeout=600)
    finally:
        proc.join(10)


def _client_main(name: str, port: int, secret: str, first_txn: int, count: int, args: tuple, results) -> None:
    globals()[name](port, _signed(secret, first_txn, count), *args, results)


# -- the run ----------------------------------------------------------------------------------------
def _gunicorn(stack, name: str, app: str):
    """One app under the ingress's own gunicorn settings (workers and threads from the environment)."""
    from cli import runtime
    from cli.stack import wait_http

    port = runtime.free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:ingress.gunicorn_conf", "-b", f"127.0.0.1:{port}", app]
    env = {**stack.env, "PROMETHEUS_MULTIPROC_DIR": str(runtime.fresh_dir(stack.home / "metrics" / name))}
    child = stack.processes.add(runtime.Child(name, argv, env, stack.home / f"{name}.log"))
    wait_http(f"http://127.0.0.1:{port}/healthz", proc=child)
    return child, port


def _max_rps(port: int, secret: str, first_txn: int, seconds: float) -> tuple[float, int, int]:
    """(2xx answers per second, 2xx in all, others in all) with CONNECTIONS in flight, after a warm-up."""
    warm_ok, warm_bad, _ = _in_client(_closed_loop, port, secret, first_txn, 400, CONNECTIONS, 1.0)
    ok, bad, elapsed = _in_client(_closed_loop, port, secret, first_txn + 400, int(seconds * 4000),
                                  CONNECTIONS, seconds)
    return ok / elapsed, ok + warm_ok, bad + warm_bad


def run(quick: bool) -> dict:
    import redis
    from sqlalchemy import text

    from bench.stacks import fresh_database
    from cli.stack import Stack
    from db.session import get_engine

    max_seconds, open_seconds = (8.0, 10.0) if quick else (20.0, 60.0)
    home = Path(tempfile.mkdtemp(prefix="paysync-bench-ingress-"))
    with fresh_database(home) as database_url:
        stack = Stack(home=home, database_url=database_url)
        try:
            stack.start_services()
            secret = stack.webhook_secret
            r = redis.Redis.from_url(stack.redis_url)
            _, bare_port = _gunicorn(stack, "bare", "bench.ingress:bare_app()")
            _, port = _gunicorn(stack, "ingress", "ingress.app:wsgi_app()")
            bare_rps, bare_ok, bare_bad = _max_rps(bare_port, secret, 1_000_000, max_seconds)
            rps, ok, bad = _max_rps(port, secret, 2_000_000, max_seconds)
            latency, status = _in_client(_open_loop, port, secret, 3_000_000, int(RATE * open_seconds), RATE, 64)
            answered = [s for s in status if 200 <= s < 300]
            with get_engine(database_url).connect() as conn:
                rows = conn.execute(text("SELECT count(*) FROM inbox")).scalar()
                unsent = conn.execute(text("SELECT count(*) FROM inbox WHERE enqueued_at IS NULL")).scalar()
            queued, pushed = r.llen("ingest"), r.llen(BARE_LIST)
        finally:
            stack.stop()
    latency = sorted(latency)
    p99 = latency[int(0.99 * (len(latency) - 1))] * 1000
    workers = os.environ.get("INGRESS_WORKERS", "2")
    threads = os.environ.get("INGRESS_THREADS", "32")
    return {"rps": rps, "bare_rps": bare_rps, "ratio": rps / bare_rps, "p99_ms_at_200": p99,
            "p50_ms_at_200": latency[len(latency) // 2] * 1000, "max_ms_at_200": latency[-1] * 1000,
            "errors": bad + bare_bad + len(status) - len(answered), "paysync_2xx": ok + len(answered),
            "bare_2xx": bare_ok, "inbox_rows": rows, "unsent_rows": unsent, "ingest_queue": queued,
            "bare_list": pushed, "workers": workers, "threads": threads, "open_seconds": open_seconds,
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite"}


def measure(quick: bool) -> Figure:
    try:
        r = run(quick)
    except Exception as exc:  # one broken bench never hides the others
        return Figure.failed("p1", TARGET, f"{type(exc).__name__}: {exc}")
    met = r["ratio"] >= 0.5 and r["p99_ms_at_200"] < 50 and r["errors"] == 0
    return Figure("p1", f"{r['rps']:.0f} webhooks/s, p99 {r['p99_ms_at_200']:.1f} ms at {RATE}/s",
                  f"{r['bare_rps']:.0f} LPUSHes/s", round(r["ratio"], 3), TARGET, met,
                  {"ratio": round(r["ratio"], 3), "p99_ms_at_200": round(r["p99_ms_at_200"], 1)},
                  f"gunicorn {r['workers']} workers x {r['threads']} threads, {CONNECTIONS} connections, "
                  f"{r['database']}; {r['inbox_rows']} inbox rows for {r['paysync_2xx']} 2xx, "
                  f"{r['ingest_queue']} queued, {r['errors']} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    r = run(args.quick)
    print(f"gunicorn {r['workers']} workers x {r['threads']} threads, {CONNECTIONS} connections in flight, "
          f"{r['database']}")
    print(f"paysync ingress  : {r['rps']:8.0f} webhooks/s (committed and enqueued)")
    print(f"bare LPUSH       : {r['bare_rps']:8.0f} requests/s")
    print(f"ratio            : {r['ratio']:8.3f}")
    print(f"open loop {RATE}/s  : p50 {r['p50_ms_at_200']:.1f} ms, p99 {r['p99_ms_at_200']:.1f} ms, "
          f"max {r['max_ms_at_200']:.1f} ms over {r['open_seconds']:.0f} s")
    print(f"checked          : {r['inbox_rows']} inbox rows ({r['unsent_rows']} not marked enqueued), "
          f"{r['ingest_queue']} ingest messages for {r['paysync_2xx']} 2xx; {r['bare_list']} LPUSHed for "
          f"{r['bare_2xx']} 2xx; {r['errors']} errors")


if __name__ == "__main__":
    main()
