"""What every `paysync` command shares: the terminal it prints to, and the settings it runs with."""
from __future__ import annotations

import sys

import click
from rich.console import Console

from cli.errors import require_schema

console = Console()


def settings_or_exit(*, schema: bool = True, broker: bool = False):
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
