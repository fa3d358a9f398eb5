"""`paysync demo`: a few hundred sales through the whole system, on the embedded default."""
from __future__ import annotations

import csv
import logging
import os
import random
import shutil
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from cli.stack import Stack
from cli.traffic import make_sales, push_with_retry
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import DeadLetter, SyncRun
from db.session import session_scope

TERMINAL = ("succeeded", "skipped", "dead")
ERP_NAMES = {"sage50": "Sage 50", "sage_x3": "Sage X3", "sage_pro": "Sage Pro"}


#: The file that marks a folder as made by `paysync demo`: only such a folder is ever emptied.
HOME_MARK = ".paysync-demo-home"


class DemoHomeError(ValueError):
    """The --home folder is not the demo's to use."""


def prepare_home(home: Path) -> None:
    """Make `home` the demo's folder: new, empty, or one an earlier demo made (then emptied).

    A folder with anything else in it is refused: `--home .` must never wipe a working directory.
    """
    if home.exists() and not home.is_dir():
        raise DemoHomeError(f"{home} is a file, not a folder: choose another --home")
    if home.exists() and any(home.iterdir()):
        if not (home / HOME_MARK).is_file():
            raise DemoHomeError(f"{home} is not empty and was not made by `paysync demo`: choose another --home "
                                "(the demo empties its folder before each run)")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / HOME_MARK).write_text("made by paysync demo; emptied by the next demo run\n")


def demo_urls(home: Path, use_env: bool, environ=os.environ) -> tuple[str, str | None]:
    """The demo's database and Redis: its own, unless told to use the environment's."""
    database_url = (use_env and environ.get("DATABASE_URL")) or f"sqlite:///{home / 'paysync.sqlite3'}"
    return database_url, (use_env and environ.get("REDIS_URL")) or None


def run_demo(sales: int, home: Path, console: Console, timeout: float = 600.0, seed: int = 7,
             erp: str = "sage50", use_env: bool = False, keep: bool = False) -> int:
    """Run the demo; return 0 when every sale reached a terminal state; with `keep`, stay up until Ctrl-C.

    The demo uses its own SQLite file and embedded Redis; DATABASE_URL and REDIS_URL from the
    environment only with `use_env` (an operator's exported production values stay untouched).
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandboxes' request log
    prepare_home(home)
    database_url, redis_url = demo_urls(home, use_env)
    stack = Stack(home=home, database_url=database_url, redis_url=redis_url, erp=erp,
                  extra_env={"POLL_INTERVAL_SECONDS": "3", "SWEEP_INTERVAL_SECONDS": "10",
                             "RETRY_BACKOFF_BASE": "0.5", "RETRY_BACKOFF_MAX": "10", "TASK_TIME_LIMIT": "60",
                             "VISIBILITY_TIMEOUT": "300", "SWEEP_STALL_SECONDS": "120"})
    try:
        with console.status("starting sandboxes, Redis, ingress, worker and beat..."):
            stack.start_services()
            baseline = stack.erp_summary()  # what the sandbox holds before any sale (Sage Pro has seed rows)
            os.environ.update(stack.env)
            get_settings.cache_clear()
            stack.start_ingress()
            stack.start_workers(processes=1, threads=8)
            stack.start_beat()
            stack.start_console()
            login = _console_login(database_url)
        console.print(f"[bold]paysync demo[/] in {home}: database {_safe(database_url)}, "
                      f"redis {'embedded' if stack.redis else 'REDIS_URL'}, PayTrace sandbox {stack.paytrace.url}, "
                      f"{ERP_NAMES[erp]} sandbox {stack.erp_server.url if stack.erp_server else stack.sage_pro_url}, "
                      f"ingress {stack.ingress_url}")
        client = PayTraceClient(get_settings().paytrace)
        rng = random.Random(seed)
        pushed = Counter()
        made = []
        with _progress(console) as progress:
            task = progress.add_task("selling on PayTrace", total=sales)

            def on_sale(sale):
                made.append(sale)
                # Most sales are also pushed by the "shop" (some twice); the poller finds the rest.
                if rng.random() < 0.7:
                    for _ in range(2 if rng.random() < 0.3 else 1):
                        pushed[push_with_retry(stack.ingress_url, stack.webhook_secret, sale).status_code] += 1
                progress.advance(task)

            make_sales(client, sales, seed=seed, on_sale=on_sale)
            ids = [s.transaction_id for s in made]
            sync = progress.add_task(f"syncing into {ERP_NAMES[erp]}", total=len(ids))
            deadline = time.monotonic() + timeout
            done = 0
            while time.monotonic() < deadline:
                done = _terminal_count(database_url, ids)
                progress.update(sync, completed=done)
                if done >= len(ids):
                    break
                time.sleep(0.5)
        console.print(f"webhooks answered: {dict(pushed)} (202 accepted, 200 repeat)")
        _report(console, stack, database_url, made, home, baseline)
        console.print(f"[bold]operator's console[/]: {stack.console_url}  (sign in as [bold]{login[0]}[/], "
                      f"password [bold]{login[1]}[/]; made for this demo only)", highlight=False)
        if keep:
            _stay_up(console)
        return 0 if done >= len(ids) else 1
    finally:
        with console.status("stopping..."):
            stack.stop()


def _console_login(database_url: str) -> tuple[str, str]:
    """A console operator for this demo, with a fresh random password (production has none by default);
    a second demo on the same database gives the same operator a new one."""
    import secrets

    from console.auth import add_user, set_password

    password = secrets.token_urlsafe(12)
    if not set_password(database_url, "demo-operator", password):
        add_user(database_url, "demo-operator", "operator", password)
    return "demo-operator", password


def _stay_up(console: Console) -> None:
    console.print("everything stays up until Ctrl-C")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")


def _safe(url: str) -> str:
    return url.split("@")[-1]


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _terminal_count(database_url: str, ids: list[int]) -> int:
    with session_scope(database_url) as s:
        return s.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.transaction_id.in_(ids), SyncRun.status.in_(TERMINAL))) or 0


def new_since(summary: dict, baseline: dict) -> dict:
    """What the ERP holds now that it did not hold before the demo: seed rows are not paysync's work."""
    out = dict(summary)
    out["customers"] = summary["customers"] - baseline.get("customers", 0)
    for name, items in summary.items():
        if isinstance(items, list):
            before = {(i.get("key") or i.get("reference")) for i in baseline.get(name, [])}
            out[name] = [i for i in items if (i.get("key") or i.get("reference")) not in before]
    return out


def _report(console: Console, stack: Stack, database_url: str, made, home: Path, baseline: dict) -> None:
    summary = new_since(stack.erp_summary(), baseline)
    invoices, payments, journals = summary["invoices"], summary["payments"], summary["journals"]
    approved = [s for s in made if not s.declined]
    table = Table(title=f"What {ERP_NAMES[stack.erp]} now holds")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("amount", justify="right")
    table.add_row("sales made on PayTrace (approved)", str(len(approved)), f"{sum(s.amount for s in approved):,.2f}")
    table.add_row("declined on PayTrace", str(len(made) - len(approved)), "")
    table.add_row("customers", str(summary["customers"]), "")
    failed = sum(1 for o in summary["sales_orders"] if o.get("status") == "Payment Failed")
    table.add_row("sales orders (marked Payment Failed)", f"{len(summary['sales_orders'])} ({failed})", "")
    table.add_row("invoices (fully paid)", f"{len(invoices)} ({sum(1 for i in invoices if i['open'] == 0)})",
                  f"{sum(i['amount'] for i in invoices):,.2f}")
    table.add_row("receipts applied", str(len(payments)), f"{sum(p['amount'] for p in payments):,.2f}")
    table.add_row("journal entries (balanced)",
                  f"{len(journals)} ({sum(1 for j in journals if j['debits'] == j['credits'])})", "")
    console.print(table)
    ids = [s.transaction_id for s in made]  # this demo's own sales: a shared database holds others'
    with session_scope(database_url) as s:
        mine = SyncRun.transaction_id.in_(ids)
        runs = dict(s.execute(select(SyncRun.status, func.count()).where(mine).group_by(SyncRun.status)).all())
        letters = list(s.scalars(select(DeadLetter).join(SyncRun, DeadLetter.run_id == SyncRun.id)
                                 .where(DeadLetter.status == "open", mine).order_by(DeadLetter.id)))
        rows = s.execute(select(SyncRun.transaction_id, SyncRun.kind, SyncRun.status,
                                func.coalesce(SyncRun.note, SyncRun.last_error)).where(mine)
                         .order_by(SyncRun.transaction_id)).all()
    console.print("sync runs: " + ", ".join(f"{k} {v}" for k, v in sorted(runs.items())))
    dead = Table(title="Dead letters (paysync dlq show ID)")
    for col in ("id", "run", "step", "reason"):
        dead.add_column(col)
    for letter in letters:
        dead.add_row(str(letter.id), str(letter.run_id), letter.step or "", escape(letter.reason))
    console.print(dead if letters else "dead letters: none")
    report = home / "demo-runs.csv"
    with open(report, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["transaction_id", "kind", "status", "note"])
        writer.writerows(rows)
    console.print(f"every run, one line each: {report}")
