"""A customer's contact as both sides compare it: normalized, fingerprinted, and read from a vault profile."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

import pycountry

from schemas.domain import Address, Customer
from schemas.masking import REDACTED, mask_account_number

#: Bumped when the normalization changes, so every link is compared afresh once (not silently equal).
FINGERPRINT_VERSION = "contact-v1"
_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"[.,]")


def _words(value: Any) -> str:
    """Text compared the way people read it: any case, any spacing, dots and commas ignored."""
    return _SPACES.sub(" ", _DOTS.sub(" ", str(value or ""))).strip().casefold()


def _code(value: Any) -> str:
    return _SPACES.sub("", str(value or "")).upper()


def _country(value: Any) -> str:
    code = _code(value)
    if len(code) == 3 and code.isalpha():
        found = pycountry.countries.get(alpha_3=code)
        return found.alpha_2 if found else code
    return code


def normalized_contact(customer: Customer) -> tuple[str, ...]:
    """Name, email, phone digits and address, each normalized; the customer id and payment data are not in it."""
    a = customer.address
    return (_words(customer.name or a.name), str(customer.email or "").strip().casefold(),
            re.sub(r"\D", "", str(customer.phone or "")), _words(a.line1), _words(a.line2), _words(a.city),
            _code(a.state), _code(a.postal_code), _country(a.country))


def fingerprint(customer: Customer) -> str:
    """sha256 of the normalized contact: equal for the same person however either side spells it."""
    payload = json.dumps([FINGERPRINT_VERSION, *normalized_contact(customer)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def profile_id_of(record: dict) -> str:
    return str(record.get("customer_id") or "").strip()


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    return "" if value is None else str(value).strip()


def profile_customer(record: dict, customer_id: str) -> Customer:
    """A vault profile's contact details as the ERP customer `customer_id`; its payment data is never read."""
    b = record.get("billing_address") or {}
    name = _text(b, "name")
    address = Address(name, _text(b, "street_address"), _text(b, "street_address2"), _text(b, "city"),
                      _text(b, "state"), _text(b, "zip"), _text(b, "country"))
    return Customer(customer_id, name or f"PayTrace customer {profile_id_of(record)}", _text(record, "email"),
                    _text(record, "phone"), address)


def billing_address_for(address: Address) -> dict[str, str] | None:
    """An ERP address as a PayTrace billing_address (sent whole; the cardholder name is left as it is)."""
    parts = {"street_address": address.line1, "street_address2": address.line2, "city": address.city,
             "state": address.state, "zip": address.postal_code, "country": address.country}
    parts = {k: str(v or "").strip() for k, v in parts.items()}
    return parts if any(parts.values()) else None


def masked_number(record: dict) -> str | None:
    """The profile's masked card or account number, reduced to first 6 / last 4 at most whatever came in."""
    card = record.get("credit_card")
    if isinstance(card, dict) and card.get("masked_number"):
        value = str(card["masked_number"]).strip()
        digits = re.sub(r"\D", "", value)
        if len(digits) > 10:  # more than a BIN and last four showing: keep the last four only
            return "x" * 12 + digits[-4:]
        return value[-32:]
    check = record.get("check")
    if isinstance(check, dict):
        for key in ("masked_account_number", "masked_number", "account_number"):
            if check.get(key):
                value = mask_account_number(check[key])
                return None if value == REDACTED else str(value)[-32:]
    return None


def fill_blanks(erp_customer: Customer, profile: Customer) -> Customer:
    """The ERP's customer with only its blank email, phone or (wholly blank) address taken from the profile."""
    a = erp_customer.address
    has_address = any((a.line1, a.line2, a.city, a.state, a.postal_code, a.country))
    address = a if has_address else replace(profile.address, name=a.name or profile.address.name)
    return replace(erp_customer, email=erp_customer.email or profile.email, phone=erp_customer.phone or profile.phone,
                   address=address)
