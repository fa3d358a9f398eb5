"""One error tree for every connector, grouped by what the caller does about it.

    ConnectorError                 system, operation, status, scrubbed body, request id
    ├── RetriableError             try again later: network, 5xx, 429, record locked, licence busy
    │   └── RateLimitedError       the server asked us to slow down (honour retry_after)
    ├── PermanentError             a person must act: validation, unknown item, bad config
    │   ├── ValidationError        the ERP refused a field (carries `field`)
    │   ├── NotFoundError          the record we need does not exist
    │   └── ConfigurationError     credentials, integrator id, URL
    └── SkippableError             nothing to do: already applied

Workers retry RetriableError with backoff (bounded), dead-letter PermanentError at once, and
treat SkippableError as done. Anything else is a bug and is dead-lettered with its type.
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
