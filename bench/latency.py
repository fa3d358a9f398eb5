"""p3: sales synced when every ERP call takes 200 ms, one io worker process, against the bound the ERP allows.

    python bench/latency.py [--sales 600] [--threads 48] [--cap 32] [--rate 100/second] [--latency-ms 200]

One io worker process (threads, as the Procfile's `io` role runs it) syncs sales into the Sage 50
bridge sandbox, which answers every call after `--latency-ms`. The gate every worker shares caps
calls at once (`--cap`, ERP_MAX_CONCURRENT) and per second (`--rate`, ERP_RATE_LIMIT). The bound is
what the ERP allows, in sales a second: min(cap / latency, rate) / ERP calls per sale, both terms
in calls a second and the calls per sale measured in the same run; the ratio is sales/s over it.
The sandbox itself reports the most calls that arrived within any one second and the most at once,
so the rate limit is judged from the ERP's side. The sandbox only sleeps: it is not what is measured.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from bench.figures import Figure  # noqa: E402
from bench.stacks import dead_runs, fresh_database, kept_environment, wait_finished  # noqa: E402
from cli import runtime  # noqa: E402
from cli.stack import Stack  # noqa: E402
from cli.traffic import make_sales, push_webhook  # noqa: E402

TARGET = "ratio >= 0.8 with >= 32 steps at once; rate never exceeded"


class SandboxProcess:
    """The Sage 50 sandbox in a process of its own (`python -m sandbox.sage50`): when a call arrived is
    its clock, and in the bench's process it waited on the bench's own threads and their garbage
    collection (one run in `make bench` saw 108 calls "arrive" in one second at 100 a second)."""

    def __init__(self, home: Path) -> None:
        from cli.stack import SAGE50_KEY, wait_http

        port = runtime.free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "sandbox.sage50", "--port", str(port), "--api-key", SAGE50_KEY]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.child = runtime.Child("sage50", argv, env, home / "sage50.log").start()
        wait_http(f"{self.url}/_sandbox/stats", proc=self.child)

    def stop(self) -> None:
        self.child.stop()


def run(sales: int, threads: int, cap: int, rate: str, latency_ms: int, processes: int = 1) -> dict:
    from config.settings import get_settings
    from config.settings_checks import parse_rate
    from connectors.paytrace import PayTraceClient

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="paysync-bench-latency-"))
    with fresh_database(home) as database_url:
        stack = Stack(home=home, database_url=database_url, extra_env={
            "POLL_INTERVAL_SECONDS": "3600", "SWEEP_INTERVAL_SECONDS": "3600", "ERP_MAX_CONCURRENT": str(cap),
            "ERP_RATE_LIMIT": rate, "GATE_MAX_WAIT_SECONDS": "120", "HTTP_RETRIES": "0"})
        try:
            stack.start_services()
            stack.erp_server.stop()
            stack.erp_server = SandboxProcess(home)
            stack.env["SAGE50_BASE_URL"] = stack.erp_server.url
            os.environ.update(stack.env)
            get_settings.cache_clear()
            stack.start_ingress()
            made = make_sales(PayTraceClient(get_settings().paytrace), sales, seed=3, decline_every=0)
            stack.set_faults(latency_ms=latency_ms)
            stats = f"{stack.erp_server.url}/_sandbox/stats"
            before = requests.get(stats, timeout=10).json()
            for n in range(processes):
                stack.start_worker(f"io{n}", threads, queues=runtime.IO_QUEUES, pool="threads")
            time.sleep(3)  # the worker connects before the clock starts
            started = time.perf_counter()
            session = requests.Session()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda s: push_webhook(stack.ingress_url, stack.webhook_secret, s, session=session),
                              made))
            wait_finished(stack.database_url, [s.transaction_id for s in made])
            elapsed = time.perf_counter() - started
            after = requests.get(stats, timeout=10).json()
            dead = dead_runs(stack.database_url)
        finally:
            stack.stop()
    calls = sum(sum(c.values()) for c in after["requests"].values()) - \
        sum(sum(c.values()) for c in before["requests"].values())
    count, seconds = parse_rate(rate) if rate != "0" else (None, 1)
    per_second = count / seconds if count else None
    calls_per_sale = calls / sales
    bound_calls = min(cap / (latency_ms / 1000), per_second or float("inf"))
    bound = bound_calls / calls_per_sale
    sales_per_s = sales / elapsed
    return {"sales": sales, "threads": threads, "processes": processes, "cap": cap, "rate": rate, "latency_ms": latency_ms,
            "sales_per_s": sales_per_s, "bound_sales_per_s": bound, "ratio": sales_per_s / bound,
            "calls_per_sale": calls_per_sale, "max_calls_per_s_in_1s": after["most_calls_in_one_second"],
            "most_calls_at_once": after["most_calls_at_once"],
            # The ERP's steady state: the median of the calls that arrived in each whole second.
            "median_calls_per_s": statistics.median(after["calls_each_second"] or [0]),
            "rate_per_second": per_second, "dead": dead,
            "database": "postgresql" if database_url.startswith("postgresql") else "sqlite"}


def measure(quick: bool) -> Figure:
    try:
        # Quick: 300 sales, not fewer: the burst's first seconds (ingest first) weigh too much in a shorter run.
        with kept_environment():
            r = run(300 if quick else 600, threads=48, cap=32, rate="100/second", latency_ms=200)
    except Exception as exc:  # one broken bench never hides the others
        return Figure.failed("p3", TARGET, f"{type(exc).__name__}: {exc}")
    within = r["rate_per_second"] is None or r["max_calls_per_s_in_1s"] <= r["rate_per_second"]
    return Figure("p3", f"{r['sales_per_s']:.1f} sales/s", f"bound {r['bound_sales_per_s']:.1f} sales/s",
                  round(r["ratio"], 3), TARGET, r["ratio"] >= 0.8 and within and r["dead"] == 0,
                  {"ratio": round(r["ratio"], 3), "sales_per_s": round(r["sales_per_s"], 2),
                   "max_calls_per_s_in_1s": r["max_calls_per_s_in_1s"], "rate_limit": r["rate"]},
                  f"{r['sales']} sales, {r['threads']} threads, cap {r['cap']}, {r['calls_per_sale']:.1f} ERP "
                  f"calls/sale, at most {r['most_calls_at_once']} at once, a median {r['median_calls_per_s']:g} calls/s at "
                  f"the ERP, {r['database']}, dead {r['dead']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=600)
    parser.add_argument("--threads", type=int, default=48)
    parser.add_argument("--cap", type=int, default=32)
    parser.add_argument("--rate", default="100/second")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1, help="io worker processes (the slope of scaling out)")
    args = parser.parse_args()
    r = run(args.sales, args.threads, args.cap, args.rate, args.latency_ms, args.processes)
    print(f"{r['sales']} sales, {r['processes']} io worker(s) of {r['threads']} threads, every ERP call {r['latency_ms']} ms, "
          f"cap {r['cap']} at once, rate {r['rate']}, {r['database']}")
    print(f"paysync            : {r['sales_per_s']:8.2f} sales/s  (dead: {r['dead']})")
    print(f"bound the ERP lets : {r['bound_sales_per_s']:8.2f} sales/s  ({r['calls_per_sale']:.2f} ERP calls per sale)")
    print(f"ratio              : {r['ratio']:8.3f}")
    print(f"at the ERP         : at most {r['max_calls_per_s_in_1s']} calls in any one second, "
          f"{r['most_calls_at_once']} at once")
    print(f"steady state       : a median {r['median_calls_per_s']:g} calls a second arrived at the ERP")


if __name__ == "__main__":
    main()
