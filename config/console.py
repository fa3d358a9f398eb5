"""The operator's side, read once from the environment: the console and where alerts go, per pair.

Kept apart from config/settings.py (the posting side) so a change to who is told about a failure
never touches what is posted. Every bad key is reported at once, as Settings does.

    CONSOLE_URL              the address people open the console at (links in alerts point there)
    CONSOLE_BIND             where `paysync console` listens (127.0.0.1:8050)
    CONSOLE_SECRET_KEY       signs the session cookie; unset: a random key kept in <PAYSYNC_HOME>
    METRICS_TOKEN            when set, /metrics answers only with `Authorization: Bearer <token>`
    CONSOLE_SESSION_HOURS    how long a sign-in lasts (8)
    ALERT_WEBHOOK_URLS       Slack-compatible incoming webhooks, comma-separated
    ALERT_EMAIL_TO           addresses to email, comma-separated
    PAYSYNC_PAIR_<NAME>_ALERT_WEBHOOK_URLS / _ALERT_EMAIL_TO   the same for one pair (docs/pairs.md)
    SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM, SMTP_STARTTLS, SMTP_TIMEOUT
    ALERT_QUIET_SECONDS      the same alert is not sent again within this (3600)
    ALERT_MAX_PER_HOUR       at most this many alerts per pair per hour; the rest are counted (30)
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from environs import Env, EnvValidationError
from marshmallow.validate import Range

from config.settings import DEFAULT_HOME, Secret, SettingsError


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server alerts are sent through."""

    host: str
    port: int
    username: str
    password: Secret = field(repr=False)
    sender: str
    starttls: bool
    timeout: float


@dataclass(frozen=True)
class AlertRoute:
    """Who hears about one pair's alerts: webhooks and email addresses."""

    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleSettings:
    """The console and the alerts it links from."""

    url: str
    bind: str
    secret_key: Secret = field(repr=False)  # as given; session_key() makes one when it is empty
    session_hours: int
    smtp: SmtpSettings
    quiet_seconds: int
    max_per_hour: int
    routes: Mapping[str, AlertRoute] = field(default_factory=dict)  # by pair; "" is the default route
    metrics_token: Secret = field(default=Secret(""), repr=False)
    home: Path = DEFAULT_HOME

    def route_for(self, pair: str) -> AlertRoute:
        return self.routes.get(pair) or self.routes.get("", AlertRoute())

    def link(self, path: str) -> str:
        return f"{self.url.rstrip('/')}/{path.lstrip('/')}"


def _list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def session_key(settings: ConsoleSettings) -> Secret:
    """The key that signs session cookies: CONSOLE_SECRET_KEY, or one made once and kept in PAYSYNC_HOME."""
    if settings.secret_key:
        return settings.secret_key
    home = settings.home
    # One key for every console process on this machine, made once; a deployment of several
    # machines sets CONSOLE_SECRET_KEY so a session signed by one is valid on the others.
    path = home / "console-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".console-secret.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: the first process's key wins, whole
        except FileExistsError:
            pass  # another process made it first; use theirs
        finally:
            draft.unlink(missing_ok=True)
    return Secret(path.read_text().strip())


def load_console_settings(environ: Mapping[str, str] | None = None) -> ConsoleSettings:
    """Read and validate; raise SettingsError listing every bad key."""
    source = dict(os.environ if environ is None else environ)
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(source)
    try:
        env = Env(eager=False)
        home = Path(env.str("PAYSYNC_HOME", str(DEFAULT_HOME)))
        bind = env.str("CONSOLE_BIND", "127.0.0.1:8050")
        secret_key = env.str("CONSOLE_SECRET_KEY", "")
        smtp = SmtpSettings(
            host=env.str("SMTP_HOST", ""), port=env.int("SMTP_PORT", 25, validate=Range(min=1, max=65535)),
            username=env.str("SMTP_USERNAME", ""), password=Secret(env.str("SMTP_PASSWORD", "")),
            sender=env.str("SMTP_FROM", "paysync@localhost"), starttls=env.bool("SMTP_STARTTLS", False),
            timeout=env.float("SMTP_TIMEOUT", 10.0, validate=Range(min=0.5, max=120)))
        routes = {"": AlertRoute(_list(env.str("ALERT_WEBHOOK_URLS", "")), _list(env.str("ALERT_EMAIL_TO", "")))}
        for name in _list(source.get("PAYSYNC_PAIRS", "")):
            prefix = f"PAYSYNC_PAIR_{name.upper()}_"
            hooks, mails = source.get(prefix + "ALERT_WEBHOOK_URLS"), source.get(prefix + "ALERT_EMAIL_TO")
            if hooks is not None or mails is not None:
                routes[name] = AlertRoute(_list(hooks) if hooks is not None else routes[""].webhooks,
                                          _list(mails) if mails is not None else routes[""].emails)
        settings = ConsoleSettings(
            url=env.str("CONSOLE_URL", f"http://{bind}").rstrip("/"), bind=bind,
            secret_key=Secret(secret_key), session_hours=env.int("CONSOLE_SESSION_HOURS", 8, validate=Range(min=1, max=720)),
            smtp=smtp, quiet_seconds=env.int("ALERT_QUIET_SECONDS", 3600, validate=Range(min=0, max=7 * 86400)),
            max_per_hour=env.int("ALERT_MAX_PER_HOUR", 30, validate=Range(min=1, max=10000)), routes=routes,
            metrics_token=Secret(env.str("METRICS_TOKEN", "")), home=home)
        errors: dict[str, list[str]] = {}
        try:
            env.seal()
        except EnvValidationError as exc:
            errors.update({k: list(v) for k, v in exc.error_messages.items()})
        errors.update(_cross_checks(settings, source))
        if errors:
            raise SettingsError(errors)
        return settings
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cross_checks(s: ConsoleSettings, source: Mapping[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not s.url.startswith(("http://", "https://")):
        errors["CONSOLE_URL"] = [f"must be an http(s) URL, got {s.url!r}"]
    for pair, route in s.routes.items():
        prefix = f"PAYSYNC_PAIR_{pair.upper()}_" if pair else ""
        bad = [u for u in route.webhooks if not u.startswith(("http://", "https://"))]
        if bad:
            errors[prefix + "ALERT_WEBHOOK_URLS"] = [f"{len(bad)} address(es) are not http(s) URLs"]
        if any("@" not in m for m in route.emails):
            errors[prefix + "ALERT_EMAIL_TO"] = ["every entry must be an email address"]
        if route.emails and not s.smtp.host:
            errors["SMTP_HOST"] = ["required when ALERT_EMAIL_TO is set: the mail server alerts go through"]
    return errors


@lru_cache(maxsize=1)
def get_console_settings() -> ConsoleSettings:
    """The process's console settings, read on first use."""
    return load_console_settings()
