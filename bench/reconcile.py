"""Nightly reconciliation at scale: time and peak memory for days of 100k and 1M settled transactions.

    python bench/reconcile.py [--sizes 100000 1000000] [--pg-admin-url postgresql://postgres@127.0.0.1/test]

For each size: a fresh PayTrace sandbox process generates the day (`POST /_sandbox/generate`,
four batches, 1% refunds) and streams each batch's transaction list; a fresh database (PostgreSQL
when the admin URL answers, else SQLite) is seeded with a succeeded sync run per sale, except
one in a thousand (those are "missing in the ERP" and get repaired); then the whole flow
(`flows.settlement.reconcile`, every step, reports included) runs in a child process whose time
and peak resident memory (getrusage) are reported side by side.

The ERP is an in-process stand-in that answers `find` and lists the day's receipts from the same
rule the generator uses (one receipt in 997 has the wrong amount): the Sage 50 bridge sandbox
keeps records in a list scanned per lookup, so it cannot hold a million. The figures therefore
measure paysync's side (streaming, matching, ledger queries, item writes, reports), not an ERP's
lookup latency: with a real ERP, add its lookups (two per sale, RECONCILE_ERP_CONCURRENCY at a time).
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from cli import runtime  # noqa: E402

BATCHES, REFUND_EVERY, MISSING_EVERY, WRONG_EVERY = 4, 100, 1000, 997
FIRST_ID = 100000000
PACIFIC = "America/Los_Angeles"


# -- the generator's rule, as the ERP stand-in and the seeding need it -------------------------
def is_refund(txn_id: int) -> bool:
    """`generate` makes every REFUND_EVERY-th transaction a refund (batches are multiples of it)."""
    return (txn_id - FIRST_ID) % REFUND_EVERY == REFUND_EVERY - 1


def bench_erp(day: date, count: int):
    """An ErpConnector holding a receipt and journal per generated sale, as the rule says."""
    from connectors.base import ErpConnector
    from sandbox.paytrace.state import generated_amount
    from schemas.domain import ErpDocument

    pattern = re.compile(r"^PT(\d+)-(RCP|JE)$")

    class BenchErp(ErpConnector):
        kind = "sage50"

        def __init__(self) -> None:
            self.journals: dict[str, ErpDocument] = {}

        def _doc(self, kind: str, txn_id: int) -> list[ErpDocument]:
            if is_refund(txn_id) or txn_id % MISSING_EVERY == 0 or not FIRST_ID <= txn_id < FIRST_ID + count:
                return []
            amount = generated_amount(txn_id) + (1 if kind == "payment" and txn_id % WRONG_EVERY == 0 else 0)
            code = "RCP" if kind == "payment" else "JE"
            return [ErpDocument(kind, f"K{txn_id}{code}", f"PT{txn_id}-{code}", amount, None, "C1")]

        def find(self, kind: str, reference: str) -> list[ErpDocument]:
            match = pattern.match(reference)
            if match:
                return self._doc(kind, int(match.group(1)))
            return [self.journals[reference]] if reference in self.journals else []

        def list_documents(self, kind: str, the_day: date):
            for txn_id in range(FIRST_ID, FIRST_ID + count):
                yield from self._doc(kind, txn_id)
            yield from (ErpDocument(kind, f"X{i}", f"PT{i}-RCP", Decimal("5.00")) for i in (7, 8, 9))


        def _create_journal(self, entry):
            doc = ErpDocument("journal", uuid.uuid4().hex, entry.reference,
                              sum(l.amount for l in entry.lines if l.amount > 0))
            self.journals[entry.reference] = doc
            return doc

        def upsert_customer(self, customer):
            raise NotImplementedError

        _create_sales_order = _create_invoice = _create_payment = upsert_customer

    return BenchErp()


# -- parent: sandbox, database, seeding ------------------------------------------------------
def start_paytrace(workdir: Path) -> tuple[runtime.Child, str]:
    port = runtime.free_port()
    argv = [sys.executable, "-m", "sandbox.paytrace", "--port", str(port), "--quiet"]
    child = runtime.Child("paytrace", argv, {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                          workdir / "paytrace.log").start()
    url = f"http://127.0.0.1:{port}"
    from cli.stack import wait_http

    wait_http(f"{url}/v1/ping", proc=child)
    return child, url


def fresh_database(admin_url: str | None, workdir: Path, size: int) -> tuple[str, callable]:
    if admin_url:
        from sqlalchemy import create_engine, text

        try:
            engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            name = f"paysync_bench_{size}_{uuid.uuid4().hex[:6]}"
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))

            def drop() -> None:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

            return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop
        except Exception as exc:  # no PostgreSQL here: fall back to SQLite, and say so
            print(f"PostgreSQL not reachable ({type(exc).__name__}); using SQLite", file=sys.stderr)
    return f"sqlite:///{workdir / f'bench-{size}.sqlite3'}", lambda: None


def seed_ledger(database_url: str, count: int) -> float:
    """A succeeded sync run with payment and journal steps per sale (but the missing ones)."""
    from db.migrate import upgrade
    from db.session import get_engine

    upgrade(database_url)
    started = time.perf_counter()
    sales = [i for i in range(FIRST_ID, FIRST_ID + count) if not is_refund(i) and i % MISSING_EVERY]
    now = datetime.now(timezone.utc)
    engine = get_engine(database_url)
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            runs = io.StringIO("".join(f"{n}\tpaytrace\t{t}\tsage50\tsucceeded\t{now.isoformat()}\t{now.isoformat()}\n"
                                       for n, t in enumerate(sales, 1)))
            cur.copy_expert("COPY sync_run (id, gateway, transaction_id, erp, status, created_at, updated_at) "
                            "FROM STDIN", runs)
            steps = io.StringIO("".join(f"{n}\t{step}\t{t}:{step}\tdone\tK{t}\t0\t{now.isoformat()}\n"
                                        for n, t in enumerate(sales, 1) for step in ("payment", "journal")))
            cur.copy_expert("COPY step_ledger (run_id, step, idempotency_key, status, erp_ref, attempts, "
                            "started_at) FROM STDIN", steps)
            cur.execute("SELECT setval('sync_run_id_seq', %s)", (len(sales),))
            raw.commit()
            # Statistics, as autovacuum would have them on a live database: without them the
            # planner scans the whole run index for each chunk's IN list.
            raw.set_isolation_level(0)
            cur.execute("ANALYZE sync_run")
            cur.execute("ANALYZE step_ledger")
        finally:
            raw.close()
    else:
        from sqlalchemy import insert

        from db.models import StepLedger, SyncRun

        with engine.begin() as conn:
            for start in range(0, len(sales), 20000):
                part = list(enumerate(sales[start:start + 20000], start + 1))
                conn.execute(insert(SyncRun), [{"id": n, "gateway": "paytrace", "transaction_id": t, "erp": "sage50",
                                                "status": "succeeded", "created_at": now, "updated_at": now}
                                               for n, t in part])
                conn.execute(insert(StepLedger), [
                    {"run_id": n, "step": step, "idempotency_key": f"{t}:{step}", "status": "done", "erp_ref": f"K{t}",
                     "attempts": 0, "started_at": now} for n, t in part for step in ("payment", "journal")])
    engine.dispose()
    return time.perf_counter() - started


def measure(size: int, admin_url: str | None, chunk: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-reconcile-{size}-"))
    sandbox, url = start_paytrace(workdir)
    database_url, drop = fresh_database(admin_url, workdir, size)
    try:
        started = time.perf_counter()
        made = requests.post(f"{url}/_sandbox/generate", json={"count": size, "batches": BATCHES,
                                                               "refund_every": REFUND_EVERY}, timeout=600).json()
        generate_s = time.perf_counter() - started
        assert made["first_transaction_id"] == FIRST_ID, made
        seed_s = seed_ledger(database_url, size)
        pacific = requests.get(f"{url}/_sandbox/clock", timeout=10).json()["pacific"].split()[0]
        month, day_, year = pacific.split("/")
        argv = [sys.executable, __file__, "--child", "--size", str(size), "--paytrace-url", url,
                "--database-url", database_url, "--day", f"{year}-{int(month):02d}-{int(day_):02d}",
                "--chunk", str(chunk), "--home", str(workdir)]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"child failed:\n{out.stderr[-4000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        return {**result, "generate_s": round(generate_s, 1), "seed_s": round(seed_s, 1),
                "database": database_url.split(":", 1)[0]}
    finally:
        sandbox.stop()
        drop()


# -- child: the measured reconciliation ------------------------------------------------------
def memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in kB.

    Not getrusage's ru_maxrss: Linux carries that across fork and exec, so a child would report
    the peak of the parent that seeded the database.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass  # not Linux: fall back to getrusage below
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(args) -> None:
    os.environ.update({"PAYTRACE_BASE_URL": args.paytrace_url, "DATABASE_URL": args.database_url,
                       "PAYSYNC_HOME": args.home, "MERCHANT_TIMEZONE": PACIFIC, "PAYSYNC_ENV": "demo"})
    os.environ.pop("REDIS_URL", None)
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient, PayTraceGateway
    from flows import settlement
    from workers.locks import NoLock

    from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping

    settings = get_settings()
    day = date.fromisoformat(args.day)
    erp = bench_erp(day, args.size)
    sent: list[int] = []
    ctx = settlement.ReconcileContext(
        db_url=settings.database_url, gateway=PayTraceGateway(PayTraceClient(settings.paytrace)),
        erp=erp, erp_kind="sage50", mapping=load_mapping(DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml"),
        enqueue=sent.append,
        lock=NoLock, reports_dir=Path(args.home) / "reports", chunk_size=args.chunk, erp_concurrency=1)
    baseline_kb = memory_kb("VmRSS")
    started = time.perf_counter()
    outcome = settlement.reconcile(ctx, day, trigger="bench")
    elapsed = time.perf_counter() - started
    peak_kb = memory_kb("VmHWM")
    from db.models import ReconcileRun
    from db.session import session_scope

    with session_scope(settings.database_url) as s:
        run = s.get(ReconcileRun, outcome.run_id)
        counts, exceptions = run.counts, run.exceptions
    print(json.dumps({"size": args.size, "seconds": round(elapsed, 1), "items_per_s": round(args.size / elapsed),
                      "peak_rss_mb": round(peak_kb / 1024, 1), "rss_before_mb": round(baseline_kb / 1024, 1),
                      "growth_mb": round((peak_kb - baseline_kb) / 1024, 1), "repairs_sent": len(sent),
                      "exceptions": exceptions, "counts": counts}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pg-admin-url", default=os.environ.get("TEST_PG_ADMIN_URL",
                                                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
                        help="PostgreSQL to create a scratch database in ('' for SQLite)")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paytrace-url", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = []
    for size in args.sizes:
        result = measure(size, args.pg_admin_url or None, args.chunk)
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Reconciliation of one day (whole flow, reports included)")
    for col in ("transactions", "database", "seconds", "items/s", "peak RSS MB", "RSS growth MB", "exceptions",
                "repairs sent"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(f"{r['size']:,}", r["database"], str(r["seconds"]), f"{r['items_per_s']:,}",
                      str(r["peak_rss_mb"]), str(r["growth_mb"]), f"{r['exceptions']:,}", f"{r['repairs_sent']:,}")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
