"""Value formats of the PayTrace v1 JSON API: amounts, card numbers, dates, timestamps and JSON."""
from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

# [I] PayTrace never states the zone of its export timestamps; auto-settle is documented as
# 8:00 PM Pacific, so the reference infers Pacific time and the simulator follows it.
PACIFIC = ZoneInfo("America/Los_Angeles")

CENT = Decimal("0.01")
# Guards Decimal.quantize against absurd exponents; far above any real card amount.
_MAX_AMOUNT = Decimal("1000000000")
_AMOUNT_TEXT = re.compile(r"^\s*\d+(\.\d+)?\s*$")
_CARD_DIGITS = re.compile(r"^[0-9]{12,19}$")
_US_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


def parse_amount(value: Any) -> Decimal | None:
    """A positive amount with at most two decimals, as Decimal; None when it is not one.

    Money never passes through float: request bodies are parsed with parse_float=Decimal.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, Decimal):
            amount = value
        elif isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, str) and _AMOUNT_TEXT.match(value):
            amount = Decimal(value.strip())
        else:
            return None
        if not amount.is_finite() or amount <= 0 or amount >= _MAX_AMOUNT:
            return None
        # "1.500" is two decimals in value; "1.505" is not.
        if amount != amount.quantize(CENT):
            return None
        return amount.quantize(CENT)
    except InvalidOperation:
        return None


def money_text(amount: Decimal | None) -> str:
    """Two-decimal text, e.g. "8.10", as PayTrace shows `tax_amount`; empty when absent."""
    return "" if amount is None else f"{amount.quantize(CENT):f}"


def luhn_ok(number: str) -> bool:
    """True when `number` is 12..19 ASCII digits passing the Luhn check."""
    if not _CARD_DIGITS.match(number):
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The network by leading digits (simplified: Visa 4, MC 5/2, Amex 34/37, Discover 6)."""
    if number.startswith("4"):
        return "VISA"
    if number[:2] in ("34", "37"):
        return "AMEX"
    if number[:1] in ("5", "2"):
        return "MASTERCARD"
    if number.startswith("6"):
        return "DISCOVER"
    return "OTHER"


def masked_export(bin6: str, last4: str, length: int, include_bin: bool) -> str:
    """Export mask: "************5454", or with include_bin "545454******5454" ([I] layout)."""
    if include_bin:
        return bin6 + "*" * max(length - 10, 0) + last4
    return "*" * max(length - 4, 0) + last4


def masked_response(last4: str) -> str:
    """Transaction-response mask: always 12 "x" then the last four ([C] VCR)."""
    return "x" * 12 + last4


def masked_account(last4: str) -> str:
    """Bank account mask [I]: six "x" then the last four, whatever the length (the length is not
    shown either); no v1 sample of a masked account number was found."""
    return "x" * 6 + last4


def aba_ok(routing: str) -> bool:
    """A nine-digit ABA routing number whose 3-7-1 weighted checksum is a multiple of ten."""
    if len(routing) != 9 or not routing.isascii() or not routing.isdigit():
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights)) % 10 == 0


def timestamp(moment: datetime) -> str:
    """`M/D/YYYY h:mm:ss AM/PM` in Pacific time, e.g. "4/10/2015 4:06:30 PM"."""
    local = moment.astimezone(PACIFIC)
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return f"{local.month}/{local.day}/{local.year} {hour}:{local.minute:02d}:{local.second:02d} {meridiem}"


def pacific_date(moment: datetime) -> date:
    """The calendar date in Pacific time, which date-range filters compare against."""
    return moment.astimezone(PACIFIC).date()


def parse_us_date(value: Any) -> date | None:
    """A strict `MM/DD/YYYY` request date; None for any other shape or an impossible date."""
    if not isinstance(value, str):
        return None
    match = _US_DATE.match(value.strip())
    if not match:
        return None
    month, day, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def truthy(value: Any) -> bool:
    """Loose boolean for flags such as include_bin, which clients send as bool, int or text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


# Decimals must reach the wire as JSON numbers with exactly two decimals (10.50, not "10.50"
# and not 10.5). The stdlib encoder cannot emit a raw number literal, so a Decimal is first
# encoded as a marked string and the marker is then stripped. The marker is random per process
# so no client-supplied text can forge one.
_MARK = f"dec{secrets.token_hex(8)}:"
_MARKED = re.compile('"' + re.escape(_MARK) + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def _encode_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value.quantize(CENT):f}"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(payload: Any) -> str:
    """JSON text in which every Decimal is a two-decimal number literal."""
    text = json.dumps(payload, default=_encode_default, separators=(",", ":"))
    return _MARKED.sub(r"\1", text)


def loads(text: str | bytes) -> Any:
    """Parse a request body keeping every non-integer number as Decimal, never float."""
    return json.loads(text, parse_float=Decimal)


class Streamed:
    """A JSON array written a chunk of records at a time (a batch may hold a million transactions)."""

    def __init__(self, chunks: Callable[[], Iterator[list[Any]]]) -> None:
        self.chunks = chunks


def is_streamed(payload: Any) -> bool:
    return isinstance(payload, dict) and any(isinstance(v, Streamed) for v in payload.values())


def dumps_chunks(payload: dict[str, Any]) -> Iterator[str]:
    """The text of dumps(payload), in pieces; Streamed values are written as they are produced."""
    yield "{"
    for position, (key, value) in enumerate(payload.items()):
        yield ("," if position else "") + json.dumps(key) + ":"
        if not isinstance(value, Streamed):
            yield dumps(value)
            continue
        yield "["
        first = True
        for records in value.chunks():
            if records:
                yield ("" if first else ",") + ",".join(dumps(record) for record in records)
                first = False
        yield "]"
    yield "}"
