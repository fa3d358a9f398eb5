"""`paysync customers`: the two-way customer sync run now, and duplicates on the review list settled."""
from __future__ import annotations

import os
import sys

import click
from rich.markup import escape
from rich.table import Table

from cli.common import console, settings_or_exit
from cli.errors import CliError


@click.group()
def customers() -> None:
    """Customers both ways between the PayTrace vault and the ERP (docs/mapping.md, `customers`)."""


@customers.command("sync")
@click.option("--pair", default=None, help="The integration pair to sync (default: this deployment's).")
def customers_sync(pair: str | None) -> None:
    """Sync vault profiles and ERP customers now, in this process, and show what was done."""
    from flows.customers import sync_customers
    from workers.context import build_context

    settings = settings_or_exit()
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
    settings = settings_or_exit()
    try:
        outcome = settle_duplicate(settings.database_url, pair or settings.pair, profile_id, link_to=link_to,
                                   who=who)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"profile {escape(profile_id)}: {escape(outcome)}")
