"""Raw calls to the Sage 50 bridge agent, and its error policy as a table."""
from __future__ import annotations

from typing import Any, Iterator

from connectors.errors import (ConfigurationError, ConnectorError, NotFoundError, PermanentError,
                               RateLimitedError, RetriableError, SkippableError, ValidationError)
from connectors.http import HttpClient, retry_after_seconds
from connectors.sage50.config import Sage50Config

SYSTEM = "sage50"
#: Items asked for per list page; the bridge answers at most 500 (docs "Lists: filters and paging").
PAGE_SIZE = 100

# HTTP status -> (error class, who acts). docs/sage50-bridge-api.md "Errors".
ERROR_POLICY: dict[int, type[ConnectorError]] = {
    400: PermanentError,        # malformed: our bug or a bad mapping
    401: ConfigurationError,    # api key
    404: NotFoundError,
    409: SkippableError,        # the ID exists already: read it back
    422: ValidationError,       # the SDK refused a field (unknown item, overpayment, ...)
    423: RetriableError,        # RecordInUseException: someone has the record open in Sage 50
    429: RateLimitedError,
}


def route_of(operation: str) -> str:
    """"GET /v1/customers/C1/status" -> "GET /v1/customers/{id}/status": the bridge's routes are
    /v1/<collection>[/<key>[/<action>]] (docs/sage50-bridge-api.md)."""
    method, _, path = operation.partition(" ")
    parts = path.split("/")  # "", "v1", collection, key, action
    if len(parts) > 3:
        parts[3] = "{id}"
    return f"{method} {'/'.join(parts)}"


class Sage50Client:
    """HTTP to one bridge agent; answers parsed JSON or raises from the error tree."""

    def __init__(self, config: Sage50Config) -> None:
        self.http = HttpClient(config.base_url, system=SYSTEM, timeout=config.timeout, retries=config.retries,
                               headers={"Authorization": f"Bearer {config.api_key.reveal()}"})

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        return self._send("GET", path, params=params)

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a bridge list, one bounded page at a time, following `next_cursor`."""
        query = {**(params or {}), "limit": PAGE_SIZE}
        seen: set[str] = set()
        while True:
            answer = self.get(path, params=query)
            yield from answer.get("items", [])
            cursor = answer.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:  # a bridge bug must not become an endless loop
                raise PermanentError(f"the bridge repeated list cursor {cursor!r}", system=SYSTEM,
                                     operation=f"GET {path}")
            seen.add(cursor)
            query["cursor"] = cursor

    def post(self, path: str, body: dict) -> dict:
        return self._send("POST", path, json=body)

    def put(self, path: str, body: dict) -> dict:
        return self._send("PUT", path, json=body)

    def patch(self, path: str, body: dict) -> dict:
        return self._send("PATCH", path, json=body)

    def _send(self, method: str, path: str, **kwargs: Any) -> dict:
        operation = f"{method} {path.split('?')[0]}"
        # A PATCH here only sets note fields to a value: sending it twice is harmless. The metrics see
        # the route, not the record: /v1/customers/{id}, so their labels stay few.
        response = self.http.request(method, path, operation=route_of(operation),
                                     idempotent=method in ("GET", "PUT", "PATCH"),
                                     **kwargs)
        if response.status_code < 300:
            return response.json()
        raise self.error(response, operation)

    @staticmethod
    def error(response, operation: str) -> ConnectorError:
        """validate_response: one place where a bridge answer becomes an error."""
        try:
            err = (response.json() or {}).get("error") or {}
        except ValueError:
            err = {}
        kind = err.get("type") or "HTTP"
        message = f"{kind}: {err.get('message') or response.reason}"
        kw = {"system": SYSTEM, "operation": operation, "status": response.status_code, "body": response.text}
        cls = ERROR_POLICY.get(response.status_code)
        if cls is None:
            cls = RetriableError if response.status_code >= 500 else PermanentError
        if issubclass(cls, RetriableError):
            return cls(message, retry_after=retry_after_seconds(response), **kw)
        if cls is ValidationError:
            return ValidationError(message, field=err.get("field"), **kw)
        return cls(message, **kw)

    def close(self) -> None:
        self.http.close()
