"""p5, the poller on a 50,000-transaction day: CPU a steady tick costs paysync, over the poll interval.

    python bench/poller.py [--size 50000]
    make bench  (bench/run.py calls `measure(quick)`; quick: a 5,000-transaction day, scaled to 50,000)

A PayTrace sandbox in its own process holds two days of `size` transactions each, yesterday's and
today's (`POST /_sandbox/generate`, `created_at` for yesterday), on a fresh PostgreSQL database and
a private Redis (new inbox rows are enqueued as the poll task does). A child process is paysync:
it runs the poll task's body (workers/tasks.poll_and_send) with a clock of its own, one tick per
POLL_INTERVAL_SECONDS (the default, 60 s):

- a first tick that stores both days (printed, not the figure);
- the steady ticks of one POLL_OLDER_EVERY_SECONDS cycle with nothing new: today every tick, the
  older day once;
- three ticks each finding ~1% of the day new (a burst: a 50,000-sale day brings ~35 a minute);
- the baseline, measured in the same child: the per-record path paysync had before issue 10
  (the export of both days, then one store_event per record, copied below), timed on a sample of
  the records and scaled to the window (its cost is a fixed amount per record).

What is timed is the child's own CPU (time.process_time): the sandbox answering runs in another
process and is not counted; the PostgreSQL sessions' CPU is printed beside. core_share is the
mean CPU of a steady tick (the larger of the nothing-new cycle and the ~1% ticks) over the interval;
steady_tick_s its wall time, which includes waiting for the sandbox to render the export.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

PACIFIC = "America/Los_Angeles"
TARGET = "core_share <= 0.05"
NEW_TICKS = 3


def measure_day(size: int, sample: int) -> dict:
    """Seed two days of `size` transactions and run the measured child; its figures."""
    from bench.reconcile import start_paytrace
    from bench.stacks import fresh_database
    from cli.runtime import EmbeddedRedis

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-poller-{size}-"))
    sandbox, url = start_paytrace(workdir)
    broker = EmbeddedRedis(workdir / "redis").start()
    try:
        with fresh_database(workdir) as database_url:
            now = requests.get(f"{url}/_sandbox/clock", timeout=10).json()["now"]
            yesterday = (_iso(now) - timedelta(days=1)).isoformat()
            for created_at in (yesterday, None):
                body = {"count": size, "batches": 1, **({"created_at": created_at} if created_at else {})}
                requests.post(f"{url}/_sandbox/generate", json=body, timeout=600).raise_for_status()
            argv = [sys.executable, __file__, "--child", "--size", str(size), "--sample", str(sample),
                    "--paytrace-url", url, "--database-url", database_url, "--redis-url", broker.url,
                    "--home", str(workdir)]
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"child failed:\n{done.stderr[-4000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        broker.stop()
        sandbox.stop()


def _iso(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def measure(quick: bool):
    """Figure p5: a 50,000-transaction day (quick: 5,000, CPU and wall scaled x10 linearly: a tick reads the
    whole of today, so its cost is linear in the day; `make bench` without --quick measures 50,000)."""
    from bench.figures import Figure

    size = 5_000 if quick else 50_000
    try:
        r = measure_day(size, sample=1_000 if quick else 3_000)
    except Exception as exc:  # one broken bench never hides the rest (bench/figures.py)
        return Figure.failed("p5", TARGET, f"{type(exc).__name__}: {exc}")
    scale, interval = 50_000 / size, r["interval_s"]
    steady, burst = r["steady"], r["burst"]
    cpu = max(steady["cpu_s"], burst["cpu_s"]) * scale
    wall = max(steady["wall_s"], burst["wall_s"]) * scale
    old = r["baseline"]["cpu_s"] * scale
    share = cpu / interval
    note = (f"{f'measured on a {size:,}-sale day, CPU and wall x{scale:g}; ' if quick else ''}"
            f"a tick reads today's {size:,} records and, every {r['older_every_s']:g} s, yesterday's too; "
            f"nothing new: {steady['cpu_s']:.3f} s CPU a tick over the cycle (today-only "
            f"{steady['today_cpu_s']:.3f} s, with the older day {steady['older_cpu_s']:.3f} s), "
            f"{steady['statements']:.0f} statements a tick; ~1% new ({burst['new']:.0f} a tick): "
            f"{burst['cpu_s']:.3f} s, {burst['statements']:.0f} statements; PostgreSQL sessions +"
            f"{r['pg_cpu_s_per_tick']:.3f} s a tick (not counted); first tick storing {2 * size:,}: "
            f"{r['first']['cpu_s']:.1f} s CPU; baseline: export of both days + store_event per record "
            f"({r['baseline']['per_record_ms']:.2f} ms CPU, {r['baseline']['wall_per_record_ms']:.2f} ms wall "
            f"a record, {r['baseline']['sample']:,}-record sample); ratio = baseline CPU / new CPU")
    return Figure("p5", f"core share {share:.4f} ({cpu:.2f} s CPU a tick / {interval:g} s), {wall:.2f} s wall",
                  f"per-record path {old:.1f} s CPU a tick (core share {old / interval:.2f})",
                  round(old / cpu, 1) if cpu else None, TARGET, share <= 0.05,
                  {"core_share": round(share, 4), "steady_tick_s": round(wall, 3)}, note)


# -- child: paysync's process, the one measured ------------------------------------------------
def child(args) -> None:
    for name in ("POLL_INTERVAL_SECONDS", "POLL_OLDER_EVERY_SECONDS", "POLL_PAGE_SIZE"):
        os.environ.pop(name, None)  # the figure is at the defaults, whatever the caller's environment says
    os.environ.update({"PAYTRACE_BASE_URL": args.paytrace_url, "DATABASE_URL": args.database_url,
                       "REDIS_URL": args.redis_url, "PAYSYNC_HOME": args.home, "MERCHANT_TIMEZONE": PACIFIC,
                       "PAYSYNC_ENV": "demo", "PAYTRACE_TIMEOUT": "120"})
    from bench.reconcile import database_cpu_seconds
    from config.settings import get_settings
    from db.migrate import upgrade
    from db.types import utcnow
    from workers import tasks

    settings = get_settings()
    upgrade(settings.database_url)
    interval, older_every = settings.poll_interval_seconds, settings.poll_older_every_seconds
    t0 = utcnow()

    def tick(k: int) -> dict:
        cpu, wall = time.process_time(), time.perf_counter()
        counts = tasks.poll_and_send(now=t0 + timedelta(seconds=k * interval))
        return {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "new": counts.new,
                "statements": counts.statements, "days": counts.days, "fetched": counts.fetched}

    first = tick(0)
    analyze(settings.database_url)
    cycle = max(1, round(older_every / interval))
    pg_before = database_cpu_seconds(settings.database_url)
    steady = [tick(k) for k in range(1, cycle + 1)]  # the last one re-reads the older day
    pg_cpu = database_cpu_seconds(settings.database_url) - pg_before
    burst = []
    for k in range(cycle + 1, cycle + 1 + NEW_TICKS):
        requests.post(f"{args.paytrace_url}/_sandbox/generate", json={"count": max(1, args.size // 100)},
                      timeout=60).raise_for_status()
        burst.append(tick(k))
    older = [t for t in steady if t["days"] > min(s["days"] for s in steady)]
    today_only = [t for t in steady if t not in older]
    print(json.dumps({
        "size": args.size, "interval_s": interval, "older_every_s": older_every, "first": first,
        "steady": {**_mean(steady), "today_cpu_s": _mean(today_only)["cpu_s"],
                   "older_cpu_s": _mean(older or steady)["cpu_s"]},
        "burst": _mean(burst), "pg_cpu_s_per_tick": pg_cpu / len(steady),
        "baseline": per_record_baseline(settings, t0, args.sample)}))


def analyze(database_url: str) -> None:
    """Statistics, as autovacuum keeps them on a live inbox: right after a bulk load the planner has
    none, guesses a handful of rows for (pair, source) and filters the whole index for each page's
    IN list (80 ms a page at 100k rows instead of 2 ms)."""
    from sqlalchemy import text

    from db.session import get_engine

    engine = get_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE inbox"))
            conn.commit()


def _mean(ticks: list[dict]) -> dict:
    return {key: sum(t[key] for t in ticks) / len(ticks) for key in ("cpu_s", "wall_s", "new", "statements")}


def per_record_baseline(settings, now, sample: int) -> dict:
    """The tick as it was: both days exported, then one store_event (an INSERT attempt and its own
    transaction, a SELECT after the conflict) per record; CPU of the export plus the sample's per-record cost."""
    from zoneinfo import ZoneInfo

    from db.inbox import store_event
    from workers.context import flow_context
    from workers.poller import _card_event

    gateway = flow_context(settings.pair).gateway
    tz = ZoneInfo(settings.merchant_timezone)
    start = now.astimezone(tz).date() - timedelta(days=settings.poll_overlap_days)
    cpu = time.process_time()
    records = gateway.transactions_between(start, now.astimezone(tz).date())
    export_cpu = time.process_time() - cpu
    cpu, wall = time.process_time(), time.perf_counter()
    for record in records[:sample]:  # the old loop, as it was (every record is known by now)
        txn_id, event_id, event_type, payload = _card_event(record)
        store_event(settings.database_url, source="poller", event_id=event_id, event_type=event_type,
                    transaction_id=txn_id, payload=payload, pair=settings.pair)
    n = min(sample, len(records))
    per_record, wall_per_record = (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n
    return {"cpu_s": export_cpu + per_record * len(records), "per_record_ms": per_record * 1000,
            "wall_per_record_ms": wall_per_record * 1000, "sample": n, "records": len(records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=50_000, help="transactions a day")
    parser.add_argument("--sample", type=int, default=3_000, help="records the per-record baseline is timed on")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paytrace-url", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(json.dumps(measure_day(args.size, args.sample), indent=2))


if __name__ == "__main__":
    main()
