"""A small HTTP layer: timeouts always, a few short retries only where repeating is safe.

Two retry layers with separate budgets (STYLE.md habit 6): here, a couple of quick retries for
connection failures and 502/503/504 on requests that are safe to repeat; above, in workers/, the
long task retries with backoff. A create (POST) is repeated here only if the connection was
refused, i.e. the request never reached the server: after a timeout we cannot know whether the
document was written, so the step above looks its reference up before it tries again.
"""
from __future__ import annotations

import os
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connectors import gate
from connectors.backoff import compute_backoff
from connectors.errors import RetriableError
from metrics.registry import EXTERNAL_ERRORS, EXTERNAL_SECONDS

_RETRY_STATUSES = frozenset({502, 503, 504})


class HttpClient:
    """A requests.Session bound to one base URL, with a timeout and short in-process retries."""

    def __init__(self, base_url: str, *, system: str, timeout: float = 10.0, retries: int = 2,
                 headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.system = system
        self.timeout = timeout
        self.retries = retries
        self.session = environment_session(self.base_url)
        self.session.headers.update({"User-Agent": "paysync/0.1", **(headers or {})})

    def request(self, method: str, path: str, *, operation: str, idempotent: bool,
                **kwargs: Any) -> requests.Response:
        """Send once, or up to `retries` more times when that cannot duplicate anything."""
        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, operation, **kwargs)
            except requests.ConnectionError as exc:
                # ConnectTimeout and refused connections never reached the server: safe to resend.
                never_sent = isinstance(exc, requests.ConnectTimeout) or "refused" in str(exc).lower()
                if (idempotent or never_sent) and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise RetriableError(f"connection failed: {type(exc).__name__}", system=self.system,
                                     operation=operation) from exc
            except requests.Timeout as exc:
                if idempotent and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise RetriableError(f"timed out after {self.timeout:g}s", system=self.system,
                                     operation=operation) from exc
            if response.status_code in _RETRY_STATUSES and idempotent and attempt <= self.retries \
                    and "Retry-After" not in response.headers:
                self._pause(attempt)
                continue
            return response

    def _send(self, method: str, url: str, operation: str, **kwargs: Any) -> requests.Response:
        """One request in a slot of the system's shared cap (connectors/gate.py), timed and counted for
        /metrics (latency by system and operation, failures by kind)."""
        shared = gate.current()
        with shared.slot(self.system):
            started = time.monotonic()
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                EXTERNAL_ERRORS.labels(self.system, type(exc).__name__).inc()
                raise
            finally:
                EXTERNAL_SECONDS.labels(self.system, operation).observe(time.monotonic() - started)
        if response.status_code >= 500 or response.status_code == 429:
            EXTERNAL_ERRORS.labels(self.system, f"http_{response.status_code}").inc()
        wait = retry_after_seconds(response)
        if response.status_code == 429 or (response.status_code == 503 and wait):
            shared.pause(self.system, wait if wait else 1.0)  # every worker slows down, not only this one
        return response

    @staticmethod
    def _pause(attempt: int) -> None:
        time.sleep(compute_backoff(attempt, base=0.1, cap=1.0))

    def close(self) -> None:
        self.session.close()


class _StampedAdapter(HTTPAdapter):
    """Notes when each request is handed to its connection (connectors/gate.py `note_sent`): the gate
    counts a send in its rate window from then, not from when its caller left the gate, since in a
    process of 48 busy threads building the request can take tens of milliseconds."""

    def send(self, request, *args, **kwargs):
        gate.note_sent()
        return super().send(request, *args, **kwargs)


def environment_session(base_url: str) -> requests.Session:
    """A session that reads the environment's proxy and CA settings once, for `base_url`, not per request.

    With `trust_env` on, requests reads every environment variable twice per request to find
    proxies (urllib's getproxies_environment, then NO_PROXY): about 0.8 ms of CPU a call, 14% of a
    sale's CPU in a worker, measured with cProfile in the fast tier. The same settings are taken
    here when the client is made: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (NO_PROXY honoured for this
    host) and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. Credentials from ~/.netrc are not read: every
    client here sends its own.
    """
    session = requests.Session()
    for prefix in ("https://", "http://"):
        session.mount(prefix, _StampedAdapter())
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def retry_after_seconds(response: requests.Response) -> float | None:
    """The Retry-After header in seconds, if it is a number (HTTP dates are rare from our peers)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
