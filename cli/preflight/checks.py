"""What every check of `paysync doctor` is made of: a verdict per assumption, collected per system."""
from __future__ import annotations

from dataclasses import dataclass

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


def missing(have: set[str] | dict, wanted: list[str]) -> list[str]:
    """The names in `wanted` (blanks skipped) that `have` lacks."""
    return [name for name in wanted if name and name not in have]
