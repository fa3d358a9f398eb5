"""`paysync`: run the demo, migrate, and look after dead letters."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _settings():
    from config.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/]")
        sys.exit(2)


@click.group()
def main() -> None:
    """paysync: PayTrace payments into Sage, nothing lost, nothing twice."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")


@main.command()
@click.option("--sales", default=300, show_default=True, help="How many sales to make on the PayTrace sandbox.")
@click.option("--erp", type=click.Choice(["sage50", "sage_x3", "sage_pro"]), default="sage50", show_default=True,
              help="Which Sage ERP sandbox to sync into.")
@click.option("--home", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True,
              help="Where the demo keeps its SQLite file, logs and report (emptied first).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the sync to finish.")
def demo(sales: int, erp: str, home: Path, timeout: float) -> None:
    """Drive sales through sandboxes, ingress, poller and workers; show what the ERP holds."""
    from cli.demo import run_demo

    sys.exit(run_demo(sales, home.resolve(), console, timeout=timeout, erp=erp))


@main.command()
def migrate() -> None:
    """Bring the database (DATABASE_URL) to the newest schema."""
    from db.migrate import upgrade

    settings = _settings()
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
                      l.step or "", l.reason)
    console.print(table if letters else "no dead letters")


@dlq.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    from workers.deadletter import get_letter

    letter = get_letter(_settings().database_url, letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}")
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
    _settings()
    from workers.tasks import replay

    for letter_id in letter_ids:
        try:
            run_id = replay(letter_id)
        except (LookupError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        console.print(f"dead letter {letter_id}: run {run_id} sent again from its failed step")


if __name__ == "__main__":
    main()
