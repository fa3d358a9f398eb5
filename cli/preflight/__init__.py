"""`paysync doctor`'s checks: each assumption paysync makes of a real account, read-only, with its verdict.

A check reads (never writes) one thing paysync relies on and says whether the assumption holds,
fails, or cannot be told from what the account holds today, with the setting a person changes when
it fails. docs/fidelity.md lists each assumption and its public source.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from config.settings import Settings

HOLDS, FAILS, CANNOT_TELL = "holds", "fails", "cannot tell"


@dataclass(frozen=True)
class Check:
    """One assumption and what the account said about it."""

    system: str
    assumption: str
    verdict: str  # holds | fails | cannot tell
    detail: str = ""
    setting: str = ""


class Checks:
    """Collects the checks of one system, so a failed read stops only what depends on it."""

    def __init__(self, system: str) -> None:
        self.system, self.found = system, []

    def add(self, assumption: str, verdict: str, detail: str = "", setting: str = "") -> str:
        self.found.append(Check(self.system, assumption, verdict, detail, setting))
        return verdict

    def verdict(self, assumption: str, ok: bool, detail: str = "", setting: str = "") -> str:
        return self.add(assumption, HOLDS if ok else FAILS, detail, "" if ok else setting)


def run_pair(settings: Settings, today: date, days: int) -> list[Check]:
    """Every check of one integration pair: PayTrace, then its ERP."""
    from cli.preflight import paytrace, sage50, sage_pro, sage_x3

    erp_checks: dict[str, Callable[[Settings], list[Check]]] = {
        "sage50": sage50.run, "sage_x3": sage_x3.run, "sage_pro": sage_pro.run}
    return paytrace.run(settings, today, days) + erp_checks[settings.erp](settings)


def missing(have: set[str] | dict, wanted: list[str]) -> list[str]:
    """The names in `wanted` (blanks skipped) that `have` lacks."""
    return [name for name in wanted if name and name not in have]
