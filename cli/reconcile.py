"""`paysync reconcile`: a day's settled batches reconciled now, and the run shown as tables."""
from __future__ import annotations

import click
from rich.table import Table

from cli.common import console, settings_or_exit
from cli.errors import CliError


@click.command()
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

    settings = settings_or_exit()
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
    from db.reconcile_models import ReconcileRun
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
