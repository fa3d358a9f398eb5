"""The worker's process pool: Celery's prefork, where a child killed just after start is replaced.

Celery checks once, right after the worker starts, that no pool child has exited, and stops the
whole worker otherwise ("Could not start worker processes"). That check is meant for children
that cannot start at all (an import error: they exit with a status of their own). A child killed
by a signal in that instant (the OOM killer, an operator's kill, a chaos test) says nothing about
the code; the pool replaces it as it would a minute later, and the worker runs on.
"""
from __future__ import annotations

import logging

from celery.concurrency import prefork

log = logging.getLogger("paysync.pool")


class TaskPool(prefork.TaskPool):
    """prefork, where only a child that exits by itself at start is fatal; a killed one is replaced."""

    def did_start_ok(self) -> bool:
        codes = [w.exitcode for w in list(self._pool._pool) if w.exitcode is not None]
        if any(code > 0 for code in codes):
            return False  # it exited on its own: it cannot start, and neither could its replacement
        if codes:
            log.warning("%d pool process(es) killed by a signal right after start; replacing them", len(codes))
            self._pool.maintain_pool()
        return True
