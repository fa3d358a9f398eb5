"""Named locks in Redis that expire unless their holder keeps renewing them.

One nightly reconciliation per day even with two beat processes: the holder renews the TTL as it
makes progress, so a holder that crashed or hangs loses the lock within `ttl` seconds and the
next attempt takes over. And one writer per customer and per invoice across every worker
(RedisHolds, flows/holds.py's promise on every host). redis-py's own Lock does the atomic parts
(SET NX PX, token-checked extend and release in Lua).
"""
from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from typing import Iterator

import redis
from redis.exceptions import LockError, LockNotOwnedError

from connectors.errors import RetriableError, StepBusy

log = logging.getLogger("paysync.locks")


class LockLost(RuntimeError):
    """The lock expired under its holder (it stalled longer than the TTL): stop working."""


class DayLock:
    """`with DayLock(url, "reconcile:2026-11-21", ttl) as lock:`; `lock.held` is False when taken."""

    def __init__(self, redis_url: str, name: str, ttl: float) -> None:
        self.name = f"paysync:lock:{name}"
        self.ttl = ttl
        self._client = redis.Redis.from_url(redis_url)
        self._lock = self._client.lock(self.name, timeout=ttl, blocking=False, thread_local=False)
        self.held = False

    def __enter__(self) -> "DayLock":
        self.held = bool(self._lock.acquire(blocking=False))
        return self

    def renew(self) -> None:
        """Reset the TTL; raise LockLost if another process holds the lock now."""
        if not self.held:
            return
        try:
            self._lock.reacquire()
        except LockNotOwnedError as exc:
            self.held = False
            raise LockLost(f"lock {self.name} expired and was taken") from exc

    def __exit__(self, *exc: object) -> None:
        if self.held:
            try:
                self._lock.release()
            except LockError:
                log.warning("lock %s had already expired when released", self.name)
            self.held = False
        self._client.close()


class NoLock:
    """Stands in for DayLock where no Redis is configured (the database guard still holds)."""

    held = True

    def __init__(self, *args: object) -> None:
        self.args = args

    def __enter__(self) -> "NoLock":
        return self

    def renew(self) -> None:
        """Nothing to renew."""

    def __exit__(self, *exc: object) -> None:
        return None


class RedisHolds:
    """flows/holds.py's holds for every process on every host: `with holds(("customer:C1",)):`.

    A hold lasts at most `ttl` seconds (the stage's lease), so one whose holder died frees itself;
    one not had within `wait` seconds raises StepBusy, and the stage comes back later.
    """

    def __init__(self, redis_url: str, *, prefix: str, ttl: float, wait: float = 10.0) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.prefix, self.ttl, self.wait = prefix, ttl, wait

    @contextmanager
    def __call__(self, names: tuple[str, ...]) -> Iterator[None]:
        with ExitStack() as held:
            for name in sorted(set(names)):  # one order everywhere: two stages never wait on each other
                lock = self.client.lock(f"{self.prefix}:{name}", timeout=self.ttl, blocking=True,
                                        blocking_timeout=self.wait, thread_local=False)
                try:
                    got = lock.acquire()
                except redis.RedisError as exc:  # Redis restarting or failing over: nothing written yet, retry
                    raise RetriableError(f"could not take the hold {name}: Redis {type(exc).__name__}",
                                         system="redis", operation="hold") from exc
                if not got:
                    raise StepBusy(f"{name} is being written by another run", retry_after=2.0,
                                   system="paysync", operation="hold")
                held.callback(_let_go, lock)
            yield


def _let_go(lock) -> None:
    """Give a hold back; the writes are done, so a Redis that cannot be told only delays the next run
    of this customer or invoice until the hold expires."""
    try:
        lock.release()
    except LockError:
        log.warning("hold %s had expired before its stage finished", lock.name)
    except redis.RedisError as exc:
        log.warning("hold %s not given back (Redis %s); it frees itself when it expires", lock.name,
                    type(exc).__name__)

