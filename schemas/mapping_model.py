"""A mapping file as paysync holds it once loaded: frozen dataclasses, and the names the format knows.

schemas/mapping.py reads a file into these; every other module reads these, never the YAML.
"""
from __future__ import annotations

import decimal
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

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
