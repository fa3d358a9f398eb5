"""Every house exception of paysync, in one tree grouped by what the caller does about it.

    ConnectorError                 system, operation, status, scrubbed body, request id
    ├── RetriableError             try again later: network, 5xx, 429, record locked, licence busy
    │   ├── RateLimitedError       the server asked us to slow down (honour retry_after)
    │   ├── StepBusy               another live worker holds the step's claim (bounded by its lease)
    │   │   └── PartnerPending     a store payment waits for its order (bounded by the mapping's window)
    │   └── ChargeInDoubt          PayTrace did not answer a charge: ask it before charging again
    ├── PermanentError             a person must act: validation, unknown item, bad config
    │   ├── ValidationError        the ERP refused a field (carries `field`)
    │   ├── NotFoundError          the record we need does not exist
    │   └── ConfigurationError     credentials, integrator id, URL
    │       ├── SettingsError      the environment (every bad key, `errors`)
    │       ├── MappingError       a mapping file (every mistake with its path, `errors`)
    │       └── UnmappableError    a transaction the mapping cannot translate (`path`: the key to change)
    └── SkippableError             nothing to do: already applied
    RunFinished                    not an error: the run needs no more steps (declined, parked, done)

What a task does with each is one table, workers/policy.py: retry with backoff (bounded), wait
out a lease, dead-letter at once, skip, or stop the chain. Anything else is a bug and is
dead-lettered with its type. This module imports nothing of paysync's but the masking, so every
layer (config included) may raise from it.
"""
from __future__ import annotations

from schemas.masking import mask_text

_BODY_LIMIT = 500


class ConnectorError(Exception):
    """An error talking to an outside system."""

    def __init__(self, message: str, *, system: str = "", operation: str = "", status: int | None = None,
                 body: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.operation = operation
        self.status = status
        self.body = mask_text(body[:_BODY_LIMIT]) if body else None
        self.request_id = request_id

    def __str__(self) -> str:
        where = " ".join(p for p in (self.system, self.operation) if p)
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{where}: {self.message}{status}" if where else self.message

    def context(self) -> dict:
        """What a dead letter keeps of this error."""
        return {"system": self.system, "operation": self.operation, "status": self.status,
                "body": self.body, "request_id": self.request_id, "type": type(self).__name__}


class RetriableError(ConnectorError):
    """Try again later; `retry_after` is the server's own hint in seconds, if it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimitedError(RetriableError):
    """HTTP 429 or the like: slow down."""


class PermanentError(ConnectorError):
    """Retrying cannot help; a person or a mapping change must."""


class ValidationError(PermanentError):
    """The other side refused a field of our document."""

    def __init__(self, message: str, *, field: str | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.field = field

    def context(self) -> dict:
        return {**super().context(), "field": self.field}


class NotFoundError(PermanentError):
    """The record we were told about does not exist."""


class ConfigurationError(PermanentError):
    """Our credentials, ids or URLs are wrong."""


class SkippableError(ConnectorError):
    """The work is already done; nothing to post."""


class StepBusy(RetriableError):
    """Another live process is running this step right now; come back when its lease runs out."""


class PartnerPending(StepBusy):
    """A payment waits for the store order it names; bounded by the mapping's window, not the retry budget."""


class ChargeInDoubt(RetriableError):
    """PayTrace did not answer a charge (timeout, lost connection): it may or may not have happened.

    The recurring charge row stays `charging`; the next run asks PayTrace by invoice id first.
    """


class _ConfigError(ConfigurationError, ValueError):
    """A mistake in paysync's own configuration: its text is the whole story, without a system prefix."""

    def __str__(self) -> str:
        return self.message


class SettingsError(_ConfigError):
    """The environment is not a valid configuration; `errors` maps each bad key to its reasons."""

    def __init__(self, errors) -> None:
        self.errors = dict(errors)
        lines = [f"{key}: {'; '.join(msgs)}" for key, msgs in sorted(self.errors.items())]
        text = f"invalid paysync configuration: {lines[0]}" if len(lines) == 1 else \
            "invalid paysync configuration:\n" + "\n".join(f"  {line}" for line in lines)  # one mistake, one line
        super().__init__(text, system="paysync", operation="settings")
        self.key = ", ".join(sorted(self.errors))


class MappingError(_ConfigError):
    """A mapping file (or a directory of them) is not valid; `errors` holds one line per mistake."""

    def __init__(self, source, errors) -> None:
        self.source = str(source)
        self.errors = tuple(errors)
        count = len(self.errors)
        super().__init__(f"invalid mapping {self.source} ({count} error{'s' if count != 1 else ''}):\n"
                         + "\n".join(f"  {line}" for line in self.errors), system="paysync", operation="mapping")


class UnmappableError(_ConfigError):
    """A transaction this mapping cannot translate (no rate, unknown country, ...); `path` is the key to change."""

    def __init__(self, message: str, path: str) -> None:
        self.path = path
        super().__init__(f"{message} (mapping key {path})", system="paysync", operation="mapping")


class RunFinished(Exception):
    """Not a failure: the run needs no more steps (declined, parked, already done); the chain stops here."""
