"""`paysync review`: the review list of what a person must look at, and what they decided."""
from __future__ import annotations

import os

import click
from rich.markup import escape
from rich.table import Table

from cli.common import console, settings_or_exit
from cli.errors import CliError


@click.group()
def review() -> None:
    """The review list: everything a person must look at, and what they decided."""


@review.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved items.")
@click.option("--kind", default=None, help="Only kinds starting with this, e.g. reconcile.")
def review_list(show_all: bool, kind: str | None) -> None:
    from flows.review import list_items

    items = list_items(settings_or_exit().database_url, status=None if show_all else "open", kind=kind)
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
        item = resolve(settings_or_exit().database_url, item_id, who=who, note=note)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"review item {item.id} ({item.kind} {item.reference}) resolved by {item.resolved_by}")
