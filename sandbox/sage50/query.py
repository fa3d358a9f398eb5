"""List queries of the Sage 50 bridge simulator: filters as predicates, and cursor paging.

docs/sage50-bridge-api.md "Lists: filters and paging". Query values are parsed strictly (400 on a
malformed one) so that a client's typo can never widen a lookup into "everything".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping

from .fields import bad_request

PAGE_DEFAULT = 100
PAGE_MAX = 500
_MONEY_RE = re.compile(r"^-?\d+\.\d{2}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLS = {"true": True, "false": False}

Predicate = Callable[[dict[str, Any]], bool]

# The filters every transaction list takes, and the extra ones invoices take.
TRANSACTION_FILTERS = ("reference_number", "customer_id", "date_from", "date_to")
INVOICE_FILTERS = ("customer_purchase_order_number", "open", "amount", "due_by")
CUSTOMER_FILTERS = ("email", "name", "zip", "modified_since")
PAGING = ("limit", "cursor")


@dataclass(frozen=True)
class Page:
    """How many items a list answers at most, and where the previous page stopped."""

    limit: int = PAGE_DEFAULT
    cursor: str | None = None


def page_of(args: Mapping[str, str]) -> Page:
    limit = PAGE_DEFAULT
    if "limit" in args:
        raw = args["limit"]
        if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
            raise bad_request(f"limit '{raw}' must be a whole number from 1 to {PAGE_MAX}", "limit")
        limit = int(raw)
    cursor = args.get("cursor")
    if cursor is not None and not cursor:
        raise bad_request("cursor must not be empty; leave it out for the first page", "cursor")
    return Page(limit, cursor)


def answer(items: list[dict[str, Any]], page: Page, cursor_of: Callable[[dict[str, Any]], str]
           ) -> dict[str, Any]:
    """One page of `items` (already after the cursor); `next_cursor` only when more remain."""
    out: dict[str, Any] = {"items": items[:page.limit]}
    if len(items) > page.limit:
        out["next_cursor"] = cursor_of(items[page.limit - 1])
    return out


# ---- query values ----------------------------------------------------------------------------
def query_day(args: Mapping[str, str], name: str) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        if not _DATE_RE.match(raw):
            raise ValueError(raw)
        date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name} '{raw}' must be a date formatted YYYY-MM-DD", name) from None
    return raw  # ISO dates compare correctly as strings


def query_money(args: Mapping[str, str], name: str) -> Decimal | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not _MONEY_RE.match(raw):
        raise bad_request(f"{name} '{raw}' is not money: use two decimals, e.g. 12.30", name)
    return Decimal(raw)


def query_bool(args: Mapping[str, str], name: str) -> bool | None:
    raw = args.get(name)
    if raw is None:
        return None
    if raw not in _BOOLS:
        raise bad_request(f"{name} '{raw}' must be true or false", name)
    return _BOOLS[raw]


def query_instant(args: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date-time with its UTC offset (`Z` or `+00:00`); a naive one is ambiguous."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} '{raw}' is not an ISO 8601 date-time", name) from None
    if value.tzinfo is None:
        raise bad_request(f"{name} '{raw}' needs a UTC offset, e.g. 2026-11-20T10:00:00Z", name)
    return value.astimezone(timezone.utc)


def postal(value: str) -> str:
    """A postal code as compared: case and spaces ignored ("sw1a 1aa" is "SW1A1AA")."""
    return "".join(value.split()).casefold()


# ---- predicates ------------------------------------------------------------------------------
def transaction_filter(kind: str, args: Mapping[str, str]) -> Predicate:
    """The records of `kind` that every given filter admits."""
    ref, customer = args.get("reference_number"), args.get("customer_id")
    date_from, date_to = query_day(args, "date_from"), query_day(args, "date_to")
    checks: list[Predicate] = []
    if ref is not None:
        checks.append(lambda r: r["ReferenceNumber"] == ref)
    if customer is not None:
        checks.append(lambda r: r.get("CustomerID") == customer)
    if date_from is not None:
        checks.append(lambda r: r["Date"] >= date_from)
    if date_to is not None:
        checks.append(lambda r: r["Date"] <= date_to)
    if kind == "invoices":
        checks.extend(_invoice_checks(args))
    return lambda r: all(check(r) for check in checks)


def _invoice_checks(args: Mapping[str, str]) -> list[Predicate]:
    po = args.get("customer_purchase_order_number")
    is_open, amount, due_by = query_bool(args, "open"), query_money(args, "amount"), query_day(args, "due_by")
    checks: list[Predicate] = []
    if po is not None:
        checks.append(lambda r: r["CustomerPurchaseOrderNumber"] == po)
    if is_open is not None:
        checks.append(lambda r: (r["AmountDue"] > 0) == is_open)
    if amount is not None:
        checks.append(lambda r: r["Amount"] == amount)
    if due_by is not None:
        # An invoice without a DateDue is due on its Date.
        checks.append(lambda r: (r["DateDue"] or r["Date"]) <= due_by)
    return checks


def customer_filter(args: Mapping[str, str]) -> Predicate:
    """Customers by e-mail and name (case-insensitive), Zip (case and spaces ignored), and
    LastSavedAt strictly after `modified_since`."""
    email, name, zip_ = args.get("email"), args.get("name"), args.get("zip")
    since = query_instant(args, "modified_since")
    checks: list[Predicate] = []
    if email is not None:
        checks.append(lambda c: c["Email"].casefold() == email.casefold())
    if name is not None:
        checks.append(lambda c: c["Name"].casefold() == name.casefold())
    if zip_ is not None:
        checks.append(lambda c: postal(c["BillToContact"]["Zip"]) == postal(zip_))
    if since is not None:
        checks.append(lambda c: c["LastSavedAt"] > since)
    return lambda c: all(check(c) for check in checks)


# ---- cursors (opaque to clients) -------------------------------------------------------------
def customer_position(rec: dict[str, Any]) -> tuple[datetime, str]:
    """Customers list oldest change first; LastSavedAt is unique, the ID only breaks a tie."""
    return rec["LastSavedAt"], rec["ID"]


def customer_cursor(out: dict[str, Any]) -> str:
    """From a customer as answered (LastSavedAt already formatted)."""
    return f"{out['LastSavedAt']}~{out['ID']}"


def after_customer(cursor: str) -> Predicate:
    stamp, sep, customer_id = cursor.partition("~")
    try:
        if not sep:
            raise ValueError(cursor)
        position = (datetime.fromisoformat(stamp.replace("Z", "+00:00")), customer_id)
    except ValueError:
        raise bad_request(f"cursor '{cursor}' was not given by this list", "cursor") from None
    return lambda c: customer_position(c) > position


def format_instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
