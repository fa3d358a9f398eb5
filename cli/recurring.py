"""`paysync recurring`: ERP invoices falling due charged now to the customer's PayTrace profile."""
from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from cli.common import console, settings_or_exit
from cli.errors import CliError


@click.group()
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

    settings = settings_or_exit()
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
