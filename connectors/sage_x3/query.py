"""api1 `where` clauses in the SData query language, with its quoted and date literals."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Iterable


def literal(value: str | Decimal | date | datetime) -> str:
    """A value in a where clause: 'text' (a quote doubled, as SData wants), a number, @date@ or a
    UTC @date-time@ (SData's date literals; `CREDATTIM gt @2025-01-31T10:00:00Z@` is in public
    code calling api1 [C-code])."""
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc) if value.tzinfo else value  # a naive one is taken as UTC
        return "@" + value.strftime("%Y-%m-%dT%H:%M:%SZ") + "@"
    if isinstance(value, date):
        return f"@{value.isoformat()}@"
    if isinstance(value, Decimal):
        return format(value, "f")
    return "'" + value.replace("'", "''") + "'"


def where_eq(field: str, value: str) -> str:
    """An api1 `where` clause; a quote inside the value is doubled, as SData wants."""
    return f"{field} eq {literal(value)}"


def where_op(field: str, op: str, value: str | Decimal | date | datetime) -> str:
    return f"{field} {op} {literal(value)}"


def where_ieq(field: str, value: str) -> str:
    """Equal ignoring case: SData's lower() [C in the SData spec; I that api1 implements it]."""
    return f"lower({field}) eq {literal(value.lower())}"


def where_in(field: str, values: Iterable[str]) -> str:
    return f"{field} in ({', '.join(literal(v) for v in values)})"


def where_all(*clauses: str) -> str:
    return " and ".join(f"({c})" if " and " in c else c for c in clauses if c)
