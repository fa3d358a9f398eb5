"""Every `paysync` error is one line saying what to do, with exit status 2, never a traceback."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_USAGE = 2


class CliError(click.ClickException):
    """A mistake the operator fixes; shown as one line, exit status 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:
        click.echo(f"paysync: {self.format_message()}", err=True)


def safe_url(url: str | None) -> str:
    """A URL without its password, for a message."""
    if not url:
        return "(not set)"
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    auth, at, host = rest.rpartition("@")
    return f"{scheme}://{auth.split(':')[0]}@{host}" if at else url


def _settings_or_none():
    from config.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError:
        return None


def _service_url(system: str) -> tuple[str, str]:
    """The address and the setting of an outside system named by a ConnectorError."""
    s = _settings_or_none()
    keys = {"paytrace": ("PAYTRACE_BASE_URL", lambda: s.paytrace.base_url),
            "sage50": ("SAGE50_BASE_URL", lambda: s.sage50.base_url),
            "sage_x3": ("SAGEX3_BASE_URL", lambda: s.sage_x3.base_url),
            "sage_pro": ("SAGEPRO_DATABASE_URL", lambda: safe_url(s.sage_pro.database_url))}
    key, url = keys.get(system.split(".")[0].lower().replace("-", "_"), ("", lambda: ""))
    try:
        return (url() if s else "(settings unreadable)"), key
    except AttributeError:
        return "", key


def explain(exc: BaseException) -> str | None:
    """The one line for an error an operator can fix, or None for a bug (which keeps its traceback)."""
    import redis
    import requests
    from kombu.exceptions import OperationalError as BrokerError
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from config.mapping import MappingError
    from config.settings import SettingsError
    from connectors.errors import ConnectorError

    s = _settings_or_none()
    if isinstance(exc, SettingsError):
        return str(exc)
    if isinstance(exc, MappingError):
        return f"{exc}".splitlines()[0] + " (run `paysync mapping check FILE` for every error)"
    missing_table = ("no such table", "no such column", "UndefinedTable", "UndefinedColumn", "relation \"")
    if isinstance(exc, (ProgrammingError, OperationalError)) and any(m in str(exc) for m in missing_table):
        # an older schema than this code (or none): the remedy is the same
        return (f"the database at {safe_url(s.database_url if s else None)} has no paysync tables: "
                "run `paysync migrate` first")
    if isinstance(exc, OperationalError):
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:160]
        return (f"cannot reach the database at {safe_url(s.database_url if s else None)} ({reason}): "
                "check DATABASE_URL and that the server runs")
    if isinstance(exc, (redis.RedisError, BrokerError)):
        return (f"cannot reach Redis at {safe_url(s.redis_url if s else None)} ({type(exc).__name__}): "
                "check REDIS_URL and that Redis runs")
    if isinstance(exc, ConnectorError):
        url, key = _service_url(exc.system)
        hint = f"check {key} and the credentials" if key else "check its settings"
        return f"{exc.system or 'a service'} at {url or '?'} failed: {exc.message[:200]}; {hint}"
    if isinstance(exc, requests.RequestException):
        url = getattr(getattr(exc, "request", None), "url", None) or "?"
        return f"cannot reach {url.split('?')[0]} ({type(exc).__name__}): check the address and that it runs"
    return None


def load_json_file(path: Path):
    """A JSON file's content, or a CliError naming the file and where it stops being JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def require_schema(url: str) -> None:
    """A database that exists and has been migrated; never create one by reading it."""
    from sqlalchemy import inspect

    from db.session import get_engine

    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            raise CliError(f"no paysync database at {path}: run `paysync migrate` first (or set DATABASE_URL)")
    with get_engine(url).connect() as conn:  # an unreachable server is explained by PaysyncGroup
        if not inspect(conn).has_table("alembic_version"):
            raise CliError(f"the database at {safe_url(url)} has no paysync tables: run `paysync migrate` first")


class PaysyncGroup(click.Group):
    """The top `paysync` group: an operator's mistake ends in one line and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            line = explain(exc)
            if line is None:
                raise
            click.echo(f"paysync: {line}", err=True)
            sys.exit(EXIT_USAGE)
