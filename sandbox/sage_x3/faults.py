"""Run-time faults for the X3 simulator: locked records, a busy pool, an exhausted licence, latency, noise."""
from __future__ import annotations

import random
import threading
from typing import Any

LICENCE_DEFAULTS = {"grace_calls": 0, "slow_ms": 0, "exhausted": False, "hang_ms": 5000}
DEFAULTS: dict[str, Any] = {"latency_ms": 0, "error_rate": 0.0, "locked": [], "pool_busy": False,
                            "licence": dict(LICENCE_DEFAULTS)}


class FaultSettingError(ValueError):
    """A /_sandbox/faults body the simulator cannot apply (answered 400)."""


def _number(value: Any, name: str, low: float, high: float | None = None) -> float:
    # bool is an int subclass; `true` is never a sensible latency or rate.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultSettingError(f"'{name}' must be a number")
    if value < low or (high is not None and value > high):
        raise FaultSettingError(f"'{name}' must be between {low} and {high}" if high is not None
                                else f"'{name}' must be at least {low}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise FaultSettingError(f"'{name}' must be true or false")
    return value


class Faults:
    """The current fault settings, the licence's remaining grace calls, and the seedable rng."""

    def __init__(self, rng: random.Random | None = None) -> None:
        # Its own lock, never held with the state lock, so the two cannot deadlock.
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self._seed: int | None = None
        self._config = _copy(DEFAULTS)
        self._grace_left = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**_copy(self._config), "seed": self._seed, "grace_left": self._grace_left}

    def clear(self) -> dict[str, Any]:
        with self._lock:
            self._config, self._grace_left = _copy(DEFAULTS), 0
        return self.snapshot()

    def update(self, body: Any) -> dict[str, Any]:
        """Merge the given settings (others keep their value); all-or-nothing on a bad one."""
        if not isinstance(body, dict):
            raise FaultSettingError("the body must be a JSON object")
        unknown = sorted(set(body) - set(DEFAULTS) - {"seed"})
        if unknown:
            raise FaultSettingError(f"unknown fault setting(s): {', '.join(unknown)}")
        new: dict[str, Any] = {}
        if "latency_ms" in body:
            new["latency_ms"] = _number(body["latency_ms"], "latency_ms", 0)
        if "error_rate" in body:
            new["error_rate"] = float(_number(body["error_rate"], "error_rate", 0, 1))
        if "pool_busy" in body:
            new["pool_busy"] = _flag(body["pool_busy"], "pool_busy")
        if "locked" in body:
            ids = body["locked"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise FaultSettingError("'locked' must be a list of BPCNUM")
            new["locked"] = list(ids)
        if "licence" in body:
            new["licence"] = self._licence(body["licence"])
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultSettingError("'seed' must be an integer")
        with self._lock:
            was_exhausted = self._config["licence"]["exhausted"]
            self._config.update(new)
            if "licence" in new and ("grace_calls" in body["licence"] or not was_exhausted):
                # The grace margin starts afresh when the licence runs out, or when it is given anew.
                self._grace_left = int(new["licence"]["grace_calls"])
            if seed is not None:
                self._seed = seed
                self._rng.seed(seed)
        return self.snapshot()

    def _licence(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise FaultSettingError("'licence' must be an object")
        unknown = sorted(set(value) - set(LICENCE_DEFAULTS))
        if unknown:
            raise FaultSettingError(f"unknown licence setting(s): {', '.join(unknown)}")
        with self._lock:
            out = {**self._config["licence"], **value}
        for name in ("grace_calls", "slow_ms", "hang_ms"):
            _number(out[name], f"licence.{name}", 0)
        _flag(out["exhausted"], "licence.exhausted")
        return out

    # ---- read by the request path -------------------------------------------------------------
    def latency_seconds(self) -> float:
        with self._lock:
            return float(self._config["latency_ms"]) / 1000.0

    def locked(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._config["locked"])

    @property
    def pool_busy(self) -> bool:
        with self._lock:
            return bool(self._config["pool_busy"])

    def draw_error(self) -> bool:
        """True when `error_rate` picks this call to fail; draws only when a rate is set."""
        with self._lock:
            rate = self._config["error_rate"]
            return rate > 0 and self._rng.random() < rate

    def licence_gate(self) -> tuple[str, float]:
        """("ok", 0), ("slow", seconds) while grace calls remain, or ("stop", seconds to hang)."""
        with self._lock:
            lic = self._config["licence"]
            if not lic["exhausted"]:
                return "ok", 0.0
            if self._grace_left > 0:
                self._grace_left -= 1
                return "slow", lic["slow_ms"] / 1000.0
            return "stop", lic["hang_ms"] / 1000.0


def _copy(config: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
