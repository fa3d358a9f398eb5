"""Every outbound call waits its turn: a slot of its system's shared concurrency cap and rate limit.

The connectors call `current().slot(system)` around each request to an ERP or PayTrace, and
`current().pause(system, seconds)` when the far side says "too many" (429, Retry-After), so that
every worker slows down, not only the one that was told. What the slot means is installed by the
worker (workers/gate.py: shared through Redis by every process on every host); without one, as
in a command or a test, every call goes straight through.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class Gate:
    """No cap, no limit: the default outside a worker."""

    @contextmanager
    def slot(self, system: str) -> Iterator[None]:
        yield

    def pause(self, system: str, seconds: float) -> None:
        """The far side asked every caller to wait `seconds`."""


_installed: Gate = Gate()
_sent = threading.local()  # .at: when this thread's last request left (time.monotonic)


def note_sent() -> None:
    """This thread's request leaves now: the HTTP layer calls it as it hands the request to its connection."""
    _sent.at = time.monotonic()


def sent_after(moment: float) -> float:
    """When this thread's last request left, if that was after `moment` (a request of this slot); else `moment`."""
    at = getattr(_sent, "at", 0.0)
    return at if at > moment else moment


def install(gate: Gate) -> Gate:
    """Make `gate` the one every connector in this process waits at; return the one it replaces."""
    global _installed
    previous, _installed = _installed, gate
    return previous


def current() -> Gate:
    return _installed
