"""Run-time fault injection for the Sage 50 simulator (latency, throttling, outages, locks, licences)."""
from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any

from .fields import SageError, bad_request

ERROR_STATUSES = (503, 429)
DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_statuses": [503, 429],
    "retry_after": 1,
    "down": False,
    "record_in_use": [],
    "license_busy": False,
}


def _number(value: Any, name: str, low: float, high: float | None = None) -> int | float:
    # bool is an int subclass; `true` is never a sensible latency or rate.
    # The body parser turns JSON fractions into Decimal; settings are not money, so float is fine.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise bad_request(f"'{name}' must be a number", name)
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"'{name}' must be {limit}", name)
    return value if isinstance(value, int) else float(value)


class Faults:
    """The current fault settings and the seedable rng that decides when `error_rate` fires."""

    def __init__(self, rng: random.Random | None = None) -> None:
        # Its own lock: settings change from the test thread while server threads read them,
        # and it never nests with the state lock, so the two cannot deadlock.
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self._seed: int | None = None
        self._config = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out = {k: (list(v) if isinstance(v, list) else v) for k, v in self._config.items()}
            out["seed"] = self._seed
            return out

    def clear(self) -> dict[str, Any]:
        with self._lock:
            self._config = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}
        return self.snapshot()

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Merge the given settings (keys not sent keep their value); all-or-nothing on error."""
        unknown = sorted(set(body) - set(DEFAULTS) - {"seed"})
        if unknown:
            raise bad_request(f"unknown fault setting(s): {', '.join(unknown)}", unknown[0])
        new: dict[str, Any] = {}
        if "latency_ms" in body:
            new["latency_ms"] = _number(body["latency_ms"], "latency_ms", 0)
        if "error_rate" in body:
            new["error_rate"] = float(_number(body["error_rate"], "error_rate", 0, 1))
        if "error_statuses" in body:
            statuses = body["error_statuses"]
            if (
                not isinstance(statuses, list)
                or not statuses
                or any(isinstance(s, bool) or s not in ERROR_STATUSES for s in statuses)
            ):
                raise bad_request("'error_statuses' must be a non-empty list of 503 and/or 429",
                                  "error_statuses")
            new["error_statuses"] = list(statuses)
        if "retry_after" in body:
            value = body["retry_after"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad_request("'retry_after' must be a whole number of seconds >= 0",
                                  "retry_after")
            new["retry_after"] = value
        for flag in ("down", "license_busy"):
            if flag in body:
                if not isinstance(body[flag], bool):
                    raise bad_request(f"'{flag}' must be true or false", flag)
                new[flag] = body[flag]
        if "record_in_use" in body:
            ids = body["record_in_use"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise bad_request("'record_in_use' must be a list of customer IDs", "record_in_use")
            new["record_in_use"] = list(ids)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise bad_request("'seed' must be an integer", "seed")
        with self._lock:
            self._config.update(new)
            if seed is not None:
                self._seed = seed
                self._rng.seed(seed)
        return self.snapshot()

    # ---- read by the request path ---------------------------------------------------------
    @property
    def down(self) -> bool:
        with self._lock:
            return bool(self._config["down"])

    def latency_seconds(self) -> float:
        with self._lock:
            return float(self._config["latency_ms"]) / 1000.0

    def records_in_use(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._config["record_in_use"])

    def request_fault(self) -> tuple[str, SageError] | None:
        """The fault, if any, that answers this /v1 request instead of the agent (kind, error)."""
        with self._lock:
            cfg = self._config
            retry = {"Retry-After": str(cfg["retry_after"])}
            if cfg["license_busy"]:
                return "license_busy", SageError(
                    503,
                    "LicenseNotAvailableException",
                    "No Sage 50 licence seat is free; try again later",
                    headers=retry,
                )
            # Draw only when a rate is set, so a seeded sequence is not consumed by quiet periods.
            if cfg["error_rate"] > 0 and self._rng.random() < cfg["error_rate"]:
                status = self._rng.choice(cfg["error_statuses"])
                if status == 429:
                    return "error_rate_429", SageError(
                        429, "TooManyRequests", "The agent is throttling requests", headers=retry
                    )
                return "error_rate_503", SageError(
                    503, "ServiceUnavailable", "The agent is temporarily unavailable", headers=retry
                )
            return None
