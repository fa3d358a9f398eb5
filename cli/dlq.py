"""`paysync dlq`: the dead letters (what failed for good, and why), shown and replayed."""
from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from cli.common import console, settings_or_exit
from cli.errors import CliError


@click.group()
def dlq() -> None:
    """Dead letters: what failed for good, why, and replay."""


@dlq.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed letters.")
def dlq_list(show_all: bool) -> None:
    from workers.deadletter import list_letters

    letters = list_letters(settings_or_exit().database_url, status=None if show_all else "open")
    table = Table(title="Dead letters")
    for col in ("id", "status", "when", "run", "step", "reason"):
        table.add_column(col)
    for l in letters:
        table.add_row(str(l.id), l.status, l.created_at.strftime("%Y-%m-%d %H:%M:%S"), str(l.run_id or ""),
                      l.step or "", escape(l.reason))  # a reason's [brackets] are text, not markup
    console.print(table if letters else "no dead letters")
    from flows.hints import dropped_count

    if dropped := dropped_count(settings_or_exit().database_url):
        console.print(f"{dropped} silent post(s) named a transaction PayTrace never showed: dropped, not dead-lettered")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    from workers.deadletter import get_letter

    letter = get_letter(settings_or_exit().database_url, letter_id)
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
    settings_or_exit(broker=True)
    from workers.replay import replay

    for letter_id in letter_ids:
        try:
            run_id = replay(letter_id)
        except (LookupError, ValueError) as exc:
            raise CliError(str(exc)) from None
        console.print(f"dead letter {letter_id}: run {run_id} sent again from its failed step")
