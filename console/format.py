"""How the console writes things for a finance person: money with its currency, local dates, masked text.

Everything a template prints goes through `shown` (Jinja's finalize), so a card number that
reached the database by some path nobody foresaw is still masked on the page: the last line of
defence, behind the masking that happens before anything is stored.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency

from schemas.masking import mask_payload, mask_text


def shown(value: Any) -> Any:
    """What a template may print: strings masked, None as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, (dict, list)):
        return mask_payload(value)
    return value


def money(amount: Any, currency: str = "USD") -> str:
    """$1,234.50, or an empty string for no amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return mask_text(str(amount))
    return format_currency(value, currency, locale="en_US")


def local_time(moment: datetime | None, zone: str, with_seconds: bool = False) -> str:
    """A UTC moment on the merchant's clock: Nov 21, 2026 3:04 PM PST."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(ZoneInfo(zone))
    clock = local.strftime("%I:%M:%S %p" if with_seconds else "%I:%M %p").lstrip("0")
    return f"{local.strftime('%b')} {local.day}, {local.year} {clock} {local.tzname()}"


def long_day(day: date | None) -> str:
    """Saturday, November 21, 2026."""
    return "" if day is None else f"{day.strftime('%A, %B')} {day.day}, {day.year}"


def words(token: str | None) -> str:
    """create_sales_order -> create sales order; reconcile.amount_mismatch -> reconcile: amount mismatch."""
    return "" if not token else token.replace("_", " ").replace(".", ": ").replace(":", ": ").replace(":  ", ": ")


def install(app, zone: str, currency: str) -> None:
    """The filters and the finalize hook, on a Flask app's Jinja environment."""
    env = app.jinja_env
    env.finalize = shown
    env.filters["money"] = lambda amount, cur=None: money(amount, cur or currency)
    env.filters["when"] = lambda moment, seconds=False: local_time(moment, zone, seconds)
    env.filters["day"] = long_day
    env.filters["words"] = words
