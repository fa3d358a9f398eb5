"""The shape every benchmark figure comes back in, and the registry `bench/run.py` (make bench) runs.

Each figure module (bench/<module>.py) has `measure(quick: bool) -> Figure`: it measures the
figure and its baseline in the same run and returns both, the ratio, the target and `data`, the
exact keys issue 10 asks of bench/results.json for that figure. A figure that could not be
measured returns `Figure.failed(...)` rather than raising, so one broken bench never hides the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: results.json key -> (module under bench/, what the figure is). The order of the printed table.
REGISTRY: dict[str, tuple[str, str]] = {
    "p1": ("ingress", "ingress: signed webhook to committed inbox row and enqueue"),
    "p2": ("e2e", "sales synced end to end, ERP at zero latency"),
    "p3": ("latency", "sales synced with every ERP call taking 200 ms, one worker process"),
    "p4": ("reconcile", "nightly reconciliation of 1M settled transactions"),
    "p5": ("poller", "poller on a 50,000-transaction day"),
    "backlog": ("backlog", "5,000 sales at once, short stall settings, worker kills"),
}


@dataclass
class Figure:
    """One measured figure beside its baseline."""

    key: str
    value: str  # what was measured, with its unit: "12.3 sales/s"
    baseline: str  # what it is held against, measured in the same run: "45.1 chains/s" (or "-")
    ratio: float | None
    target: str  # as the issue states it: "ratio >= 0.5"
    met: bool | None  # the target held (None: not judged)
    data: dict[str, Any] = field(default_factory=dict)  # exactly the keys results.json holds for `key`
    note: str = ""  # one line a reader needs: scaled from 100k, how many kills, ...

    @classmethod
    def failed(cls, key: str, target: str, reason: str) -> Figure:
        return cls(key, "not measured", "-", None, target, False, {}, reason[:300])
