"""`paysync doctor`'s checks: each assumption paysync makes of a real account, read-only, with its verdict.

A check reads (never writes) one thing paysync relies on and says whether the assumption holds,
fails, or cannot be told from what the account holds today, with the setting a person changes when
it fails. docs/fidelity.md lists each assumption and its public source.
"""
from __future__ import annotations

from datetime import date
from typing import Callable

from cli.preflight import paytrace, sage50, sage_pro, sage_x3
from cli.preflight.checks import CANNOT_TELL, FAILS, HOLDS, Check, Checks, missing
from config.settings import Settings


def run_pair(settings: Settings, today: date, days: int) -> list[Check]:
    """Every check of one integration pair: PayTrace, then its ERP."""
    erp_checks: dict[str, Callable[[Settings], list[Check]]] = {
        "sage50": sage50.run, "sage_x3": sage_x3.run, "sage_pro": sage_pro.run}
    return paytrace.run(settings, today, days) + erp_checks[settings.erp](settings)


__all__ = ["CANNOT_TELL", "FAILS", "HOLDS", "Check", "Checks", "missing", "run_pair"]
