"""Marshmallow schemas of a mapping file (one YAML file per integration pair), loaded into frozen dataclasses.

A mapping file holds every rule that turns a PayTrace record into ERP documents (docs/mapping.md).
Field errors and the rules that tie keys together are reported in one pass, each with its path
(`accounts.clearing.by_brand.AMEX: Not a valid string.`), so a finance reviewer fixes the file once.
"""
from __future__ import annotations

import decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from schemas.mapping_checks import cross_errors
from schemas.mapping_fields import (ERP_DEFAULTS_SCHEMAS, Code, CountryCode, CurrencyCode, DateFormat,
                                    RateSourceField, ReferencePattern, TimeZone, _brand_key, reference_regex)
from schemas.mapping_model import *  # noqa: F401,F403  (the loaded file's dataclasses and names, for callers)
from schemas.mapping_model import (BRANDS, DEFAULT_ACH_PATTERN, DEFAULT_CODES, DEFAULT_LINKS, DEFAULT_PATTERN,
                                   DUPLICATE_POLICIES, ERP_KINDS, INVOICE_LOOKUPS, LINK_SOURCES, REFERENCE_LIMITS,
                                   ROUNDING_RULES, UNMATCHED_POLICIES, _X3_CODE, AccountRule, Accounts, Addresses,
                                   Alerts, Currency, Customers, Dates, Items, Mapping, PaymentType, PaymentTypes,
                                   PayTraceSide, Policies, RateSource, Recurring, References, StatusTarget, Statuses,
                                   _frozen)
from schemas.store_mapping import StoreSchema

__all__ = ["parse_mapping", "error_lines", "reference_regex", "MappingSchema", "Mapping"]


# -- schemas ------------------------------------------------------------------------------------
class _Part(Schema):
    """A section of the file: unknown keys are refused (a typo must not be silently ignored)."""

    model: type | None = None

    @post_load
    def _build(self, data, **kwargs):
        return self.model(**data) if self.model else data


class StatusTargetSchema(_Part):
    model = StatusTarget
    error_messages = {"type": "Give one status word, or {invoice: WORD, payment: WORD}."}
    invoice = Code(required=True)
    payment = Code(required=True)

    @pre_load
    def _shorthand(self, data, **kwargs):
        return {"invoice": data, "payment": data} if isinstance(data, str) else data


class StatusesSchema(_Part):
    model = Statuses
    approved = fields.Nested(StatusTargetSchema, required=True)
    authorized = fields.Nested(StatusTargetSchema, load_default=None)
    settled = fields.Nested(StatusTargetSchema, required=True)
    declined = fields.Nested(StatusTargetSchema, required=True)
    voided = fields.Nested(StatusTargetSchema, required=True)
    refunded = fields.Nested(StatusTargetSchema, required=True)
    partially_refunded = fields.Nested(StatusTargetSchema, load_default=None)
    chargeback = fields.Nested(StatusTargetSchema, required=True)


class PaymentTypeSchema(_Part):
    model = PaymentType
    error_messages = {"type": "Give a payment method, or {method: CODE, entry_type: CODE}."}
    method = Code(required=True)
    entry_type = Code(load_default="")

    @pre_load
    def _shorthand(self, data, **kwargs):
        return {"method": data} if isinstance(data, str) else data


class AccountRuleSchema(_Part):
    model = AccountRule
    error_messages = {"type": "Give an account, or {default: ACCOUNT, by_brand: {...}, by_category: {...}}."}
    default = Code(load_default=None)
    by_brand = fields.Dict(keys=_brand_key(), values=Code(), load_default=dict)
    by_category = fields.Dict(keys=Code(), values=Code(), load_default=dict)

    @pre_load
    def _shorthand(self, data, **kwargs):
        return {"default": data} if isinstance(data, str) else data

    @post_load
    def _build(self, data, **kwargs):
        return AccountRule(data["default"], _frozen(data["by_brand"]), _frozen(data["by_category"]))


class AccountsSchema(_Part):
    model = Accounts
    cash = fields.Nested(AccountRuleSchema, required=True)
    clearing = fields.Nested(AccountRuleSchema, required=True)
    bank = fields.Nested(AccountRuleSchema, required=True)
    sale = fields.Nested(AccountRuleSchema, required=True)
    refund = fields.Nested(AccountRuleSchema, required=True)
    fee = fields.Nested(AccountRuleSchema, required=True)
    chargeback = fields.Nested(AccountRuleSchema, required=True)


class ItemsSchema(_Part):
    default = Code(required=True)
    by_category = fields.Dict(keys=Code(), values=Code(), load_default=dict)

    @post_load
    def _build(self, data, **kwargs):
        return Items(data["default"], _frozen(data["by_category"]))


class CurrencySchema(_Part):
    model = Currency
    base = CurrencyCode(required=True)
    rates = RateSourceField(load_default=RateSource("none"))
    rounding = fields.String(required=True, validate=validate.OneOf(
        ROUNDING_RULES, error="Not a rounding rule of Python's decimal module; use one of: {choices}."))


class DatesSchema(_Part):
    model = Dates
    timezone = TimeZone(required=True)
    erp_format = DateFormat(required=True)


class AddressesSchema(_Part):
    default_country = CountryCode(load_default="")
    state_countries = fields.List(CountryCode(), load_default=lambda: ["US", "CA"])
    unknown = fields.String(load_default="error", validate=validate.OneOf(("error", "keep")))
    country_aliases = fields.Dict(keys=Code(), values=CountryCode(), load_default=dict)

    @post_load
    def _build(self, data, **kwargs):
        return Addresses(data["default_country"], tuple(data["state_countries"]), data["unknown"],
                         _frozen({k.casefold(): v for k, v in data["country_aliases"].items()}))


#: The code each step puts in its reference (one field per step, today's codes by default).
CodesSchema = Schema.from_dict({step: Code(load_default=code, validate=validate.Regexp(
    r"^[A-Za-z0-9]{1,6}$", error="Must be 1 to 6 letters or digits.")) for step, code in DEFAULT_CODES.items()},
    name="CodesSchema")


class ReferencesSchema(_Part):
    pattern = ReferencePattern(load_default=DEFAULT_PATTERN)
    ach_pattern = ReferencePattern(load_default=DEFAULT_ACH_PATTERN)
    codes = fields.Nested(CodesSchema, load_default=lambda: dict(DEFAULT_CODES))
    max_length = fields.Integer(load_default=None, validate=validate.Range(min=8, max=60))
    links = fields.Dict(keys=fields.String(validate=validate.OneOf(LINK_SOURCES)), values=Code(),
                        load_default=None)  # None: the ERP's DEFAULT_LINKS
    invoice_lookup = fields.List(fields.String(validate=validate.OneOf(INVOICE_LOOKUPS)),
                                 load_default=lambda: list(INVOICE_LOOKUPS))
    window_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=366))


class PoliciesSchema(_Part):
    model = Policies
    unmatched = fields.String(required=True, validate=validate.OneOf(UNMATCHED_POLICIES))
    duplicate = fields.String(required=True, validate=validate.OneOf(DUPLICATE_POLICIES))
    flags_block_posting = fields.Boolean(required=True)


class CustomersSchema(_Part):
    model = Customers
    duplicates = fields.String(load_default="review", validate=validate.OneOf(("merge", "review")))
    erp_to_paytrace = fields.Boolean(load_default=True)


class RecurringSchema(_Part):
    enabled = fields.Boolean(load_default=False)
    retry_days = fields.List(fields.Integer(validate=validate.Range(min=1, max=90)), load_default=lambda: [3, 7],
                             validate=validate.Length(max=10))
    dunning_status = Code(load_default="Dunning")
    max_age_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=366))

    @post_load
    def _build(self, data, **kwargs):
        days = data["retry_days"]
        if days != sorted(set(days)):
            raise ValidationError("Give the days in increasing order, each once.", "retry_days")
        return Recurring(data["enabled"], tuple(days), data["dunning_status"], data["max_age_days"])


class AlertsSchema(_Part):
    model = Alerts
    decline_rate = fields.Decimal(load_default=decimal.Decimal("0.25"), places=None,
                                  validate=validate.Range(min=0, max=1, min_inclusive=False))
    decline_min_payments = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100000))
    anomalies = fields.Integer(load_default=1, validate=validate.Range(min=0, max=100000))
    window_minutes = fields.Integer(load_default=60, validate=validate.Range(min=1, max=7 * 24 * 60))


class PayTraceSchema(_Part):
    model = PayTraceSide
    account = Code(required=True)
    currency = CurrencyCode(load_default="USD")


class MappingSchema(Schema):
    """A whole mapping file."""

    version = fields.Integer(required=True, validate=validate.Equal(1, error="Only version 1 exists."))
    name = Code(required=True)
    erp = fields.String(required=True, validate=validate.OneOf(ERP_KINDS))
    paytrace = fields.Nested(PayTraceSchema, required=True)
    statuses = fields.Nested(StatusesSchema, required=True)
    payment_types = fields.Dict(keys=fields.String(validate=validate.OneOf(
        ("default",) + BRANDS, error="Use default or a card brand or ACH: {choices}.")),
        values=fields.Nested(PaymentTypeSchema), required=True)
    accounts = fields.Nested(AccountsSchema, required=True)
    items = fields.Nested(ItemsSchema, required=True)
    currency = fields.Nested(CurrencySchema, required=True)
    dates = fields.Nested(DatesSchema, required=True)
    addresses = fields.Nested(AddressesSchema, load_default=lambda: AddressesSchema().load({}))
    references = fields.Nested(ReferencesSchema, load_default=lambda: ReferencesSchema().load({}))
    policies = fields.Nested(PoliciesSchema, required=True)
    customers = fields.Nested(CustomersSchema, load_default=lambda: Customers())
    recurring = fields.Nested(RecurringSchema, load_default=lambda: Recurring())
    alerts = fields.Nested(AlertsSchema, load_default=lambda: Alerts())
    store = fields.Nested(StoreSchema, load_default=None)
    defaults = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=dict)

    @validates_schema(skip_on_field_errors=False)
    def _cross_checks(self, data, **kwargs):
        """Rules that tie sections together; a section with its own errors is not judged again."""
        errors = cross_errors(data)
        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data, **kwargs) -> Mapping:
        erp = data["erp"]
        defaults = ERP_DEFAULTS_SCHEMAS[erp]().load(data["defaults"])
        types = data["payment_types"]
        fallback_entry = defaults.get("payment_type", "")  # X3's PAYTYP when a brand names none

        def typed(pt: PaymentType) -> PaymentType:
            return PaymentType(pt.method, pt.entry_type or fallback_entry)

        payment_types = PaymentTypes(typed(types["default"]) if "default" in types else None,
                                     _frozen({k: typed(v) for k, v in types.items() if k != "default"}))
        refs = data["references"]
        links = DEFAULT_LINKS[erp] if refs["links"] is None else refs["links"]
        references = References(refs["pattern"], _frozen(refs["codes"]),
                                refs["max_length"] or REFERENCE_LIMITS[erp], _frozen(links),
                                tuple(refs["invoice_lookup"]), refs["window_days"], refs["ach_pattern"])
        return Mapping(data["version"], data["name"], erp, data["paytrace"], data["statuses"], payment_types,
                       data["accounts"], data["items"], data["currency"], data["dates"], data["addresses"],
                       references, data["policies"], _frozen(defaults), data["customers"], data["recurring"],
                       data["alerts"], data["store"])


# -- errors as lines ----------------------------------------------------------------------------
def error_lines(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (dotted path, message) pairs, sorted by path.

    A Dict field reports `{"AMEX": {"value": [...]}}`; the `key`/`value` level is folded away
    (no section of the file has a key of those names), a list index reads `[n]`.
    """
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("_schema", "key", "value"):
                path = prefix
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(error_lines(value, path))
    elif isinstance(messages, (list, tuple)):
        for item in messages:
            out.extend(error_lines(item, prefix))
    else:
        out.append((prefix or "(file)", str(messages)))
    return sorted(out, key=lambda pair: pair[0])


def parse_mapping(data: Any) -> Mapping:
    """Validate a parsed file; raises marshmallow.ValidationError with every mistake."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["The file must be a YAML mapping of keys to values."]})
    return MappingSchema().load(data)
