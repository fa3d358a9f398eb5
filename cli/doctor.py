"""`paysync doctor`: a read-only preflight of every assumption paysync makes of the customer's own accounts.

Per integration pair it logs in to PayTrace and reads a recent window through each export paysync
relies on, then reads each ERP object, route or table paysync uses; one table says, for each
assumption, holds / fails / cannot tell and the setting to change. It writes nothing anywhere.
Exit status: 0 when nothing fails, 1 when an assumption fails, 2 for a usage or settings error.
"""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.preflight import CANNOT_TELL, FAILS, HOLDS, Check, run_pair

STYLE = {HOLDS: "green", FAILS: "bold red", CANNOT_TELL: "yellow"}
WIDE = 220


class DoctorError(Exception):
    """A usage or settings mistake: said in one line, exit status 2."""


def load(pair: str | None):
    """The Settings of each pair to check; DoctorError for bad settings or an unknown pair."""
    from config.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        keys = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in sorted(exc.errors.items()))
        raise DoctorError(f"invalid settings ({keys}): fix them and run paysync doctor again") from None
    if pair is None:
        return settings.pairs()
    try:
        return [settings.for_pair(pair)]
    except KeyError:
        raise DoctorError(f"no integration pair {pair!r}: use one of {', '.join(settings.pair_names)} "
                          f"(PAYSYNC_PAIRS)") from None


def examine(pairs, days: int, console: Console) -> list[tuple[str, Check]]:
    """Run every pair's checks, saying what it is reading as it goes."""
    quiet = logging.getLogger("paysync")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the table says what went wrong; alerts of connectors would repeat it
    try:
        return _examine(pairs, days, console)
    finally:
        quiet.setLevel(level)


def _examine(pairs, days: int, console: Console) -> list[tuple[str, Check]]:
    found: list[tuple[str, Check]] = []
    for settings in pairs:
        today = datetime.now(ZoneInfo(settings.merchant_timezone)).date()
        console.print(f"checking pair [bold]{settings.pair}[/]: PayTrace {settings.paytrace.base_url}, "
                      f"{settings.erp} (reading the last {days} day{'s' if days != 1 else ''}) …")
        try:
            checks = run_pair(settings, today, days)
        except Exception as exc:  # a check that broke is a finding, never a traceback
            checks = [Check(settings.erp, "the checks themselves ran", FAILS, f"{type(exc).__name__}: {exc}"[:300])]
        found += [(settings.pair, check) for check in checks]
    return found


def render(found: list[tuple[str, Check]], console: Console) -> int:
    """The one table, then a summary line; the exit status."""
    table = Table(title="paysync doctor: what your accounts say about paysync's assumptions", show_lines=False)
    for column in ("pair", "system", "assumption", "verdict", "what was seen", "setting to change"):
        table.add_column(column, overflow="fold")
    for pair, c in found:
        table.add_row(pair, c.system, escape(c.assumption), f"[{STYLE[c.verdict]}]{c.verdict}[/]",
                      escape(c.detail), escape(c.setting))
    console.print(table)
    counts = {v: sum(1 for _, c in found if c.verdict == v) for v in (HOLDS, FAILS, CANNOT_TELL)}
    console.print(f"{counts[HOLDS]} hold, {counts[FAILS]} fail, {counts[CANNOT_TELL]} cannot be told yet. "
                  f"Nothing was written to PayTrace or the ERP.")
    return 1 if counts[FAILS] else 0


def run_doctor(pair: str | None, days: int, console: Console) -> int:
    try:
        pairs = load(pair)
    except DoctorError as exc:
        console.print(f"paysync doctor: {escape(str(exc))}", soft_wrap=True)
        return 2
    # Piped to a file or a ticket, the table keeps whole words: wide, not folded at 80 columns.
    out = console if console.is_terminal else Console(width=WIDE)
    return render(examine(pairs, days, out), out)
