"""The gate every worker on every host shares through Redis: per system, a concurrency cap, a rate
limit and a pause the far side can ask for (connectors/gate.py is what the connectors call).

- Concurrency: a sorted set of slot tokens, each with an expiry, taken and given back in one Lua
  script; a slot whose holder died frees itself after SLOT_TTL seconds.
- Rate: `limits`' moving window in Redis (the kept library): never more than N calls in any window.
- Pause: a 429 or Retry-After anywhere sets one key with that expiry; every caller waits it out.

A call that finds no slot within `max_wait` raises RateLimitedError: its task retries later and
gives its ledger claim back, instead of holding a worker thread hostage. If Redis itself fails the
gate lets the call through (the ERP's own refusals still slow everyone down): a limit is a
courtesy to the ERP, never a reason to lose work.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import redis
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from connectors.errors import RateLimitedError
from connectors.gate import Gate

log = logging.getLogger("paysync.gate")

#: How long a slot outlives a holder that never gave it back (a killed process): longer than any one call.
SLOT_TTL = 90.0

# KEYS: slots (zset), pause key. ARGV: cap, ttl ms, token. 1 taken, 0 full, -ms paused that long.
_TAKE = """
redis.replicate_commands()
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return -paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# KEYS: pause key. ARGV: ms. Lengthens a pause, never shortens one.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


@dataclass(frozen=True)
class Limit:
    """One system's share: at most `concurrency` calls at once (None: no cap), and `rate` (None: none)."""

    concurrency: int | None = None
    rate: RateLimitItem | None = None

    @classmethod
    def of(cls, concurrency: int, rate: str) -> "Limit":
        """From settings: 0 means none; the rate reads like 20/second."""
        return cls(concurrency or None, parse(rate) if rate and rate != "0" else None)


class RedisGate(Gate):
    """Slots, rate and pauses per system, shared by every process that uses the same Redis."""

    def __init__(self, redis_url: str, limits: dict[str, Limit], *, max_wait: float = 30.0,
                 prefix: str = "paysync:gate") -> None:
        self.limits = {system: limit for system, limit in limits.items() if limit.concurrency or limit.rate}
        self.max_wait = max_wait
        self.prefix = prefix
        self.redis = redis.Redis.from_url(redis_url)
        self._take = self.redis.register_script(_TAKE)
        self._pause = self.redis.register_script(_PAUSE)
        self.limiter = MovingWindowRateLimiter(storage_from_string(redis_url, key_prefix=f"{prefix}:rate"))

    @contextmanager
    def slot(self, system: str) -> Iterator[None]:
        limit = self.limits.get(system)
        token = None
        if limit is not None:
            try:
                token = self._wait_for_slot(system, limit)
            except redis.RedisError as exc:
                log.warning("gate for %s unavailable (%s); letting the call through", system, type(exc).__name__)
        try:
            yield
        finally:
            if token is not None:
                try:
                    self.redis.zrem(self._slots(system), token)
                except redis.RedisError:
                    pass  # it expires by itself after SLOT_TTL

    def pause(self, system: str, seconds: float) -> None:
        try:
            self._pause(keys=[self._paused(system)], args=[max(1, int(seconds * 1000))])
        except redis.RedisError as exc:
            log.warning("could not share a pause of %s (%s)", system, type(exc).__name__)
        log.warning("%s asked for a pause of %.1f s: every worker waits", system, seconds)

    def _wait_for_slot(self, system: str, limit: Limit) -> str | None:
        """Take a slot (then a rate token while holding it); the slot's token, None when uncapped."""
        deadline = time.monotonic() + self.max_wait
        token = uuid.uuid4().hex
        cap = limit.concurrency or 0
        backoff = 0.002
        while cap:
            got = int(self._take(keys=[self._slots(system), self._paused(system)],
                                 args=[cap, int(SLOT_TTL * 1000), token]))
            if got == 1:
                break
            wait = -got / 1000 if got < 0 else backoff
            backoff = min(backoff * 2, 0.05)
            self._sleep(system, wait, deadline, "every slot is taken" if got == 0 else "a pause it was asked for")
        try:
            while limit.rate is not None and not self.limiter.hit(limit.rate, system):
                reset = self.limiter.get_window_stats(limit.rate, system).reset_time
                self._sleep(system, max(0.001, reset - time.time()), deadline, f"its rate limit ({limit.rate})")
        except BaseException:
            if cap:
                self.redis.zrem(self._slots(system), token)
            raise
        return token if cap else None

    def _sleep(self, system: str, wait: float, deadline: float, why: str) -> None:
        if time.monotonic() + min(wait, 0.05) > deadline:
            raise RateLimitedError(f"{system}: no call slot within {self.max_wait:g} s ({why}); retried later",
                                   retry_after=max(1.0, wait), system=system, operation="gate")
        time.sleep(min(wait, 0.05) * random.uniform(0.5, 1.0))

    def _slots(self, system: str) -> str:
        return f"{self.prefix}:{system}:slots"

    def _paused(self, system: str) -> str:
        return f"{self.prefix}:{system}:pause"

    def close(self) -> None:
        self.redis.close()
