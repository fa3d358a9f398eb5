"""`paysync console`: run the operator's console, and `paysync console user add` to let someone in."""
from __future__ import annotations

import os
import sys

import click


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _settings():
    from config.console import get_console_settings
    from config.settings import SettingsError, get_settings

    try:
        return get_settings(), get_console_settings()
    except SettingsError as exc:
        _fail(str(exc))


@click.group(invoke_without_command=True)
@click.option("--bind", default=None, help="host:port to listen on (default: CONSOLE_BIND, 127.0.0.1:8050).")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.pass_context
def console(ctx: click.Context, bind: str | None, workers: int) -> None:
    """The operator's web console: find a payment, replay dead letters, resolve review items."""
    if ctx.invoked_subcommand is not None:
        return
    settings, console_settings = _settings()
    from db.migrate import upgrade

    upgrade(settings.database_url)
    bind = bind or console_settings.bind
    click.echo(f"paysync console on http://{bind} (sign in with a user from `paysync console user add`)")
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-b", bind, "-w", str(workers),
                               "--access-logfile", "-", "console.app:wsgi_app()"])


@console.group()
def user() -> None:
    """Console users: who may sign in, as viewer or operator."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), default="viewer", show_default=True,
              help="viewer reads everything; operator also replays dead letters and resolves review items.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is asked for twice (or read from stdin) and kept only as a hash."""
    from console.auth import UserError, add_user
    from db.migrate import upgrade

    settings, _ = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    upgrade(settings.database_url)
    try:
        add_user(settings.database_url, name, role, password)
    except UserError as exc:
        _fail(str(exc))
    click.echo(f"user {name} ({role}) can now sign in to the console")
