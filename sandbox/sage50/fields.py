"""Error type and strict request-body parsers for the Sage 50 bridge simulator (Decimal only, never float)."""
from __future__ import annotations

import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

CENT = Decimal("0.01")
ID_MAX = 20
REFERENCE_MAX = 20

# The contract: money is a string with exactly two decimals ("12.30"); a leading minus is allowed
# because journal lines use the sign for debit/credit.
_MONEY_RE = re.compile(r"^-?\d+\.\d{2}$")
_QUANTITY_RE = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SageError(Exception):
    """An error answered as `{"error": {"type", "message", "field"}}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, "field": self.field}}


def bad_request(message: str, field: str | None = None) -> SageError:
    return SageError(400, "BadRequest", message, field)


def invalid(message: str, field: str) -> SageError:
    return SageError(422, "ValidationException", message, field)


def not_found(message: str) -> SageError:
    return SageError(404, "NotFound", message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode a request body; JSON non-integers become Decimal so no float ever exists."""
    if not content_type or content_type.split(";")[0].strip().lower() != "application/json":
        raise bad_request("Content-Type must be application/json")
    if not raw.strip():
        raise bad_request("request body is empty; a JSON object is required")
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the JSON body must be an object")
    return body


def reject_unknown(body: dict[str, Any], allowed: Iterable[str], where: str = "body") -> None:
    """Refuse unexpected keys so a misspelt optional field fails loudly instead of vanishing."""
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise bad_request(f"unknown field(s) in {where}: {', '.join(extra)}", extra[0])


def require(body: dict[str, Any], name: str) -> Any:
    if name not in body or body[name] is None:
        raise bad_request(f"'{name}' is required", name)
    return body[name]


def string(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    max_len: int | None = None,
    field: str | None = None,
    default: str | None = "",
) -> str | None:
    """A string field; too long is the SDK refusing the record (422), a wrong JSON type is 400."""
    field = field or name
    if required:
        value = require(body, name)
    else:
        value = body.get(name)
        if value is None:
            return default
    if not isinstance(value, str):
        raise bad_request(f"'{name}' must be a string", field)
    if max_len is not None and len(value) > max_len:
        raise invalid(
            f"{field} '{value}' is {len(value)} characters; the maximum is {max_len}", field
        )
    return value


def identifier(body: dict[str, Any], name: str = "ID", *, field: str | None = None) -> str:
    """A customer/item ID: required, non-blank, at most 20 characters."""
    value = string(body, name, required=True, max_len=ID_MAX, field=field)
    assert value is not None
    if not value.strip():
        raise invalid(f"{field or name} must not be blank", field or name)
    return value


def reference(body: dict[str, Any]) -> str:
    value = string(body, "ReferenceNumber", required=True, max_len=REFERENCE_MAX)
    assert value is not None
    return value


def money(value: Any, field: str) -> Decimal:
    """Parse money given as a string with two decimals; a JSON number is refused with 422."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"{field} must be a string with two decimals, e.g. \"12.30\"", field)
    if isinstance(value, (int, Decimal)):
        raise invalid(
            f"{field} was sent as a JSON number ({value}); money must be a string with two "
            f"decimals, e.g. \"12.30\"",
            field,
        )
    if not isinstance(value, str) or not _MONEY_RE.match(value):
        raise invalid(
            f"{field} '{value}' is not money: use a string with two decimals, e.g. \"12.30\"",
            field,
        )
    return Decimal(value)


def quantity(value: Any, field: str = "Quantity") -> Decimal:
    """Quantity is not money: a JSON number or a decimal string, kept exact as Decimal."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"{field} must be a number", field)
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, str) and _QUANTITY_RE.match(value):
        result = Decimal(value)
    else:
        raise invalid(f"{field} '{value}' is not a number", field)
    if not result.is_finite() or result <= 0:
        raise invalid(f"{field} must be greater than zero (got {value})", field)
    return result


def day(body: dict[str, Any], name: str = "Date") -> str:
    """A required YYYY-MM-DD date that exists on the calendar; anything else is 422 on the field."""
    value = require(body, name)
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise invalid(f"{name} '{value}' must be a date formatted YYYY-MM-DD", name)
    try:
        date.fromisoformat(value)
    except ValueError:
        raise invalid(f"{name} '{value}' is not a calendar date", name) from None
    return value


def optional_day(body: dict[str, Any], name: str) -> str | None:
    """A YYYY-MM-DD date that may be left out or null (None then)."""
    return None if body.get(name) is None else day(body, name)


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_money(value: Decimal) -> str:
    return str(to_cents(value))


def fmt_quantity(value: Decimal) -> str:
    # normalize() would give "1E+1" for 10; format as plain fixed-point instead.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def object_list(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A required array of objects (Lines, ApplyToInvoiceLines); empty is 422, wrong shape is 400."""
    value = require(body, name)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request(f"'{name}' must be an array of objects", name)
    if not value:
        raise invalid(f"{name} must contain at least one line", name)
    return value


# [I] The Customer PO box of a Sage 50 sales invoice holds 20 characters, like ReferenceNumber.
PO_MAX = 20

ADDRESS_KEYS = ("Address1", "Address2", "City", "State", "Zip", "Country")
# The SDK's Customer [C] (sage.md §2a): BillToContact.Address, a PhoneNumbers collection, custom field
# values. The bridge's JSON keeps those names; each phone number is {"Key", "Number"} [I: the shape].
CUSTOMER_FIELDS = ("Name", "Email", "PhoneNumbers", "BillToContact", "CustomFields")
PHONE_KEYS = ("Phone1", "Phone2", "Fax")  # [I] the number kinds a customer keeps
#: [I] The longest customer name Sage 50 US keeps (the connector cuts to it, docs/sage50-bridge-api.md).
NAME_MAX = 39


def customer_changes(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Validate a customer body (POST, or partial PUT) into the changes to apply."""
    reject_unknown(body, ("ID",) + CUSTOMER_FIELDS)
    changes: dict[str, Any] = {}
    if creating or "Name" in body:
        changes["Name"] = string(body, "Name", required=True, max_len=NAME_MAX)
    if "Email" in body:
        changes["Email"] = string(body, "Email")
    if body.get("PhoneNumbers") is not None:
        numbers = body["PhoneNumbers"]
        if not isinstance(numbers, list) or not all(isinstance(n, dict) for n in numbers):
            raise bad_request("'PhoneNumbers' must be an array of {Key, Number}", "PhoneNumbers")
        phones = {}
        for number in numbers:
            reject_unknown(number, ("Key", "Number"), "PhoneNumbers")
            key = string(number, "Key", required=True, field="PhoneNumbers")
            if key not in PHONE_KEYS:
                raise invalid(f"PhoneNumbers Key '{key}' is not one of {', '.join(PHONE_KEYS)}", "PhoneNumbers")
            phones[key] = string(number, "Number", max_len=20, field="PhoneNumbers")
        changes["PhoneNumbers"] = phones
    if body.get("BillToContact") is not None:
        contact = body["BillToContact"]
        if not isinstance(contact, dict):
            raise bad_request("'BillToContact' must be an object", "BillToContact")
        reject_unknown(contact, ("Address",), "BillToContact")
        address = contact.get("Address") or {}
        if not isinstance(address, dict):
            raise bad_request("'BillToContact.Address' must be an object", "BillToContact")
        reject_unknown(address, ADDRESS_KEYS, "BillToContact.Address")
        changes["BillToContact"] = {k: string(address, k) for k in address}
    if body.get("CustomFields") is not None:
        custom = body["CustomFields"]
        if not isinstance(custom, dict):
            raise bad_request("'CustomFields' must be an object", "CustomFields")
        for name, value in custom.items():
            # null is allowed so a PUT can clear one custom field without touching the rest.
            if value is not None and not isinstance(value, str):
                raise bad_request(f"CustomFields '{name}' must be a string or null", "CustomFields")
        changes["CustomFields"] = dict(custom)
    return changes


def item_lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Shape-check sales order / invoice lines; whether the items exist is checked under the lock."""
    lines = []
    for i, line in enumerate(object_list(body, "Lines")):
        reject_unknown(line, ("ItemID", "Quantity", "UnitPrice", "Description"), f"Lines[{i}]")
        lines.append(
            {
                "ItemID": string(line, "ItemID", required=True),
                "Quantity": quantity(require(line, "Quantity")),
                "UnitPrice": money(require(line, "UnitPrice"), "UnitPrice"),
                "Description": string(line, "Description", default=None),
            }
        )
    return lines

def invoice_lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Shape-check a receipt's ApplyToInvoiceLines; AmountPaid must be positive money.

    The list may be left out or empty: the receipt is then cash on account (a Sage 50
    "prepayment" [I]) and its `Amount` says how much; see `create_payment`.
    """
    value = body.get("ApplyToInvoiceLines")
    if value is None or value == []:
        return []
    applied = []
    for i, line in enumerate(object_list(body, "ApplyToInvoiceLines")):
        reject_unknown(line, ("InvoiceReference", "AmountPaid"), f"ApplyToInvoiceLines[{i}]")
        paid = money(require(line, "AmountPaid"), "AmountPaid")
        if paid <= 0:
            raise invalid(f"AmountPaid must be greater than zero (got {paid})", "AmountPaid")
        applied.append({"InvoiceReference": string(line, "InvoiceReference", required=True), "AmountPaid": paid})
    return applied


def journal_lines(body: dict[str, Any]) -> tuple[list[dict[str, Any]], Decimal]:
    """Shape-check journal lines: at least two, summing to exactly zero; returns (lines, debits)."""
    lines = []
    for i, line in enumerate(object_list(body, "Lines")):
        reject_unknown(line, ("AccountID", "Amount", "Description"), f"Lines[{i}]")
        lines.append(
            {
                "AccountID": string(line, "AccountID", required=True),
                "Amount": money(require(line, "Amount"), "Amount"),
                "Description": string(line, "Description"),
            }
        )
    if len(lines) < 2:
        raise invalid("a journal entry needs at least two lines", "Lines")
    debits = sum((ln["Amount"] for ln in lines if ln["Amount"] > 0), Decimal(0))
    credits = -sum((ln["Amount"] for ln in lines if ln["Amount"] < 0), Decimal(0))
    if debits != credits:
        raise invalid(
            f"Lines do not balance: debits {fmt_money(debits)}, credits {fmt_money(credits)}",
            "Lines",
        )
    return lines, debits


# The note fields a Sage 50 sales order or invoice carries (its Note / Statement Note / Internal
# Note boxes). The SDK property names are [I]; the bridge takes them in a PATCH, the only edit it
# allows on a posted transaction. Their length limit is [I] too.
NOTE_FIELDS = ("CustomerNote", "StatementNote", "InternalNote")
NOTE_MAX = 2000


def note_changes(body: dict[str, Any]) -> dict[str, str]:
    """Validate a PATCH of note fields: at least one, each a string of at most NOTE_MAX characters."""
    reject_unknown(body, NOTE_FIELDS)
    if not body:
        raise bad_request(f"send at least one of {', '.join(NOTE_FIELDS)}")
    changes = {}
    for name in body:
        value = string(body, name, max_len=NOTE_MAX)
        changes[name] = value or ""
    return changes
