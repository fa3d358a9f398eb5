"""Sage Pro settings: the database URL, the company suffix, and the table and column names to use.

Names the reference marks [I] (../shared/reference/sage.md §3) are configurable here, so a site can
correct them without a code change: the cash and GL table names, any column (`columns`, e.g.
`("arcash.REFNO", "CHKNO")`; `("arcust.CUSTGEN", "USRFLD1")` moves our customer id), and which
somast column carries our reference. armast keeps it in REF [I] (ORNUM holds the order an invoice bills)
and the customer's PO in PONUM, as Sage Pro does; an invoice without a PO has our reference there too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.errors import ConfigurationError

SYSTEM = "sage_pro"


_COLUMN_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:(D)|C\((\d{1,3})\))?\s*$")


def column_spec(value: str) -> tuple[str, str | None, int | None]:
    """A SAGEPRO_COLUMNS value: the site's column name, and optionally its VFP type, D or C(n):
    "CHKNO" -> ("CHKNO", None, None); "ORDATE C(10)" -> ("ORDATE", "C", 10): a date kept as character
    'MM/DD/YYYY', as one public install keeps somast.ORDATE [C]. ValueError for anything else."""
    match = _COLUMN_SPEC.match(value or "")
    if not match:
        raise ValueError(f"not a column name with an optional type D or C(n): {value!r}")
    name, date_kind, width = match.groups()
    if width is not None and not 1 <= int(width) <= 254:
        raise ValueError(f"C(n) takes 1..254 characters, got {value!r}")
    return name, "D" if date_kind else ("C" if width else None), int(width) if width else None


@dataclass(frozen=True)
class SageProConfig:
    """One Sage Pro company reached over SQL (the SQL Server edition in production)."""

    database_url: str = field(repr=False)  # may carry a password
    company: str = "01"
    cash_table: str = "arcash"  # [I] modelled: not publicly documented
    gl_table: str = "gltran"  # [I] likewise
    columns: tuple[tuple[str, str], ...] = ()  # ("table.COLUMN", "site name") renames
    order_reference: str = "PONUM"  # [I] somast column carrying our reference (PONUM or REF)
    lock_timeout_seconds: float = 5.0
    user: str = "PSYN"  # ADDUSER is C(4): who wrote the row, as Sage Pro's own audit columns show it
    # [I] The terms a customer paysync creates gets (arcust.PTERMS / PNET [C names]), as Sage Pro gives a
    # new customer the company's default terms; an invoice without a due date falls due PNET days after it.
    terms: str = "Net 30"
    net_days: int = 30
    # [I] The zone of Sage Pro's date/time stamps (ADDDATE/ADDTIME, CHGDATE/CHGTIME): the local time of the
    # site's workstations, taken to be the merchant's. paysync stamps its rows in it too, and reads
    # customers_changed_since's clock in it.
    timezone: str = "America/Los_Angeles"
    # The payment lifecycle (docs/sage-pro.md). [I] codes: ARTYPE of a credit memo in armast/artran,
    # TRANTYPE of an arcash refund and reversal (a receipt's TRANTYPE is blank, as rows written before).
    credit_memo_type: str = "C"
    refund_type: str = "R"
    reversal_type: str = "V"

    def __post_init__(self) -> None:
        problems = []
        if not (len(self.company) == 2 and self.company.isdigit()):
            problems.append(f"company must be two digits, got {self.company!r}")
        for name in (self.cash_table, self.gl_table):
            if not name.isidentifier():
                problems.append(f"not a SQL name: {name!r}")
        for column, spec in self.columns:
            try:
                column_spec(spec)
            except ValueError as exc:
                problems.append(f"{column}: {exc}")
        if self.order_reference not in ("PONUM", "REF"):
            problems.append(f"order_reference must be PONUM or REF, got {self.order_reference!r}")
        codes = (self.credit_memo_type, self.refund_type, self.reversal_type)
        if any(len(c) != 1 or not c.strip() for c in codes) or len(set(codes[1:])) != 2:
            problems.append(f"credit_memo_type, refund_type and reversal_type are one character each, the last two "
                            f"distinct, got {codes!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown time zone {self.timezone!r}")
        if not 0 <= self.net_days <= 999 or len(self.terms) > 20:
            problems.append(f"net_days is 0..999 (PNET N(3)) and terms at most 20 characters, got {self.net_days!r}, "
                            f"{self.terms!r}")
        if len(self.user) > 4 or self.lock_timeout_seconds <= 0:
            problems.append("user is at most 4 characters and lock_timeout_seconds positive")
        if problems:
            raise ConfigurationError("; ".join(problems), system=SYSTEM, operation="config")

    def table(self, base: str) -> str:
        """The physical table name: `arcust` -> `arcust01`; the cash and GL bases come from config."""
        base = {"arcash": self.cash_table, "gltran": self.gl_table}.get(base, base)
        return f"{base}{self.company}"
