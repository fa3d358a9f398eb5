"""One writer per customer and per invoice at a time, whatever runs are in flight.

With dozens of stages in flight, two runs of one customer (two sales of a new customer, a sale and
its refund) must not race in the ERP: a stage names what it changes (`Plan.holds`: "customer:<id>",
"invoice:<key>") and flows/runs.py holds those names while it writes. This in-process version
serves one process (the fast tier, a command); the workers install workers/locks.RedisHolds, the
same promise across every process and host. A hold not had within `wait` seconds raises StepBusy:
the stage gives its claim back and its task comes back later.
"""
from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from typing import Iterator

from connectors.errors import StepBusy


class LocalHolds:
    """Holds shared by the threads of one process."""

    def __init__(self, wait: float = 30.0) -> None:
        self.wait = wait
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def __call__(self, names: tuple[str, ...]) -> Iterator[None]:
        with ExitStack() as held:
            for name in sorted(set(names)):  # one order everywhere: two stages never wait on each other
                with self._guard:
                    lock = self._locks.setdefault(name, threading.Lock())
                if not lock.acquire(timeout=self.wait):
                    raise StepBusy(f"{name} is being written by another run", retry_after=2.0,
                                   system="paysync", operation="hold")
                held.callback(lock.release)
            yield


#: The holds of this process, shared by every context built in it (threads included).
PROCESS = LocalHolds()
