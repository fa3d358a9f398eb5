"""`paysync`: the top command (demo, doctor, migrate, mapping); every other group is added from its own module."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from cli.common import console, settings_or_exit
from cli.console import console as _console
from cli.customers import customers
from cli.dlq import dlq
from cli.errors import CliError, PaysyncGroup, load_json_file
from cli.imports import import_
from cli.reconcile import reconcile
from cli.recurring import recurring
from cli.review import review


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

    settings = settings_or_exit(schema=False)
    upgrade(settings.database_url)
    console.print("database is at the newest schema")


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


# Each command group lives in its own module; the console's beside the web console it runs.
for _command in (dlq, reconcile, review, import_, customers, recurring):
    main.add_command(_command)
main.add_command(_console, "console")


if __name__ == "__main__":
    main()
