"""The field types of a mapping file: codes, currencies, countries, zones, date formats, rate sources, patterns."""
from __future__ import annotations

import re
import string
import zoneinfo
from datetime import date, datetime

import pycountry
from marshmallow import Schema, ValidationError, fields, validate

from schemas.mapping_model import (BRANDS, DEFAULT_PATTERN, ERP_DATE_OBJECT, LARGEST_TRANSACTION_ID, PATTERN_FIELDS,
                                   _REFERENCE_CHARS, _X3_CODE, RateSource)

class Code(fields.String):
    """A code or name as the ERP or PayTrace spells it: text, trimmed, never empty."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ValidationError("Must not be empty.")
        if any(ord(ch) < 32 for ch in text):
            raise ValidationError("Must not contain control characters.")
        return text


class CurrencyCode(Code):
    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).upper()
        if pycountry.currencies.get(alpha_3=code) is None:
            raise ValidationError(f"Not an ISO 4217 currency code: {code!r}.")
        return code


class CountryCode(Code):
    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ValidationError(f"Not an ISO 3166 alpha-2 country code: {code!r}.")
        return code


class TimeZone(Code):
    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"Unknown time zone {name!r} (use an IANA name such as America/Los_Angeles).") from None
        return name


class DateFormat(Code):
    def _deserialize(self, value, attr, data, **kwargs):
        fmt = super()._deserialize(value, attr, data, **kwargs)
        if fmt == ERP_DATE_OBJECT:
            return fmt
        sample = date(2026, 11, 21)  # a day above 12 tells the day from the month
        try:
            back = datetime.strptime(sample.strftime(fmt), fmt).date()
        except ValueError:
            back = None
        if back != sample:
            raise ValidationError(f"{fmt!r} is not a date format with year, month and day (e.g. %Y-%m-%d), "
                                  f"nor {ERP_DATE_OBJECT!r}.")
        return fmt


class RateSourceField(fields.Field):
    """`none`, `{file: rates.csv}` or `{table: NAME}`."""

    default_error_messages = {"invalid": "Must be none, {file: PATH} or {table: NAME}."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.strip().lower() == "none":
            return RateSource("none")
        if isinstance(value, dict) and len(value) == 1:
            (kind, where), = value.items()
            if kind in ("file", "table") and isinstance(where, str) and where.strip():
                where = where.strip()
                if kind == "table" and not all(part.isidentifier() for part in where.split(".")):
                    raise ValidationError(f"Not a table name: {where!r}.")
                return RateSource(kind, where)
        raise self.make_error("invalid")


class ReferencePattern(Code):
    def _deserialize(self, value, attr, data, **kwargs):
        pattern = super()._deserialize(value, attr, data, **kwargs)
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
        except ValueError as exc:
            raise ValidationError(f"Not a reference pattern ({exc}); e.g. {DEFAULT_PATTERN}.") from None
        unknown = sorted(names - set(PATTERN_FIELDS))
        if unknown:
            raise ValidationError(f"Unknown placeholder(s) {', '.join(unknown)}; use {{transaction_id}} and {{code}}.")
        missing = [n for n in PATTERN_FIELDS if n not in names]
        if missing:
            # Without both, two transactions or two steps would share a reference and the ERP lookup
            # that keeps a retry from posting twice would find the wrong document.
            raise ValidationError(f"Must contain {{{missing[0]}}}, so every document's reference is its own.")
        try:
            sample = pattern.format(transaction_id=LARGEST_TRANSACTION_ID, code="INV")
        except (ValueError, KeyError, IndexError) as exc:
            raise ValidationError(f"Not a reference pattern ({exc}); e.g. {DEFAULT_PATTERN}.") from None
        if not _REFERENCE_CHARS.match(sample):
            raise ValidationError("Only letters, digits and . _ / # - may appear in a reference.")
        return pattern


def _brand_key(**kw) -> fields.String:
    return fields.String(validate=validate.OneOf(BRANDS, error="Not a card brand or ACH; use one of: {choices}."), **kw)


def reference_regex(pattern: str, codes: tuple[str, ...]) -> re.Pattern[str]:
    """Every reference `pattern` can make with one of `codes`, as a regular expression (case-insensitive)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if name == "transaction_id":
            out.append(r"\d+")
        elif name == "code":
            out.append("(?:" + "|".join(re.escape(c) for c in codes) + ")")
    return re.compile("".join(out), re.IGNORECASE)


def patterns_overlap(card: str, ach: str, codes: tuple[str, ...]) -> bool:
    """True when a card reference could read as a check's (or the reverse), tried over ids of every length."""
    if card == ach:
        return True
    card_re, ach_re = reference_regex(card, codes), reference_regex(ach, codes)
    samples = [int("1" * n) for n in range(1, 11)] + [LARGEST_TRANSACTION_ID]
    return any(ach_re.fullmatch(card.format(transaction_id=t, code=c)) or
               card_re.fullmatch(ach.format(transaction_id=t, code=c)) for t in samples for c in codes)


class Sage50Defaults(Schema):
    """Sage 50 needs no codes beyond the accounts, item and payment types today."""


class SageX3Defaults(Schema):
    """The X3 site codes every document carries (docs/sage-x3.md)."""

    sales_site = Code(required=True, validate=validate.Regexp(_X3_CODE))
    order_type = Code(required=True, validate=validate.Regexp(_X3_CODE))
    invoice_type = Code(required=True, validate=validate.Regexp(_X3_CODE))
    payment_type = Code(required=True, validate=validate.Regexp(_X3_CODE))
    bank = Code(required=True, validate=validate.Regexp(_X3_CODE))
    journal_code = Code(required=True, validate=validate.Regexp(_X3_CODE))
    journal_type = Code(load_default="ODT", validate=validate.Regexp(_X3_CODE))


class SageProDefaults(Schema):
    """The Sage Pro company (table suffix), the somast column holding our reference, and the audit user."""

    company = Code(required=True, validate=validate.Regexp(r"^\d{2}$", error="Must be two digits, e.g. 01."))
    order_reference = fields.String(load_default="PONUM", validate=validate.OneOf(("PONUM", "REF")))
    user = Code(load_default="PSYN", validate=validate.Length(max=4))


ERP_DEFAULTS_SCHEMAS: dict[str, type[Schema]] = {
    "sage50": Sage50Defaults, "sage_x3": SageX3Defaults, "sage_pro": SageProDefaults}
