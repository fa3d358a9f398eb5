"""`paysync`: run the demo, migrate, and look after dead letters."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.errors import CliError, PaysyncGroup, load_json_file, require_schema

console = Console()


def _settings(*, schema: bool = True, broker: bool = False):
    """The settings, or one line per bad key and exit 2; with `schema`, a migrated database too."""
    from config.settings import SettingsError, get_settings

    try:
        settings = get_settings()
        if broker:
            settings.broker_url  # refuses to run without one, rather than publish where no worker reads
    except SettingsError as exc:
        click.echo(f"paysync: {exc}", err=True)
        sys.exit(2)
    if schema:
        require_schema(settings.database_url)
    return settings


@click.group(cls=PaysyncGroup)
def main() -> None:
    """paysync: PayTrace payments into Sage, nothing lost, nothing twice."""
    from schemas.masking import install_log_masking

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    install_log_masking()


@main.command()
@click.option("--sales", default=300, show_default=True, help="How many sales to make on the PayTrace sandbox.")
@click.option("--erp", type=click.Choice(["sage50", "sage_x3", "sage_pro"]), default="sage50", show_default=True,
              help="Which Sage ERP sandbox to sync into.")
@click.option("--home", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True,
              help="Where the demo keeps its SQLite file, logs and report: a new or empty folder, or one an "
                   "earlier demo made (emptied first); any other folder is refused.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the sync to finish.")
@click.option("--keep", is_flag=True, help="Stay up afterwards (console, ingress, workers) until Ctrl-C.")
@click.option("--orders", default=0, show_default=True,
              help="Run online-store orders instead: place them in the store simulator and pay them on PayTrace.")
@click.option("--use-env", is_flag=True,
              help="Use DATABASE_URL and REDIS_URL from the environment (by default the demo ignores them).")
def demo(sales: int, erp: str, home: Path, timeout: float, keep: bool, orders: int, use_env: bool) -> None:
    """Drive sales through sandboxes, ingress, poller and workers; show what the ERP holds."""
    from cli.demo import DemoHomeError, run_demo

    if orders < 0:
        raise CliError("--orders must be 0 or more")
    try:
        if orders:
            from cli.orders_demo import run_orders_demo

            code = run_orders_demo(orders, home.resolve(), console, timeout=timeout, erp=erp)
        else:
            code = run_demo(sales, home.resolve(), console, timeout=timeout, erp=erp, keep=keep, use_env=use_env)
    except DemoHomeError as exc:
        raise CliError(str(exc)) from None
    sys.exit(code)


@main.command()
@click.option("--pair", default=None, help="Check one integration pair (PAYSYNC_PAIRS); default: every pair.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 31),
              help="How many recent days of PayTrace activity to read.")
def doctor(pair: str | None, days: int) -> None:
    """Read-only preflight: does each assumption paysync makes hold on your real accounts? Run it first."""
    from cli.doctor import run_doctor

    sys.exit(run_doctor(pair, days, console))


@main.command()
def migrate() -> None:
    """Bring the database (DATABASE_URL) to the newest schema."""
    from db.migrate import upgrade

    settings = _settings(schema=False)
    upgrade(settings.database_url)
    console.print("database is at the newest schema")


@main.group()
def dlq() -> None:
    """Dead letters: what failed for good, why, and replay."""


@dlq.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed letters.")
def dlq_list(show_all: bool) -> None:
    from workers.deadletter import list_letters

    letters = list_letters(_settings().database_url, status=None if show_all else "open")
    table = Table(title="Dead letters")
    for col in ("id", "status", "when", "run", "step", "reason"):
        table.add_column(col)
    for l in letters:
        table.add_row(str(l.id), l.status, l.created_at.strftime("%Y-%m-%d %H:%M:%S"), str(l.run_id or ""),
                      l.step or "", escape(l.reason))  # a reason's [brackets] are text, not markup
    console.print(table if letters else "no dead letters")
    from flows.hints import dropped_count

    if dropped := dropped_count(_settings().database_url):
        console.print(f"{dropped} silent post(s) named a transaction PayTrace never showed: dropped, not dead-lettered")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    from workers.deadletter import get_letter

    letter = get_letter(_settings().database_url, letter_id)
    if letter is None:
        raise CliError(f"no dead letter {letter_id}")
    console.print_json(json.dumps({
        "id": letter.id, "status": letter.status, "task": letter.task_name, "step": letter.step,
        "run_id": letter.run_id, "inbox_id": letter.inbox_id, "reason": letter.reason,
        "error_type": letter.error_type, "context": letter.context, "replay_count": letter.replay_count,
        "created_at": letter.created_at.isoformat(),
    }, default=str))


@dlq.command("replay")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
def dlq_replay(letter_ids: tuple[int, ...]) -> None:
    """Resume each letter's run at the step that failed."""
    _settings(broker=True)
    from workers.tasks import replay

    for letter_id in letter_ids:
        try:
            run_id = replay(letter_id)
        except (LookupError, ValueError) as exc:
            raise CliError(str(exc)) from None
        console.print(f"dead letter {letter_id}: run {run_id} sent again from its failed step")


@main.command()
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="The merchant-local day whose settled batches to reconcile.")
@click.option("--pair", default=None, help="The integration pair (PAYSYNC_PAIRS) to reconcile; default: the first.")
def reconcile(day, pair) -> None:
    """Reconcile a day's settled batches with the ledger and the ERP, now, in this process.

    A re-run posts nothing twice and shows what changed since the previous run of that day.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from flows import settlement
    from workers.context import reconcile_context

    settings = _settings()
    if pair is not None:
        try:
            settings = settings.for_pair(pair)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--pair") from None
    ctx = reconcile_context(settings)
    columns = (TextColumn("[bold]reconciling {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            bar = progress.add_task(day.date().isoformat(), total=None)
            outcome = settlement.reconcile(
                ctx, day.date(), trigger="cli",
                progress=lambda done, total: progress.update(bar, completed=done, total=total or None))
    finally:
        ctx.erp.close()
        ctx.gateway.client.close()
    if outcome.status != "done":
        raise CliError(f"another reconciliation of {day.date()} is running; try again when it ends")
    show_reconcile_run(settings.database_url, outcome.run_id)


def show_reconcile_run(database_url: str, run_id: int) -> None:
    """The run as rich tables: batches, findings by class, changes since the previous run."""
    from db.models import ReconcileRun
    from db.session import session_scope
    from flows.settlement import EXCEPTIONS
    from flows.settlement_report import batch_rows

    with session_scope(database_url) as s:
        run = s.get(ReconcileRun, run_id)
    batches = Table(title=f"Reconciliation of {run.day}, run {run.number}")
    for col in ("batch", "transactions", "sales", "refunds", "net (PayTrace)", "net (items)", "totals",
                "settlement journal"):
        batches.add_column(col, justify="right" if col not in ("totals", "settlement journal") else "left")
    for b in batch_rows(run):
        batches.add_row(b["number"], str(b["count"]), str(b["sales"]), str(b["refunds"]), str(b["net"]),
                        str(b["items_net"]), "[green]agree[/]" if b["agrees"] else "[red]differ[/]",
                        f"{b['journal']} {b['journal_status']}")
    console.print(batches if run.totals else f"PayTrace settled no batch on {run.day}")
    classes = Table(title="Findings")
    classes.add_column("class")
    classes.add_column("count", justify="right")
    for cls, n in sorted(run.counts.items()):
        classes.add_row(f"[red]{cls}[/]" if cls in EXCEPTIONS else cls, str(n))
    console.print(classes)
    changes = run.changes or {}
    if changes.get("previous_run") is None:
        console.print("first run of this day")
    elif not changes.get("transitions") and not changes.get("posted"):
        console.print(f"no changes since run {changes['previous_run']}")
    else:
        moved = Table(title=f"Changes since run {changes['previous_run']}")
        for col in ("from", "to", "count", "for example"):
            moved.add_column(col)
        for c in changes.get("transitions", []):
            moved.add_row(c["from"], c["to"], str(c["count"]), c["example"])
        console.print(moved)
    if changes.get("posted"):
        console.print(f"settlement journals posted: {', '.join(changes['posted'])}")
    verdict = f"[red]{run.exceptions} exceptions[/] (see `paysync review list`)" if run.exceptions \
        else "[green]no exceptions[/]"
    console.print(f"{verdict}; report: {run.report_html} and {run.report_csv}")


@main.group()
def review() -> None:
    """The review list: everything a person must look at, and what they decided."""


@review.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved items.")
@click.option("--kind", default=None, help="Only kinds starting with this, e.g. reconcile.")
def review_list(show_all: bool, kind: str | None) -> None:
    from flows.review import list_items

    items = list_items(_settings().database_url, status=None if show_all else "open", kind=kind)
    table = Table(title="Review list")
    for col in ("id", "status", "kind", "reference", "seen", "reason", "note"):
        table.add_column(col)
    for i in items:
        table.add_row(str(i.id), i.status, i.kind, escape(i.reference), i.last_seen_at.strftime("%Y-%m-%d %H:%M"),
                      escape(i.reason), escape(f"{i.resolved_by}: {i.note}") if i.note else "")
    console.print(table if items else "nothing to review")


@review.command("resolve")
@click.argument("item_id", type=int)
@click.option("--note", required=True, help="What was done or decided.")
@click.option("--who", default=lambda: os.environ.get("USER", "someone"), show_default="$USER")
def review_resolve(item_id: int, note: str, who: str) -> None:
    from flows.review import resolve

    try:
        item = resolve(_settings().database_url, item_id, who=who, note=note)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"review item {item.id} ({item.kind} {item.reference}) resolved by {item.resolved_by}")


@main.group("import")
def import_() -> None:
    """Bring in what PayTrace has no API for."""


@import_.command("chargebacks")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_chargebacks(file: Path) -> None:
    """A CSV of chargeback cases (case_id, transaction_id, amount, reason, date): each posted once.

    Every row is checked first; bad rows are listed with their line and reason and nothing of
    theirs is stored; good rows are stored (a case seen before is a repeat) and sent to the
    workers, or left for the sweeper when the broker cannot be reached.
    """
    import csv

    from marshmallow import ValidationError

    from db.inbox import mark_enqueued, store_event
    from schemas.events import ChargebackSchema
    from schemas.masking import keyed_id, mask_text

    settings = _settings(broker=True)
    good, bad = [], []
    with open(file, newline="", encoding="utf-8-sig") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            row = {k: v for k, v in row.items() if v != "" or k in ("case_id", "transaction_id", "amount")}
            try:
                good.append((row, ChargebackSchema().load(row)))
            except ValidationError as exc:
                bad.append((line, exc.normalized_messages()))
    for line, errors in bad:
        console.print(f"[red]line {line}[/]: {escape(mask_text(str(errors)))}")
    stored = repeats = 0
    for raw, case in good:
        # The case id is the key, as at the ingress: one with a card-like number is masked and HMAC-keyed.
        event_id = keyed_id(f"cb:{case['case_id']}", settings.id_hash_key.reveal().encode())
        inbox_id, created = store_event(settings.database_url, source="chargeback", event_id=event_id,
                                        event_type="chargeback", transaction_id=case["transaction_id"], payload=raw)
        if not created:
            repeats += 1
            continue
        stored += 1
        try:
            from config.celery import send_ingest

            send_ingest(inbox_id)
            mark_enqueued(settings.database_url, inbox_id)
        except Exception as exc:  # stored: the sweeper sends it; say so rather than fail the import
            console.print(f"case {escape(mask_text(case['case_id']))}: stored, queued later by the sweeper "
                          f"({type(exc).__name__})")
    console.print(f"{stored} chargebacks stored, {repeats} seen before, {len(bad)} rows refused")
    sys.exit(1 if bad else 0)


@main.group()
def customers() -> None:
    """Customers both ways between the PayTrace vault and the ERP (docs/mapping.md, `customers`)."""


@customers.command("sync")
@click.option("--pair", default=None, help="The integration pair to sync (default: this deployment's).")
def customers_sync(pair: str | None) -> None:
    """Sync vault profiles and ERP customers now, in this process, and show what was done."""
    from flows.customers import sync_customers
    from workers.context import build_context

    settings = _settings()
    try:
        settings = settings.for_pair(pair) if pair else settings
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    ctx = build_context(settings)
    try:
        report = sync_customers(ctx, pair=settings.pair)
    finally:
        ctx.erp.close()
        ctx.gateway.client.close()
    table = Table(title=f"Customer sync ({settings.pair}, {settings.erp})")
    table.add_column("outcome")
    table.add_column("customers", justify="right")
    for name, count in report.counts().items():
        table.add_row(name.replace("_", " "), str(count))
    console.print(table)
    for line in report.errors:
        console.print(f"[red]{escape(line)}[/]")
    sys.exit(1 if report.errors else 0)


@customers.command("resolve")
@click.argument("profile_id")
@click.option("--link", "link_to", default=None, help="Link the profile to this ERP customer id.")
@click.option("--separate", is_flag=True, help="Keep it apart: the next sync creates its own ERP customer.")
@click.option("--pair", default=None, help="The integration pair (default: this deployment's).")
@click.option("--who", default=lambda: os.environ.get("USER", "someone"), show_default="$USER")
def customers_resolve(profile_id: str, link_to: str | None, separate: bool, pair: str | None, who: str) -> None:
    """Settle a duplicate the customer sync put on the review list."""
    from flows.customer_links import settle_duplicate

    if bool(link_to) == separate:
        raise click.UsageError("give exactly one of --link ERP_ID or --separate")
    settings = _settings()
    try:
        outcome = settle_duplicate(settings.database_url, pair or settings.pair, profile_id, link_to=link_to,
                                   who=who)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"profile {escape(profile_id)}: {escape(outcome)}")


@main.group()
def recurring() -> None:
    """Recurring billing: ERP invoices falling due, charged to the customer's PayTrace profile once."""


@recurring.command("run")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Charge what is due on or before this merchant-local day (default: today).")
@click.option("--pair", default=None, help="The integration pair to bill (default: this deployment's).")
def recurring_run(day, pair: str | None) -> None:
    """Charge the invoices due now, in this process, and show what was done (a re-run charges nothing twice)."""
    from flows.recurring import run_recurring
    from workers.context import build_context, enqueue_ingest
    from workers.recurring_tasks import merchant_today

    settings = _settings()
    try:
        settings = settings.for_pair(pair) if pair else settings
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    when = day.date() if day else merchant_today(settings)
    ctx = build_context(settings)
    try:
        report = run_recurring(ctx, when, pair=settings.pair, enqueue=enqueue_ingest if settings.redis_url else None)
    finally:
        ctx.erp.close()
        ctx.gateway.client.close()
    if not report.enabled:
        console.print(report.note)
        return
    lines = Table(title=f"Recurring billing for {when} ({settings.pair}, {settings.erp})")
    for col in ("invoice", "customer", "amount", "attempt", "outcome", "detail"):
        lines.add_column(col, justify="right" if col in ("amount", "attempt") else "left")
    for l in report.lines:
        lines.add_row(escape(l.reference or l.invoice_key), escape(l.customer_id), str(l.amount or ""),
                      str(l.attempt or ""), l.outcome.replace("_", " "), escape(l.detail))
    console.print(lines if report.lines else f"nothing due on or before {when} for a customer with a profile")
    console.print(", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.counts.items() if n) or "nothing done")
    if report.in_doubt:
        console.print(f"[yellow]{len(report.in_doubt)} charge(s) in doubt[/]: run again later; nothing is charged "
                      "twice")
    sys.exit(1 if report.counts["failed"] or report.in_doubt else 0)


@main.group()
def mapping() -> None:
    """Mapping files: the rules that turn PayTrace records into ERP documents (docs/mapping.md)."""


@mapping.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--samples", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A JSON file of PayTrace export records to translate.")
@click.option("--sandbox", "sandbox_count", type=int, default=4, show_default=True,
              help="Without --samples: make this many sales on a private PayTrace sandbox and translate them.")
def mapping_check(file: Path, samples: Path | None, sandbox_count: int) -> None:
    """Validate FILE, then show the exact ERP documents it would write (a dry run: nothing is posted)."""
    from cli.mapping import check, load_samples, sandbox_samples

    if samples:
        load_json_file(samples)  # a malformed file is one line naming where, not a traceback
    try:
        records = load_samples(samples) if samples else sandbox_samples(sandbox_count)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    sys.exit(check(file, records, console))


@mapping.command("suggest")
@click.argument("paytrace_record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("erp_entity", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--min-score", default=50, show_default=True)
def mapping_suggest(paytrace_record: Path, erp_entity: Path, min_score: int) -> None:
    """Propose field matches between a PayTrace record and an ERP entity (JSON files), scored."""
    from cli.mapping_suggest import suggest

    suggest(load_json_file(paytrace_record), load_json_file(erp_entity), console, min_score=min_score)


from cli.console import console as _console  # noqa: E402  (the console's own commands live beside it)

main.add_command(_console, "console")


if __name__ == "__main__":
    main()
