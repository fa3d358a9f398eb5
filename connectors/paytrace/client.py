"""Raw PayTrace v1 calls: bearer token cached and renewed, integrator_id on every call.

Every v1 call is a POST with a JSON body; success is decided by `success` and `response_code`,
never by the HTTP status, and errors by the `errors` object (paytrace.md §§1, 6 [C]). Declines
and errors probably come back as HTTP 400 with a JSON body [I], so any JSON body is read.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from connectors.errors import PermanentError, RetriableError
from connectors.http import HttpClient, retry_after_seconds
from connectors.paytrace.config import TOKEN_RENEW_MARGIN_SECONDS, PayTraceConfig
from connectors.paytrace.mapping import SYSTEM, error_for


class PayTraceClient:
    """Speaks the PayTrace v1 JSON API for one account."""

    def __init__(self, config: PayTraceConfig, *, clock=time.monotonic) -> None:
        self.config = config
        self.http = HttpClient(config.base_url, system=SYSTEM, timeout=config.timeout, retries=config.retries)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self.token_grants = 0

    # -- authentication -------------------------------------------------------------------
    def _fetch_token(self) -> None:
        response = self.http.request(
            "POST", "/oauth/token", operation="oauth/token", idempotent=True,
            data={"grant_type": "password", "username": self.config.username,
                  "password": self.config.password.reveal()},
        )
        body = _json(response)
        if response.status_code != 200 or not body or "access_token" not in body:
            raise error_for(body, status=response.status_code, operation="oauth/token",
                            text=response.text, retry_after=retry_after_seconds(response))
        ttl = float(body.get("expires_in") or 7200)
        self._token = body["access_token"]
        self._token_expires = self._clock() + ttl - min(TOKEN_RENEW_MARGIN_SECONDS, ttl / 2)
        self.token_grants += 1

    def _bearer(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or self._clock() >= self._token_expires:
                self._fetch_token()
            return self._token  # type: ignore[return-value]

    # -- calls ----------------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any] | None = None, *, idempotent: bool = False) -> dict:
        """POST `body` (plus integrator_id) to `/v1/<path>`; the parsed body on success."""
        payload = {**(body or {}), "integrator_id": self.config.integrator_id}
        operation = path.strip("/")
        for renewed in (False, True):
            token = self._bearer(renew=renewed)
            response = self.http.request(
                "POST", f"/v1/{operation}", operation=operation, idempotent=idempotent, json=payload,
                headers={"Authorization": f"Bearer {token}"},
            )
            data = _json(response)
            if data and data.get("error") == "invalid_token" and not renewed:
                continue  # the token died early (revoked, clock skew): log in again, once
            if data and data.get("success") is True:
                return data
            raise error_for(data, status=response.status_code, operation=operation,
                            text=response.text, retry_after=retry_after_seconds(response))
        raise RetriableError("token refused twice", system=SYSTEM, operation=operation)

    def transact(self, path: str, body: dict[str, Any]) -> dict:
        """A money call (sale, refund, ...): the body when approved *or declined*, else an error.

        A decline is an answer, not a failure: it carries a transaction_id and is exported.
        """
        try:
            return self.call(path, body)
        except PermanentError as exc:
            data = _json_text(exc.body)
            if data and data.get("transaction_id") and data.get("response_code") in DECLINE_CODES:
                return data
            raise

    def close(self) -> None:
        self.http.close()


#: Not approved, but a real transaction (paytrace.md §6 [C]: MOQUI's declined list).
DECLINE_CODES = frozenset({102, 103, 105, 107, 110, 113, 125})


def _json_text(text: str | None) -> dict | None:
    import json

    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _json(response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
