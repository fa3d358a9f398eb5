"""The gate every worker on every host shares through Redis: per system, a concurrency cap, a rate
limit and a pause the far side can ask for (connectors/gate.py is what the connectors call).

- Concurrency: a sorted set of slot tokens, each with an expiry, taken and given back in one Lua
  script; a slot whose holder died frees itself after SLOT_TTL seconds, or sooner (`free_dead_slots`)
  when its holder was a process on this host that no longer exists.
- Rate: a moving window of send times in Redis, on Redis's own clock: at most N calls in any window
  of the rate's length plus `pad`. Not `limits` (the kept library) for a measured reason: its windows
  are whole seconds, and calls sent exactly within 100 a second arrived at the ERP up to 105 in one
  second (bench/latency.py), because a call leaves a busy worker some milliseconds after its turn.
  So each send is recorded twice: when its turn is given (Redis's clock), and again when the call
  is given back, moved to when its request was handed to its connection (connectors/http.py notes
  it; else when its caller left the gate), on its own clock read through an offset to Redis's clock
  that every turn measures from the quickest recent round trip, so later turns count it from when
  it left, not from when it was allowed to: in a process of 48 busy threads the two can be tens of
  milliseconds apart, and building the request can add as many. The pad (GATE_RATE_PAD_SECONDS,
  0.15 s) absorbs the rest (the ERP's side); it costs the same fraction of the rate (about 13%).
  Counted from the turn only, 3 of 6 runs of 300 sales at 100 a second saw 101 or 102 arrive within
  one second; from when the caller left the gate, 3 of 15 at a 0.1 s pad and 2 of 11 at 0.15 s (one
  saw 108 beside a busy loop); from when the request left, none of 7 (docs/scaling.md "The gate").
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

from config.settings_checks import parse_rate
from connectors.errors import RateLimitedError
from connectors import gate
from connectors.gate import Gate
from flows.ledger import claimer, claimer_dead

log = logging.getLogger("paysync.gate")

#: How long a slot outlives a holder that never gave it back (a killed process): longer than any one call.
SLOT_TTL = 90.0
#: How often a process whose callers find every slot taken looks for slots of holders that died on this host.
REAP_EVERY = 1.0

# One round trip decides a call. KEYS: slots (zset), pause, send times (zset). ARGV: cap (0: none), slot
# ttl ms, token, calls per window (0: none), window ms. n > 0: go (slot and send recorded; n is
# Redis's clock in ms); 0: every slot is taken (back off); -n: wait n ms (a pause, or until the window
# lets another call in).
_TAKE = """
redis.replicate_commands()
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return -paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap, calls = tonumber(ARGV[1]), tonumber(ARGV[4])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
end
if calls > 0 then
  local window = tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
  if redis.call('ZCARD', KEYS[3]) >= calls then
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    return -math.max(1, tonumber(oldest[2]) + window - now + 1)
  end
  redis.call('ZADD', KEYS[3], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[3], window)
end
if cap > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return now
"""
# One round trip gives a call back. KEYS: slots, send times. ARGV: token, when it was sent (ms on
# Redis's clock, 0: not known), the window ms. The slot is freed; the send is moved later, never
# earlier and never past now (a wrong offset must not fill the window with sends from the future),
# and the window's key lives a window past it.
_GIVE_BACK = """
redis.call('ZREM', KEYS[1], ARGV[1])
local sent = tonumber(ARGV[2])
if sent > 0 then
  local t = redis.call('TIME')
  sent = math.min(sent, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local was = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if was and tonumber(was) < sent then
    redis.call('ZADD', KEYS[2], 'XX', sent, ARGV[1])
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
end
return 1
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
    """One system's share: at most `concurrency` calls at once (None: no cap), and at most `calls` in any
    `seconds` (None: no rate limit)."""

    concurrency: int | None = None
    calls: int | None = None
    seconds: float = 1.0

    @classmethod
    def of(cls, concurrency: int, rate: str) -> "Limit":
        """From settings: 0 means none; the rate reads like 20/second."""
        calls, seconds = parse_rate(rate) if rate and rate.strip() != "0" else (None, 1)
        return cls(concurrency or None, calls, float(seconds))

    def __str__(self) -> str:
        return f"{self.calls} calls per {self.seconds:g} s" if self.calls else "no rate limit"


class RedisClock:
    """This process's monotonic clock read as Redis's: an offset from the quickest recent round trip.

    Each turn's answer carries Redis's time; the offset is taken from the round trip that came back
    fastest within the last `keep` seconds (its error is at most half that trip, well under a
    millisecond on a LAN), so hosts need not agree on the time and a trip slowed by a busy thread
    is not believed.
    """

    def __init__(self, keep: float = 30.0) -> None:
        self.keep = keep
        # (offset ms, its round trip s, when it was taken): one tuple, so threads never mix two samples
        self.best: tuple[float, float, float] | None = None

    def sample(self, asked: float, redis_ms: int, answered: float) -> None:
        trip, best = answered - asked, self.best
        if best is None or trip <= best[1] or answered - best[2] > self.keep:
            self.best = (redis_ms - (asked + answered) / 2 * 1000, trip, answered)

    def redis_ms(self, monotonic: float) -> int:
        """`monotonic` on Redis's clock in ms (0: not known yet)."""
        best = self.best
        return 0 if best is None else int(monotonic * 1000 + best[0])


class RedisGate(Gate):
    """Slots, rate and pauses per system, shared by every process that uses the same Redis."""

    def __init__(self, redis_url: str, limits: dict[str, Limit], *, max_wait: float = 30.0, pad: float = 0.15,
                 prefix: str = "paysync:gate", dead_grace: float = 30.0) -> None:
        self.limits = dict(limits)  # a system without a cap or a rate still waits out its pauses
        self.max_wait, self.pad = max_wait, pad
        self.dead_grace = min(dead_grace, SLOT_TTL)
        self.prefix = prefix
        self.redis = redis.Redis.from_url(redis_url)
        self._take = self.redis.register_script(_TAKE)
        self._give_back = self.redis.register_script(_GIVE_BACK)
        self._pause = self.redis.register_script(_PAUSE)
        self.clock = RedisClock()
        self._looked = {}  # system -> when a caller of this process last looked for dead holders' slots

    @contextmanager
    def slot(self, system: str) -> Iterator[None]:
        limit = self.limits.get(system) or Limit()
        token = None
        try:
            token = self._wait_for_slot(system, limit)
        except redis.RedisError as exc:
            log.warning("gate for %s unavailable (%s); letting the call through", system, type(exc).__name__)
        left = time.monotonic()
        try:
            yield
        finally:
            if token is not None:
                sent = self.clock.redis_ms(gate.sent_after(left)) if limit.calls else 0
                window = int((limit.seconds + self.pad) * 1000) * 2
                try:
                    self._give_back(keys=[self._slots(system), self._sent(system)], args=[token, sent, window])
                except redis.RedisError:
                    pass  # the slot expires by itself after SLOT_TTL; the send stays counted from its turn

    def pause(self, system: str, seconds: float) -> None:
        try:
            self._pause(keys=[self._paused(system)], args=[max(1, int(seconds * 1000))])
        except redis.RedisError as exc:
            log.warning("could not share a pause of %s (%s)", system, type(exc).__name__)
        log.warning("%s asked for a pause of %.1f s: every worker waits", system, seconds)

    def _wait_for_slot(self, system: str, limit: Limit) -> str | None:
        """Take a slot and a send in the window, in one round trip per try; the slot's token (None: uncapped)."""
        deadline = time.monotonic() + self.max_wait
        token = f"{claimer()}:{uuid.uuid4().hex}"  # host:pid:thread:call, so a dead holder can be told
        cap = limit.concurrency or 0
        window = int((limit.seconds + self.pad) * 1000)
        backoff = 0.002
        keys = [self._slots(system), self._paused(system), self._sent(system)]
        while True:
            asked = time.monotonic()
            got = int(self._take(keys=keys, args=[cap, int(SLOT_TTL * 1000), token, limit.calls or 0, window]))
            if got > 0:
                self.clock.sample(asked, got, time.monotonic())
                return token if cap or limit.calls else None
            if got == 0:
                if self._time_to_look(system) and self.free_dead_slots(system):
                    continue
                wait, why = backoff, "every slot is taken"
                backoff = min(backoff * 2, 0.05)
            else:
                wait, why = -got / 1000, f"a pause it was asked for, or its rate limit ({limit})"
            self._sleep(system, wait, deadline, why)

    def _time_to_look(self, system: str) -> bool:
        """True for one waiting caller of this process per REAP_EVERY (not for each of its threads)."""
        now = time.monotonic()
        if now - self._looked.get(system, 0.0) < REAP_EVERY:
            return False
        self._looked[system] = now  # two threads may both pass here at once: one look too many, harmless
        return True

    def free_dead_slots(self, system: str) -> int:
        """Give back the slots taken more than `dead_grace` seconds ago by a process on this host that no
        longer exists; how many.

        A SIGKILLed io worker's slots kept Sage 50's cap of 4 taken for the whole SLOT_TTL, for every
        worker on every host (bench/backlog.py: two kills cost 100 s of a 25 s drain). Not at once:
        the dead process's last request may still be running at the ERP, so its slot is kept as long
        as a live caller's could be (its HTTP timeout and a margin), and a holder judged dead wrongly
        (another pid namespace under the same host name) loses only a slot it held that long.
        """
        seconds, micros = self.redis.time()
        taken_before = (seconds * 1000 + micros // 1000) + int((SLOT_TTL - self.dead_grace) * 1000)
        old = self.redis.zrangebyscore(self._slots(system), "-inf", taken_before)
        dead = [m for m in old if claimer_dead(m.decode(errors="replace"))]
        if dead:
            self.redis.zrem(self._slots(system), *dead)
            log.warning("freed %d call slot(s) of %s held by a process that died", len(dead), system)
        return len(dead)

    def _sleep(self, system: str, wait: float, deadline: float, why: str) -> None:
        if time.monotonic() + min(wait, 0.05) > deadline:
            raise RateLimitedError(f"{system}: no call slot within {self.max_wait:g} s ({why}); retried later",
                                   retry_after=max(1.0, wait), system=system, operation="gate")
        time.sleep(min(wait, 0.05) * random.uniform(0.5, 1.0))  # spread: waiters do not all ask at once

    def _slots(self, system: str) -> str:
        return f"{self.prefix}:{system}:slots"

    def _sent(self, system: str) -> str:
        return f"{self.prefix}:{system}:sent"

    def _paused(self, system: str) -> str:
        return f"{self.prefix}:{system}:pause"

    def close(self) -> None:
        self.redis.close()
