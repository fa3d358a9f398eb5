"""Raw GraphQL Admin API calls, and the one place where Shopify's answers become errors.

Facts (shopify.dev): every call is `POST .../admin/api/<version>/graphql.json` with the token in
`X-Shopify-Access-Token`; 401/403 is a bad token or a missing scope, 404 an unknown version or
shop, 429 (with `Retry-After`) and 5xx are worth another try; a GraphQL answer is HTTP 200 even
when throttled: `errors[].extensions.code` THROTTLED, with `extensions.cost` saying how many
points the query needs (`requestedQueryCost`) and how fast they come back (`throttleStatus`:
`currentlyAvailable`, `restoreRate`), from which the wait is computed.
"""
from __future__ import annotations

from typing import Any

from connectors.errors import (ConfigurationError, ConnectorError, PermanentError, RateLimitedError,
                               RetriableError)
from connectors.http import HttpClient, retry_after_seconds
from connectors.shopify.config import ShopifyConfig

SYSTEM = "shopify"


class ShopifyClient:
    """GraphQL over HTTP to one shop; answers `data`, or raises from the error tree."""

    def __init__(self, config: ShopifyConfig) -> None:
        self.config = config
        base, _, path = config.endpoint.partition("/admin/")
        self.path = "/admin/" + path
        self.http = HttpClient(base, system=SYSTEM, timeout=config.timeout, retries=config.retries,
                               headers={"X-Shopify-Access-Token": config.access_token.reveal(),
                                        "Content-Type": "application/json"})

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, operation: str,
                idempotent: bool = False) -> dict[str, Any]:
        response = self.http.request("POST", self.path, operation=operation, idempotent=idempotent,
                                     json={"query": query, "variables": variables or {}})
        return answer(response, operation)

    def close(self) -> None:
        self.http.close()


def answer(response, operation: str) -> dict[str, Any]:
    """validate_response: the `data` of a good answer; otherwise the error the caller must act on."""
    kw = {"system": SYSTEM, "operation": operation, "status": response.status_code, "body": response.text}
    if response.status_code in (401, 403):
        return _raise(ConfigurationError("the Admin API refused the access token (or it lacks a scope)", **kw))
    if response.status_code == 404:
        return _raise(ConfigurationError("no such shop or API version", **kw))
    if response.status_code == 429:
        return _raise(RateLimitedError("Shopify asked to slow down", retry_after=retry_after_seconds(response), **kw))
    if response.status_code >= 500:
        return _raise(RetriableError(f"Shopify answered {response.status_code}",
                                     retry_after=retry_after_seconds(response), **kw))
    if response.status_code >= 300:
        return _raise(PermanentError(f"Shopify answered {response.status_code}", **kw))
    try:
        body = response.json()
    except ValueError:
        return _raise(RetriableError("Shopify answered something that is not JSON", **kw))
    errors = body.get("errors") or []
    if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
        return _raise(RateLimitedError("the shop's query-cost bucket is empty", retry_after=throttle_wait(body), **kw))
    if errors:
        text = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)[:300]
        return _raise(PermanentError(f"GraphQL refused the request: {text}", **kw))
    return body.get("data") or {}


def throttle_wait(body: dict[str, Any]) -> float:
    """Seconds until the bucket holds what the query asked for: (requested - available) / restore rate."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0)
    except (TypeError, ValueError):
        return 1.0
    return max(0.5, missing / rate) if rate > 0 else 1.0


def _raise(exc: ConnectorError):
    raise exc
