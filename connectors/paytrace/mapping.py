"""Pure functions between PayTrace's wire format and our errors and dates."""
from __future__ import annotations

from datetime import date

from connectors.errors import (ConfigurationError, ConnectorError, NotFoundError, PermanentError,
                               RateLimitedError, RetriableError, ValidationError)

SYSTEM = "paytrace"
# errors{} keys (paytrace.md §6 [C]) by what the caller must do.
_CONFIG_CODES = frozenset({"970", "971", "981", "998", "999"})
_NOT_FOUND_CODES = frozenset({"30", "58", "80", "811"})


def export_date(day: date) -> str:
    """PayTrace export dates are MM/DD/YYYY (paytrace.md §3 [C])."""
    return day.strftime("%m/%d/%Y")


def error_for(body: dict | None, *, status: int, operation: str, text: str = "",
              retry_after: float | None = None) -> ConnectorError:
    """Turn a PayTrace answer that is not a success into the error that says what to do."""
    kw = {"system": SYSTEM, "operation": operation, "status": status, "body": text}
    if status == 429:
        return RateLimitedError("rate limited", retry_after=retry_after, **kw)
    if status >= 500 or body is None:
        return RetriableError(f"unexpected answer (HTTP {status})", retry_after=retry_after, **kw)
    if "error" in body and "success" not in body:
        if body.get("error") == "invalid_grant":
            return ConfigurationError("log in refused (invalid_grant): check PAYTRACE_USERNAME/PASSWORD", **kw)
        return RetriableError(f"OAuth error {body.get('error')}", **kw)
    errors = body.get("errors") or {}
    codes = set(map(str, errors))
    messages = "; ".join(f"{code}: {' '.join(map(str, msgs))}" for code, msgs in errors.items())
    messages = messages or str(body.get("status_message") or "not successful")
    if codes & _CONFIG_CODES:
        return ConfigurationError(messages, **kw)
    if codes & _NOT_FOUND_CODES:
        return NotFoundError(messages, **kw)
    if codes:
        return ValidationError(messages, field=",".join(sorted(codes)), **kw)
    return PermanentError(f"response_code {body.get('response_code')}: {messages}", **kw)
