"""The pure rules a loaded mapping file gives the flows: accounts, items, payment types, references, statuses,
money, dates and addresses (docs/mapping.md). flows/documents.py builds every document with these."""
from __future__ import annotations

import csv
import decimal
import os
import unicodedata
from collections.abc import Mapping as AbcMapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pycountry
from babel.numbers import get_currency_precision

from connectors.errors import UnmappableError
from schemas.domain import Address, GatewayTransaction
from schemas.mapping import ACCOUNT_KINDS, BRANDS, PAYTRACE_STATUSES, Mapping, PaymentType, StatusTarget


def _resolve(location: str, base_dir: str | os.PathLike | None) -> Path:
    path = Path(location)
    return path if path.is_absolute() or base_dir is None else Path(base_dir) / path


# -- rules the flows apply ----------------------------------------------------------------------
def _brand(brand: str | None) -> str | None:
    if brand is None:
        return None
    brand = brand.strip().upper()
    return brand if brand in BRANDS else "UNKNOWN"  # a brand PayTrace adds later is still a card


def account_for(mapping: Mapping, kind: str, brand: str | None = None, category: str | None = None) -> str:
    """The GL account for a kind (cash, clearing, bank, sale, refund, fee, chargeback): category, brand, default."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}; known: {', '.join(ACCOUNT_KINDS)}")
    rule = getattr(mapping.accounts, kind)
    brand = _brand(brand)
    if category is not None and category in rule.by_category:
        return rule.by_category[category]
    if brand is not None and brand in rule.by_brand:
        return rule.by_brand[brand]
    if rule.default is None:
        raise UnmappableError(f"no {kind} account for brand {brand or '(none)'}", f"accounts.{kind}")
    return rule.default


def item_for(mapping: Mapping, category: str | None = None) -> str:
    """The item an invoice line uses."""
    return mapping.items.by_category.get(category, mapping.items.default) if category else mapping.items.default


def payment_type_for(mapping: Mapping, brand_or_ach: str | None) -> PaymentType:
    """How the ERP records money received by a card brand (VISA, ...) or ACH; None means the default."""
    brand = _brand(brand_or_ach)
    types = mapping.payment_types
    found = types.by_brand.get(brand) if brand else None
    if found is None:
        found = types.default
    if found is None:
        raise UnmappableError(f"no payment type for {brand or '(no brand)'}", "payment_types")
    return found


def reference_for(mapping: Mapping, transaction_id: int, step: str, pattern: str | None = None) -> str:
    """The deterministic reference of one step's document, e.g. PT125391271-INV (checks: `ach_pattern`)."""
    codes = mapping.references.codes
    if step not in codes:
        raise UnmappableError(f"no reference code for step {step!r}; known: {', '.join(codes)}", "references.codes")
    pattern = pattern or mapping.references.pattern
    ref = pattern.format(transaction_id=int(transaction_id), code=codes[step])
    if len(ref) > mapping.references.max_length:  # only an id past PayTrace's 10 digits can get here
        raise UnmappableError(f"reference {ref} is longer than {mapping.references.max_length}",
                              "references.pattern")
    return ref


def paytrace_status(txn: GatewayTransaction) -> str:
    """The status-map key a PayTrace transaction is in (approved, authorized, settled, declined, ...)."""
    kind = txn.transaction_type
    if kind == "DECLINED":
        return "declined"
    if kind == "VOID":
        return "voided"
    if kind == "REFUND":
        return "refunded"
    if txn.batch_number is not None or kind == "SETTLED":
        return "settled"
    if kind == "AUTHORIZATION":
        return "authorized"
    return "approved"


def status_for(mapping: Mapping, status: str) -> StatusTarget:
    """The ERP invoice and payment status for a PayTrace status; authorized and partially_refunded fall back."""
    if status not in PAYTRACE_STATUSES:
        raise ValueError(f"unknown PayTrace status {status!r}; known: {', '.join(PAYTRACE_STATUSES)}")
    target = getattr(mapping.statuses, status)
    if target is None:
        target = getattr(mapping.statuses, {"authorized": "approved", "partially_refunded": "refunded"}[status])
    return target


# -- money --------------------------------------------------------------------------------------
class Conversion(NamedTuple):
    """An amount in the ERP's base currency and the rate used (kept on the posting)."""

    amount: Decimal
    rate: Decimal


def read_rates(path: str | os.PathLike) -> dict[str, Decimal]:
    """A rates CSV (`currency,rate`: base-currency units for one unit of `currency`)."""
    rates: dict[str, Decimal] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            code = (row.get("currency") or "").strip().upper()
            try:
                rate = Decimal((row.get("rate") or "").strip())
            except InvalidOperation:
                rate = Decimal("NaN")
            if pycountry.currencies.get(alpha_3=code) is None:
                raise UnmappableError(f"{path} line {n}: not a currency code: {code!r}", "currency.rates")
            if not rate.is_finite() or rate <= 0:
                raise UnmappableError(f"{path} line {n}: not a positive rate: {row.get('rate')!r}",
                                      "currency.rates")
            rates[code] = rate
    return rates


def rates_for(mapping: Mapping) -> dict[str, Decimal] | None:
    """The rates a file source holds ({} for `none`); None for a table, which the flows read themselves."""
    source = mapping.currency.rates
    if source.kind == "file":
        base = Path(mapping.source).parent if mapping.source else None
        return read_rates(_resolve(source.location, base))
    return None if source.kind == "table" else {}


def _money(amount) -> Decimal:
    if isinstance(amount, float):
        raise TypeError("money is Decimal, never float")
    return amount if isinstance(amount, Decimal) else Decimal(str(amount))


def convert(mapping: Mapping, amount, currency: str | None,
            rates: AbcMapping[str, Decimal] | None = None) -> Conversion:
    """`amount` in `currency` (default: the PayTrace account's) as the ERP's base currency.

    Decimal throughout; rounded once, to the base currency's minor unit (babel), by the mapping's
    named rule. The rate is returned so the posting can keep it.
    """
    amount = _money(amount)
    currency = (currency or mapping.paytrace.currency).strip().upper()
    base = mapping.currency.base
    if currency == base:
        rate = Decimal(1)
    else:
        if mapping.currency.rates.kind == "none":
            raise UnmappableError(f"no rate source to convert {currency} to {base}", "currency.rates")
        rate = (rates or {}).get(currency)
        if rate is None:
            source = mapping.currency.rates
            where = f" (rates come from table {source.location}: pass them in)" if rates is None and \
                source.kind == "table" else ""
            raise UnmappableError(f"no {currency}->{base} rate{where}", "currency.rates")
        rate = _money(rate)
    quantum = Decimal(1).scaleb(-get_currency_precision(base))
    with decimal.localcontext() as ctx:
        # exact product first (no double rounding), then one rounding by the named rule
        ctx.prec = max(28, len(amount.as_tuple().digits) + len(rate.as_tuple().digits) + 4)
        converted = (amount * rate).quantize(quantum, rounding=mapping.currency.rounding)
    return Conversion(converted, rate)


# -- dates --------------------------------------------------------------------------------------
def local_date(mapping: Mapping, moment: datetime) -> date:
    """The merchant's calendar date of an aware timestamp."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive timestamp has no zone; PayTrace times are read with the mapping's time zone")
    return moment.astimezone(ZoneInfo(mapping.dates.timezone)).date()


def erp_date(mapping: Mapping, moment: datetime | date) -> str | date:
    """A date as the ERP takes it: text in `dates.erp_format`, or a date object when it is `date`."""
    day = moment if type(moment) is date else local_date(mapping, moment)  # type: ignore[arg-type]
    fmt = mapping.dates.erp_format
    return day if fmt == "date" else day.strftime(fmt)


# -- addresses ----------------------------------------------------------------------------------
_COUNTRY_ALIASES = {"uk": "GB", "great britain": "GB", "england": "GB", "america": "US",
                    "united states of america": "US"}


def _fold(text: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(stripped.replace(".", "").casefold().split())


def _country(raw: str, aliases: AbcMapping[str, str]) -> str | None:
    folded = _fold(raw)
    if not folded:
        return None
    if raw.strip().casefold() in aliases:
        return aliases[raw.strip().casefold()]
    for key, code in aliases.items():
        if _fold(key) == folded:
            return code
    if folded in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[folded]
    try:
        return pycountry.countries.lookup(folded).alpha_2
    except LookupError:
        return None


@lru_cache(maxsize=64)
def _states(country: str) -> dict[str, str]:
    """Folded code, full code and name -> the state's own code (WA, QC), for one country."""
    index: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        code = sub.code.split("-", 1)[1]
        for key in (code, sub.code, sub.name):
            index[_fold(key)] = code
    return index


def normalize_address(mapping: Mapping, address: Address) -> Address:
    """Country to ISO alpha-2 and, for the configured countries, the state to its code (Washington -> WA).

    An unknown country or state raises UnmappableError, or is kept as given when `addresses.unknown`
    is `keep`. A blank country takes `addresses.default_country`.
    """
    cfg = mapping.addresses
    raw_country = address.country.strip() or cfg.default_country
    country = _country(raw_country, cfg.country_aliases) if raw_country else ""
    if country is None:
        if cfg.unknown == "error":
            raise UnmappableError(f"unknown country {raw_country!r}", "addresses.country_aliases")
        country = raw_country
    state = address.state.strip()
    if state and country in cfg.state_countries:
        code = _states(country).get(_fold(state))
        if code is None and cfg.unknown == "error":
            raise UnmappableError(f"unknown state {state!r} of {country}", "addresses.unknown")
        state = code or state
    return replace(address, country=country, state=state)
