"""Marshmallow schemas of a mapping file (one YAML file per integration pair), loaded into frozen dataclasses.

A mapping file holds every rule that turns a PayTrace record into ERP documents (docs/mapping.md).
Field errors and the rules that tie keys together are reported in one pass, each with its path
(`accounts.clearing.by_brand.AMEX: Not a valid string.`), so a finance reviewer fixes the file once.
"""
from __future__ import annotations

import decimal
import re
import string
import zoneinfo
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import pycountry
from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from schemas.store_mapping import StoreSchema

ERP_KINDS = ("sage50", "sage_x3", "sage_pro")
ERP_NAMES = {"sage50": "Sage 50", "sage_x3": "Sage X3", "sage_pro": "Sage Pro"}
#: The longest reference each ERP keeps: Sage 50 ReferenceNumber 20 [C]; X3 INVREF/REF 20 [I]; Pro PONUM C(20) [I].
REFERENCE_LIMITS = {"sage50": 20, "sage_x3": 20, "sage_pro": 20}
#: PayTrace transaction ids are JSON integers of at most 10 digits: a pattern must fit the largest.
LARGEST_TRANSACTION_ID = 9_999_999_999
CARD_BRANDS = ("VISA", "MASTERCARD", "AMEX", "DISCOVER", "UNKNOWN")
BRANDS = CARD_BRANDS + ("ACH",)
ACCOUNT_KINDS = ("cash", "clearing", "bank", "sale", "refund", "fee", "chargeback")
PAYTRACE_STATUSES = ("approved", "authorized", "settled", "declined", "voided", "refunded",
                     "partially_refunded", "chargeback")
ROUNDING_RULES = tuple(sorted(name for name in vars(decimal) if name.startswith("ROUND_")))
#: Step -> the code today's flow puts in its references (flows/transform.py STEP_CODES), then lifecycle steps.
DEFAULT_CODES = {"sales_order": "SO", "invoice": "INV", "payment": "RCP", "journal": "JE",
                 "credit_memo": "CM", "refund": "RFD", "void": "VD", "void_journal": "VJE", "chargeback": "CB",
                 "on_account": "OA"}
DEFAULT_PATTERN = "PT{transaction_id}-{code}"
#: Checks (ACH) are numbered apart from card transactions: check 1234 and card sale 1234 must not share a reference.
DEFAULT_ACH_PATTERN = "PTA{transaction_id}-{code}"
PATTERN_FIELDS = ("transaction_id", "code")
LINK_SOURCES = ("invoice_id", "customer_reference_id", "description")
INVOICE_LOOKUPS = LINK_SOURCES + ("amount_and_customer",)
#: ERP invoice fields a PayTrace field may be matched against ([I] where the reference does not confirm them).
LINK_TARGETS = {
    "sage50": ("ReferenceNumber", "CustomerPurchaseOrderNumber"),
    "sage_x3": ("INVREF", "CUSORDREF", "NUM", "SOHNUM"),
    "sage_pro": ("PONUM", "REF", "INVNO", "ORNUM", "SOTRACK"),
}
#: Links used when a file names none: where each ERP keeps the PayTrace invoice id and PO number.
DEFAULT_LINKS = {
    "sage50": {"invoice_id": "ReferenceNumber", "customer_reference_id": "CustomerPurchaseOrderNumber",
               "description": "ReferenceNumber"},
    "sage_x3": {"invoice_id": "INVREF", "customer_reference_id": "CUSORDREF", "description": "INVREF"},
    "sage_pro": {"invoice_id": "PONUM", "customer_reference_id": "PONUM", "description": "PONUM"},
}
UNMATCHED_POLICIES = ("create", "on_account", "review")
DUPLICATE_POLICIES = ("flag", "on_account", "review")
ERP_DATE_OBJECT = "date"  # the ERP takes a date object (Sage Pro's D columns), not text
_REFERENCE_CHARS = re.compile(r"^[A-Za-z0-9._/#-]+$")
_X3_CODE = re.compile(r"^[A-Z0-9_]{1,10}$")


# -- the loaded file: frozen dataclasses ---------------------------------------------------------
@dataclass(frozen=True)
class StatusTarget:
    """What an ERP document is marked with when PayTrace reports one status."""

    invoice: str
    payment: str


@dataclass(frozen=True)
class Statuses:
    """PayTrace status -> ERP invoice and payment status; the two optional ones fall back."""

    approved: StatusTarget
    settled: StatusTarget
    declined: StatusTarget
    voided: StatusTarget
    refunded: StatusTarget
    chargeback: StatusTarget
    authorized: StatusTarget | None = None  # falls back to approved
    partially_refunded: StatusTarget | None = None  # falls back to refunded


@dataclass(frozen=True)
class PaymentType:
    """How the ERP records money received one way: its payment method, and X3's entry type (PAYTYP)."""

    method: str
    entry_type: str = ""


@dataclass(frozen=True)
class PaymentTypes:
    """Card brand or ACH -> PaymentType, with a default for what is not listed."""

    default: PaymentType | None
    by_brand: AbcMapping[str, PaymentType]

    @property
    def brands(self) -> tuple[str, ...]:
        """The brands this pair can record: every brand when there is a default."""
        return BRANDS if self.default is not None else tuple(b for b in BRANDS if b in self.by_brand)


@dataclass(frozen=True)
class AccountRule:
    """One GL account kind: the most specific rule wins (product category, then card brand, then default)."""

    default: str | None
    by_brand: AbcMapping[str, str]
    by_category: AbcMapping[str, str]

    def resolves(self, brand: str) -> bool:
        return self.default is not None or brand in self.by_brand


@dataclass(frozen=True)
class Accounts:
    """GL accounts by transaction type."""

    cash: AccountRule  # undeposited funds: where a receipt lands
    clearing: AccountRule  # card clearing until PayTrace's batch settles
    bank: AccountRule  # where a settled batch is deposited
    sale: AccountRule
    refund: AccountRule
    fee: AccountRule
    chargeback: AccountRule


@dataclass(frozen=True)
class Items:
    """The item an invoice line uses: a default, or one per product category."""

    default: str
    by_category: AbcMapping[str, str]


@dataclass(frozen=True)
class RateSource:
    """Where exchange rates come from: `none`, a CSV file (`currency,rate`), or a table paysync reads."""

    kind: str  # none | file | table
    location: str = ""


@dataclass(frozen=True)
class Currency:
    """The ERP's base currency, where rates come from, and the decimal module's rounding rule."""

    base: str
    rates: RateSource
    rounding: str


@dataclass(frozen=True)
class Dates:
    """The zone PayTrace timestamps are read in, and how the ERP wants a date written."""

    timezone: str
    erp_format: str  # a strftime pattern, or "date" for a date object


@dataclass(frozen=True)
class Addresses:
    """How countries and states are normalized (ISO 3166 alpha-2; subdivision codes)."""

    default_country: str
    state_countries: tuple[str, ...]
    unknown: str  # error | keep
    country_aliases: AbcMapping[str, str]


@dataclass(frozen=True)
class References:
    """Generated references, which PayTrace field links to which ERP field, and how invoices are found."""

    pattern: str
    codes: AbcMapping[str, str]
    max_length: int
    links: AbcMapping[str, str]
    invoice_lookup: tuple[str, ...]
    window_days: int
    ach_pattern: str = DEFAULT_ACH_PATTERN  # checks (ACH): their ids are a sequence of their own


@dataclass(frozen=True)
class Policies:
    """What to do with a payment that matches no invoice, a duplicate or overpayment, and flagged ones."""

    unmatched: str
    duplicate: str
    flags_block_posting: bool


@dataclass(frozen=True)
class Customers:
    """The two-way customer sync (flows/customers.py)."""

    #: A PayTrace profile that looks like an ERP customer it is not linked to (same email, or
    #: same name and postal code): merge (link it to that customer) or review (a person decides).
    duplicates: str = "review"
    #: Send ERP contact changes (address, email, phone) back to linked PayTrace profiles.
    erp_to_paytrace: bool = True


@dataclass(frozen=True)
class Recurring:
    """Charging due ERP invoices to the customer's stored PayTrace profile (flows/recurring.py)."""

    enabled: bool = False
    #: Days after a declined charge to try again, in order; after the last, the invoice stays in dunning.
    retry_days: tuple[int, ...] = (3, 7)
    #: The invoice status written after a declined charge (and kept until it is paid).
    dunning_status: str = "Dunning"
    #: Only invoices due at most this many days ago are charged (older ones are a person's call).
    max_age_days: int = 30


@dataclass(frozen=True)
class Alerts:
    """When the pattern of payments, not one payment, is worth telling a person (alerts/rules.py)."""

    #: Declines above this share of the pair's payments within the window raise an alert.
    decline_rate: decimal.Decimal = decimal.Decimal("0.25")
    #: ...but only once the window holds at least this many payments (three of four is not a trend).
    decline_min_payments: int = 20
    #: This many payments flagged by the anomaly screen within the window raise an alert (0: never).
    anomalies: int = 1
    window_minutes: int = 60


@dataclass(frozen=True)
class PayTraceSide:
    """The PayTrace account (API user) this pair serves, and the currency it takes payments in."""

    account: str
    currency: str


@dataclass(frozen=True)
class Mapping:
    """One integration pair's rules, as validated from its file; `checksum` names the file's exact text."""

    version: int
    name: str
    erp: str
    paytrace: PayTraceSide
    statuses: Statuses
    payment_types: PaymentTypes
    accounts: Accounts
    items: Items
    currency: Currency
    dates: Dates
    addresses: Addresses
    references: References
    policies: Policies
    defaults: AbcMapping[str, Any]
    customers: Customers = Customers()
    recurring: Recurring = Recurring()
    alerts: Alerts = Alerts()
    #: The online store whose orders this pair posts (schemas/store_mapping.py); None: no store.
    store: Any = None
    source: str = ""  # the file it came from
    checksum: str = ""  # sha256 of the file's canonical bytes (config/mapping.py)

    @property
    def short_checksum(self) -> str:
        return self.checksum[:12]


def _frozen(d: dict | None) -> AbcMapping:
    return MappingProxyType(dict(d or {}))


# -- fields -------------------------------------------------------------------------------------
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


# -- rules across sections ----------------------------------------------------------------------
def cross_errors(data: dict) -> dict[str, list[str]]:
    """Every cross-section mistake, keyed by the dotted path of the key to change."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    erp = data.get("erp") if data.get("erp") in ERP_KINDS else None
    types = data.get("payment_types")
    accounts = data.get("accounts")
    refs = data.get("references")
    if isinstance(types, dict) and not types:
        add("payment_types", "List at least one card brand or ACH, or a default.")
    brands = _brands(types)
    if brands and isinstance(accounts, Accounts):
        for kind in ACCOUNT_KINDS:
            rule: AccountRule = getattr(accounts, kind)
            missing = [b for b in brands if not rule.resolves(b)]
            if missing:
                add(f"accounts.{kind}", f"No account for {', '.join(missing)}: give a default or a by_brand "
                                        "entry for every brand in payment_types.")
            for brand in rule.by_brand:
                if brand not in brands:
                    add(f"accounts.{kind}.by_brand.{brand}",
                        f"{brand} has no payment type: add it to payment_types (or a default there).")
    if erp and brands:
        _check_payment_types(erp, types, data.get("defaults"), add)
    if erp and isinstance(refs, dict):
        _check_references(erp, refs, add)
    currency, paytrace = data.get("currency"), data.get("paytrace")
    if isinstance(currency, Currency) and isinstance(paytrace, PayTraceSide):
        if currency.base != paytrace.currency and currency.rates.kind == "none":
            add("currency.rates", f"PayTrace takes {paytrace.currency} and the ERP keeps {currency.base}: "
                                  "give a rates file or table.")
    if erp and isinstance(data.get("defaults"), dict):
        for key, messages in ERP_DEFAULTS_SCHEMAS[erp]().validate(data["defaults"]).items():
            for message in _messages(messages):
                add(f"defaults.{key}" if key != "_schema" else "defaults", message)
    return errors


def _brands(types) -> tuple[str, ...]:
    if not isinstance(types, dict) or not all(isinstance(v, PaymentType) for v in types.values()):
        return ()
    return BRANDS if "default" in types else tuple(b for b in BRANDS if b in types)


def _check_payment_types(erp: str, types: dict, defaults, add) -> None:
    for key, pt in types.items():
        if erp == "sage_x3":
            has_fallback = isinstance(defaults, dict) and defaults.get("payment_type")
            if not pt.entry_type and not has_fallback:
                add(f"payment_types.{key}.entry_type", "Sage X3 needs an entry type (PAYTYP, e.g. RCPCB) here "
                                                       "or defaults.payment_type.")
        elif pt.entry_type:
            add(f"payment_types.{key}.entry_type", f"{ERP_NAMES[erp]} has no payment entry type; remove it.")


def _check_references(erp: str, refs: dict, add) -> None:
    limit = REFERENCE_LIMITS[erp]
    max_length = refs.get("max_length") or limit
    if max_length > limit:
        add("references.max_length", f"{ERP_NAMES[erp]} keeps at most {limit} characters.")
        max_length = limit
    codes = refs.get("codes")
    if isinstance(codes, dict) and "pattern" in refs:
        seen: dict[str, str] = {}
        for step, code in codes.items():
            if code.upper() in seen:
                add(f"references.codes.{step}", f"{code} is already the code of {seen[code.upper()]}: "
                                                "two documents would share a reference.")
            seen.setdefault(code.upper(), step)
        for key in ("pattern", "ach_pattern"):
            if key not in refs:
                continue
            longest = max((refs[key].format(transaction_id=tid, code=code)
                           for code in codes.values() for tid in (1, LARGEST_TRANSACTION_ID)), key=len)
            if len(longest) > max_length:
                add(f"references.{key}", f"Makes references of up to {len(longest)} characters ({longest}) for a "
                                         f"10-digit PayTrace id; {ERP_NAMES[erp]} keeps at most {max_length}.")
        if "ach_pattern" in refs and _patterns_overlap(refs["pattern"], refs["ach_pattern"], tuple(codes.values())):
            add("references.ach_pattern", "Card and check references could be the same (check ids are numbered "
                                          "apart from card ids): make the two patterns differ, e.g. PT and PTA.")
    links = DEFAULT_LINKS[erp] if "links" in refs and refs["links"] is None else refs.get("links")
    if isinstance(links, dict):
        for source, target in links.items():
            if target not in LINK_TARGETS[erp]:
                add(f"references.links.{source}", f"{ERP_NAMES[erp]} has no invoice field {target!r}; use one "
                                                  f"of: {', '.join(LINK_TARGETS[erp])}.")
        for i, step in enumerate(refs.get("invoice_lookup") or ()):
            if step in LINK_SOURCES and step not in links:
                add(f"references.invoice_lookup[{i}]", f"{step} has no ERP field in references.links.")
    lookups = refs.get("invoice_lookup") or ()
    for i, step in enumerate(lookups):
        if step in lookups[:i]:
            add(f"references.invoice_lookup[{i}]", f"{step} is listed twice.")


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


def _patterns_overlap(card: str, ach: str, codes: tuple[str, ...]) -> bool:
    """True when a card reference could read as a check's (or the reverse), tried over ids of every length."""
    if card == ach:
        return True
    card_re, ach_re = reference_regex(card, codes), reference_regex(ach, codes)
    samples = [int("1" * n) for n in range(1, 11)] + [LARGEST_TRANSACTION_ID]
    return any(ach_re.fullmatch(card.format(transaction_id=t, code=c)) or
               card_re.fullmatch(ach.format(transaction_id=t, code=c)) for t in samples for c in codes)


# -- errors as lines ----------------------------------------------------------------------------
def _messages(node) -> list[str]:
    if isinstance(node, (list, tuple)):
        return [m for item in node for m in _messages(item)]
    if isinstance(node, dict):
        return [f"{k}: {m}" for k, v in node.items() for m in _messages(v)]
    return [str(node)]


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

