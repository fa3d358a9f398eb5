"""The rules of a mapping file that tie its sections together, each mistake keyed by the path to change."""
from __future__ import annotations

from schemas.mapping_fields import ERP_DEFAULTS_SCHEMAS, patterns_overlap
from schemas.mapping_model import (ACCOUNT_KINDS, BRANDS, DEFAULT_LINKS, ERP_KINDS, ERP_NAMES, LARGEST_TRANSACTION_ID,
                                   LINK_SOURCES, LINK_TARGETS, REFERENCE_LIMITS, AccountRule, Accounts, Currency,
                                   PaymentType, PayTraceSide)

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
        if "ach_pattern" in refs and patterns_overlap(refs["pattern"], refs["ach_pattern"], tuple(codes.values())):
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


def _messages(node) -> list[str]:
    if isinstance(node, (list, tuple)):
        return [m for item in node for m in _messages(item)]
    if isinstance(node, dict):
        return [f"{k}: {m}" for k, v in node.items() for m in _messages(v)]
    return [str(node)]
