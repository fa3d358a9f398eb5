"""Raw PayTrace v1 calls: bearer token cached and renewed, integrator_id on every call.

Every v1 call is a POST with a JSON body; success is decided by `success` and `response_code`,
never by the HTTP status, and errors by the `errors` object (paytrace.md §§1, 6 [C]). Declines
and errors probably come back as HTTP 400 with a JSON body [I], so any JSON body is read.
"""
from __future__ import annotations

import io
import threading
import time
from typing import Any, Iterator

import ijson
import requests
import urllib3

from connectors.errors import PermanentError, RetriableError
from connectors.http import HttpClient, retry_after_seconds
from connectors.paytrace.blocks import record_blocks
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

    def login(self) -> None:
        """Log in now (a read-only probe: `paysync doctor` asks whether the credentials work)."""
        self._bearer(renew=True)

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

    def stream(self, path: str, body: dict[str, Any] | None, *, array: str) -> Iterator[dict]:
        """POST like `call`, but yield the records of the top-level list `array` one by one.

        The body is parsed as it arrives (ijson), so a batch of a million transactions never sits
        in memory; numbers come back as Decimal. `success` is checked where it appears, and once
        more at the end for an answer that puts it after the list.
        """
        operation = path.strip("/")
        response = self._open_stream(operation, body)
        try:
            yield from _stream_records(response, array, operation)
        finally:
            response.close()

    def stream_blocks(self, path: str, body: dict[str, Any] | None, *, array: str, struct: type) -> Iterator[list]:
        """POST like `stream`, but yield the records of `array` in lists of `struct`, only its fields read.

        connectors/paytrace/blocks.py: about a tenth of `stream`'s cost a record. Raises
        NotBlockShaped (before or between lists) for an answer it cannot cut: read it with `stream`.
        """
        operation = path.strip("/")
        response = self._open_stream(operation, body)
        raw = response.raw
        raw.decode_content = True
        try:
            yield from record_blocks(raw.read, array, struct)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetriableError(f"stream broken: {type(exc).__name__}: {exc}", system=SYSTEM,
                                 operation=operation) from exc
        finally:
            response.close()

    def _open_stream(self, operation: str, body: dict[str, Any] | None):
        """The streamed answer to a POST of `body` (plus integrator_id), once it is a 200."""
        payload = {**(body or {}), "integrator_id": self.config.integrator_id}
        for renewed in (False, True):
            token = self._bearer(renew=renewed)
            response = self.http.request(
                "POST", f"/v1/{operation}", operation=operation, idempotent=True, json=payload,
                headers={"Authorization": f"Bearer {token}"}, stream=True,
            )
            if response.status_code == 200:
                return response
            data = _json(response)  # an error answer is small: read it whole
            response.close()
            if data and data.get("error") == "invalid_token" and not renewed:
                continue
            raise error_for(data, status=response.status_code, operation=operation, text=response.text,
                            retry_after=retry_after_seconds(response))
        raise RetriableError("token refused twice", system=SYSTEM, operation=operation)

    def transact(self, path: str, body: dict[str, Any]) -> dict:
        """A money call (sale, refund, ...): the body when approved *or declined*, else an error.

        A decline is an answer, not a failure: it carries a transaction_id (a check that was not
        processed, 125, a check_transaction_id) and is exported.
        """
        try:
            return self.call(path, body)
        except PermanentError as exc:
            data = _json_text(exc.body)
            has_id = data and (data.get("transaction_id") or data.get("check_transaction_id"))
            if has_id and data.get("response_code") in DECLINE_CODES:
                return data
            raise

    def close(self) -> None:
        self.http.close()


#: Not approved, but a real transaction (paytrace.md §6 [C]: MOQUI's declined list).
DECLINE_CODES = frozenset({102, 103, 105, 107, 110, 113, 125})


def _stream_records(response, array: str, operation: str) -> Iterator[dict]:
    """The items of `array` in a streamed PayTrace answer, failing on `success` other than true.

    PayTrace (and the sandbox) put `success` before the list: it is read from the first bytes,
    then ijson's C parser reads the list straight off the socket (about 30 us a record; its push
    interface, needed to watch `success` all along, costs 2.5 times that and is kept for answers
    that put `success` after the list).
    """
    raw = response.raw
    raw.decode_content = True
    try:
        head = raw.read(_HEAD_BYTES)
        source = _Joined(head, raw)
        success = _leading_success(head, array)
        if success is True:
            yield from ijson.items(source, f"{array}.item", use_float=False, buf_size=64 * 1024)
            return
        if success is False:
            body = head + raw.read()
            raise error_for(_json_text(body.decode("utf-8", "replace")), status=response.status_code,
                            operation=operation, text=body.decode("utf-8", "replace")[:2000])
        yield from _checked_records(source, array, operation)
    except (ijson.JSONError, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        # Cut off or garbled half way: the whole list is read again on the next try.
        raise RetriableError(f"stream broken: {type(exc).__name__}: {exc}", system=SYSTEM,
                             operation=operation) from exc


_HEAD_BYTES = 8192


def _leading_success(head: bytes, array: str) -> bool | None:
    """`success` if it comes before `array` in the first bytes; None if it does not."""
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if prefix == "success":
                return value is True
            if prefix == array and event == "start_array":
                return None
    except ijson.IncompleteJSONError:
        return None
    return None


def _checked_records(source, array: str, operation: str) -> Iterator[dict]:
    """The slow path: push every chunk through two parsers, one for the records, one for `success`."""
    records, flags = ijson.sendable_list(), ijson.sendable_list()
    items = ijson.items_coro(records, f"{array}.item", use_float=False)
    success = ijson.items_coro(flags, "success")
    while chunk := source.read(64 * 1024):
        success.send(chunk)
        items.send(chunk)
        if flags and flags[0] is not True:
            raise PermanentError("streamed answer without success", system=SYSTEM, operation=operation)
        yield from records
        del records[:]
    items.close()
    success.close()
    yield from records
    if not flags or flags[0] is not True:
        raise PermanentError("answer did not report success", system=SYSTEM, operation=operation)


class _Joined:
    """The bytes already read, then the rest of the stream: a file for ijson."""

    def __init__(self, head: bytes, rest) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                out, self.head = self.head + self.rest.read(), b""
            else:
                out, self.head = self.head[:size], self.head[size:]
            return out
        return self.rest.read(size) if size >= 0 else self.rest.read()


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
