"""The rules that tie settings together; each names the key to change."""
from __future__ import annotations

import base64
import binascii
import ipaddress
import zoneinfo

from config.settings_model import DEMO_ID_HASH_KEY, Settings


def cross_checks(s: Settings) -> dict[str, list[str]]:
    """Rules that tie keys together; each names the key to change."""
    errors: dict[str, list[str]] = {}
    # A key environs refused reads as None and is listed already: rules that need it wait for it.
    timing = (s.retry_backoff_base, s.retry_backoff_max, s.task_time_limit, s.visibility_timeout,
              s.sweep_stall_seconds)
    if None not in timing:
        errors.update(_timing_checks(s))
    if s.mode == "production":
        key = s.id_hash_key.reveal()
        if key and (len(key) < 16 or key == DEMO_ID_HASH_KEY):
            errors["PAYSYNC_ID_HASH_KEY"] = ["must be a secret of 16 or more characters (e.g. "
                                             "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"]
        elif not key:
            errors["PAYSYNC_ID_HASH_KEY"] = ["required in production: the key that hashes ids carrying card-like "
                                             "numbers (16+ random characters)"]
    for cidr in s.silent_post_allow:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.setdefault("SILENT_POST_ALLOW", []).append(f"not an address or network: {cidr!r}")
    try:
        parse_rate(s.silent_post_rate_limit)
    except ValueError as exc:
        errors["SILENT_POST_RATE_LIMIT"] = [str(exc)]
    for key, rate in (("ERP_RATE_LIMIT", s.erp_rate_limit), ("PAYTRACE_RATE_LIMIT", s.paytrace_rate_limit)):
        if rate is not None and rate.strip() != "0":
            try:
                parse_rate(rate)
            except ValueError as exc:
                errors[key] = [f"{exc}, or 0 for no limit"]
    return errors | _address_checks(s)


def parse_rate(text: str) -> tuple[int, int]:
    """"60/minute" -> (60, 60): how many requests per how many seconds."""
    count, _, per = text.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}.get(per.strip().lower().rstrip("s"))
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"must read like 60/minute (a count per second, minute, hour or day), got {text!r}")
    return int(count), seconds


def _timing_checks(s: Settings) -> dict[str, list[str]]:
    """Retry, lease and sweep times that must fit inside each other."""
    errors: dict[str, list[str]] = {}
    longest_wait = s.retry_backoff_max + s.task_time_limit
    if s.visibility_timeout <= longest_wait:
        # A countdown longer than the visibility timeout makes Redis deliver the task again
        # while it still waits (celery#2599): keep every countdown well inside it.
        errors["VISIBILITY_TIMEOUT"] = [
            f"must exceed RETRY_BACKOFF_MAX + TASK_TIME_LIMIT ({longest_wait:g} s), got {s.visibility_timeout}"
        ]
    if s.sweep_stall_seconds <= s.retry_backoff_max + s.task_time_limit:
        errors["SWEEP_STALL_SECONDS"] = [
            "must exceed RETRY_BACKOFF_MAX + TASK_TIME_LIMIT so the sweeper never races a waiting retry"
        ]
    if s.live_message_ttl_seconds is not None and s.live_message_ttl_seconds <= s.visibility_timeout:
        # Shorter, a message a killed worker holds loses its marker before Redis hands it out again.
        errors["LIVE_MESSAGE_TTL_SECONDS"] = [
            f"must exceed VISIBILITY_TIMEOUT ({s.visibility_timeout}), got {s.live_message_ttl_seconds}"]
    if s.retry_backoff_base > s.retry_backoff_max:
        errors["RETRY_BACKOFF_BASE"] = ["must not exceed RETRY_BACKOFF_MAX"]
    return errors


def _address_checks(s: Settings) -> dict[str, list[str]]:
    """Addresses, names and secrets that must have the right shape."""
    errors: dict[str, list[str]] = {}
    if (s.reconcile_fee_rate or s.reconcile_fee_fixed) and not s.reconcile_fee_account:
        errors["RECONCILE_FEE_ACCOUNT"] = ["required when RECONCILE_FEE_RATE or RECONCILE_FEE_FIXED is set"]
    try:
        zoneinfo.ZoneInfo(s.merchant_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["MERCHANT_TIMEZONE"] = [f"unknown time zone {s.merchant_timezone!r}"]
    urls = {"PAYTRACE_BASE_URL": s.paytrace.base_url, "SAGE50_BASE_URL": s.sage50.base_url,
            "SAGEX3_BASE_URL": s.sage_x3.base_url}
    erp_url = {"sage50": "SAGE50_BASE_URL", "sage_x3": "SAGEX3_BASE_URL"}
    for key, url in urls.items():
        if key in erp_url.values() and erp_url.get(s.erp) != key and not url:
            continue  # another ERP's address, left blank (docker-compose passes every key): not used
        if not url.startswith(("http://", "https://")):
            errors[key] = [f"must be an http(s) URL, got {url!r}"]
    if s.database_url and not s.database_url.startswith(("sqlite", "postgresql")):
        errors["DATABASE_URL"] = ["must be a sqlite:// or postgresql:// URL"]
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        errors["REDIS_URL"] = ["must be a redis://, rediss:// or unix:// URL"]
    for number, secret in enumerate(s.webhook_secrets, 1):
        raw = secret.reveal()[len("whsec_"):] if secret.startswith("whsec_") else None
        try:
            key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True) if raw is not None else b""
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 16:
            # Which one, never its value: the error is printed and logged.
            errors.setdefault("WEBHOOK_SECRETS", []).append(
                f"secret #{number} is not a Standard Webhooks secret (whsec_ and base64 of 16+ random bytes)")
    return errors
