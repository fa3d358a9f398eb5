"""The `where` language of api1 (SData's query language), as much of it as paysync and its tests use."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

# The SData query language, as much of it as paysync and its tests use (sage.md §1.3 names
# BadWhereSyntax): comparisons eq ne lt le gt ge, `in (...)`, the string functions lower/upper/trim,
# and `and` with parentheses; literals 'text' (a quote doubled), numbers, @date@ and @date-time@.
# `or`, `not`, `like` and `between` are SData too but refused here: nothing of ours sends them.
_TOKEN = re.compile(r"\s*(?:(?P<text>'(?:[^']|'')*')|(?P<stamp>@[^@]*@)|(?P<number>-?\d+(?:\.\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),]))")
_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge")
_FUNCTIONS = {"lower": str.lower, "upper": str.upper, "trim": str.strip}


class WhereError(ValueError):
    """A where clause this server cannot read (api1 answers 400 BadWhereSyntax)."""


def _bad(message: str) -> WhereError:
    return WhereError(f"where: {message}")


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        match = _TOKEN.match(expr, pos)
        if not match or match.end() == pos:
            raise _bad(f"cannot parse near {expr[pos:pos + 30].strip()!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind: str, raw: str) -> Any:
    """'text' -> str; 12.5 -> Decimal; @2026-11-20@ -> date; @2026-11-20T10:00:00Z@ -> aware datetime."""
    if kind == "text":
        return raw[1:-1].replace("''", "'")
    if kind == "number":
        return Decimal(raw)
    if kind == "stamp":
        value = _moment(raw[1:-1])
        if value is None:
            raise _bad(f"{raw} is not a date or a date-time")
        return value
    raise _bad(f"expected a value, not {raw!r}")


def _moment(text: str) -> date | datetime | None:
    """An ISO date or date-time (a date-time without a zone is UTC); None if it is neither."""
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class _Parser:
    """where := condition ('and' condition)*; condition := '(' where ')' | operand op value |
    operand 'in' '(' value (',' value)* ')'; operand := PROPERTY | lower|upper|trim '(' PROPERTY ')'."""

    def __init__(self, expr: str) -> None:
        self.tokens, self.pos = _tokens(expr), 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1].lower() != value):
            raise _bad(f"expected {value or 'more'} near {token[1]!r}" if token[1] else f"expected {value or 'more'}")
        self.pos += 1
        return token

    def where(self) -> list:
        conditions = [self.condition()]
        while self.peek()[1].lower() == "and":
            self.take("and")
            conditions.append(self.condition())
        return conditions

    def condition(self) -> Any:
        if self.peek()[1] == "(":
            self.take("(")
            inner = self.where()
            self.take(")")
            return inner
        function, field = self.operand()
        op = self.take()[1].lower()
        if op == "in":
            self.take("(")
            values = [_literal(*self.take())]
            while self.peek()[1] == ",":
                self.take(",")
                values.append(_literal(*self.take()))
            self.take(")")
            return (field, function, "in", values)
        if op not in _OPERATORS:
            raise _bad(f"unknown operator {op!r}")
        return (field, function, op, _literal(*self.take()))

    def operand(self) -> tuple[str | None, str]:
        kind, name = self.take()
        if kind != "name":
            raise _bad(f"expected a property, not {name!r}")
        if self.peek()[1] != "(":
            return None, name
        if name.lower() not in _FUNCTIONS:
            raise _bad(f"unknown function {name}")
        self.take("(")
        kind, field = self.take()
        self.take(")")
        if kind != "name":
            raise _bad(f"{name}() takes a property, not {field!r}")
        return name.lower(), field


def parse_where(expr: str) -> list:
    """The conditions of a where clause, all of which must hold (a nested list is a parenthesised
    group); each condition is (property, function or None, operator, value or [values])."""
    parser = _Parser(expr)
    conditions = parser.where()
    if parser.peek()[0] != "end":
        raise _bad(f"expected 'and' near {parser.peek()[1]!r}")
    return conditions


def where_properties(conditions: list) -> list[str]:
    out: list[str] = []
    for c in conditions:
        out.extend(where_properties(c) if isinstance(c, list) else [c[0]])
    return out


def _order(have: Any, value: Any, function: str | None) -> int | None:
    """-1, 0 or 1 comparing a resource's value with a literal of the where clause; None if they
    cannot be compared (a text where a number or date is expected, an empty date)."""
    if isinstance(value, Decimal):
        try:
            mine = Decimal(str(have))
        except (InvalidOperation, ValueError):
            return None
    elif isinstance(value, (date, datetime)):
        mine = _moment(str(have or ""))
        if isinstance(value, datetime) != isinstance(mine, datetime):
            mine = mine.date() if isinstance(mine, datetime) else None
        if mine is None:
            return None
    else:
        mine = "" if have is None else str(have)
        if function:
            mine = _FUNCTIONS[function](mine)
    return (mine > value) - (mine < value)


def holds(res: dict[str, Any], condition: Any) -> bool:
    """Whether a resource meets a condition (a list: all of them)."""
    if isinstance(condition, list):
        return all(holds(res, c) for c in condition)
    field, function, op, value = condition
    if op == "in":
        return any(_order(res.get(field), v, function) == 0 for v in value)
    order = _order(res.get(field), value, function)
    if order is None:
        return op == "ne"
    return {"eq": order == 0, "ne": order != 0, "lt": order < 0, "le": order <= 0, "gt": order > 0,
            "ge": order >= 0}[op]
