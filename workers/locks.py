"""A named lock in Redis that expires unless its holder keeps renewing it.

One nightly reconciliation per day even with two beat processes: the holder renews the TTL as it
makes progress, so a holder that crashed or hangs loses the lock within `ttl` seconds and the
next attempt takes over. redis-py's own Lock does the atomic parts (SET NX PX, token-checked
extend and release in Lua).
"""
from __future__ import annotations

import logging

import redis
from redis.exceptions import LockError, LockNotOwnedError

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
