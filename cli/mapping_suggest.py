"""`paysync mapping suggest`: which ERP field matches which PayTrace field, by name and by value, with a score.

A person accepts or refuses each suggestion; nothing is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz import fuzz
from rich.console import Console
from rich.table import Table

from schemas.masking import mask_payload

#: Names that mean the same field on either side (compared without case, `_`, `.` or spaces). After
#: the PayTrace names, ERP names go most likely first: a later one scores a little lower, so when
#: two PayTrace fields carry the same value (invoice_id and customer_reference_id both "PO-7"),
#: the likelier reading wins.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("invoice_id", "INVREF", "ReferenceNumber", "PONUM", "InvoiceNumber"),
    ("customer_reference_id", "CUSORDREF", "CustomerPurchaseOrderNumber", "PurchaseOrderNumber", "PONUM"),
    ("email", "receipt_emailed_to", "Email", "WEB", "EmailAddress"),
    ("zip", "POSCOD", "PostalCode", "postal_code"),
    ("amount", "AMTATI", "AMTCUR", "INVAMT", "Amount", "AMTNOT", "ORDAMT", "PAIDAMT", "AMTLIN"),
    ("name", "BPCNAM", "COMPANY", "BPRNAM", "CONTACT"),
    ("street_address", "ADDLIG1", "Address1"),
    ("street_address2", "ADDLIG2", "Address2"),
    ("city", "CTY"),
    ("state", "SAT"),
    ("country", "CRY", "BPACRY"),
    ("customer_id", "BPCNUM", "CustomerID", "CUSTNO", "CUSTGEN", "BPCINV", "BPCORD", "BPR"),
    ("description", "DES", "DESCRIP", "Description", "Memo", "DESVCR", "ITMDES1"),
    ("created.at", "created_at", "INVDAT", "INVDTE", "Date", "ORDDAT", "SODATE", "ACCDAT", "DTEPAID", "TRANDATE"),
    ("tax_amount", "AMTTAX", "TaxAmount", "TAXAMT", "TAX"),
    ("phone", "TEL", "TEL1", "PhoneNumbers", "PHONE"),
    ("email", "WEB", "WEB1", "Email", "EMAIL"),
)
_DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y", "%Y-%m-%d", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y")
NAME_WEIGHT, VALUE_WEIGHT = 0.55, 0.45
SAME_DAY, SAME_NUMBER = 85, 90


@dataclass(frozen=True)
class Suggestion:
    """One proposed match of a PayTrace field to an ERP field, scored 0-100."""

    paytrace_field: str
    erp_field: str
    score: int
    name_score: int
    value_score: int | None  # None when either side has no value to compare
    reason: str


def _compact(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _words(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.rsplit(".", 1)[-1])
    return " ".join(re.split(r"[^0-9A-Za-z]+", spaced)).casefold().strip()


_GROUPS = tuple(tuple(_compact(n) for n in group) for group in SYNONYMS)


def _names(path: str) -> set[str]:
    return {_compact(path), _compact(path.rsplit(".", 1)[-1])}


def name_score(paytrace_field: str, erp_field: str) -> tuple[int, bool]:
    """Similarity of two field names (0-100), and whether they are the same name or known synonyms."""
    left, right = _names(paytrace_field), _names(erp_field)
    if left & right:
        return 100, True
    best = None
    for group in _GROUPS:
        if left & set(group):
            for rank, name in enumerate(group):
                if name in right:
                    score = 100 - 2 * max(0, rank - 1)
                    best = score if best is None else max(best, score)
    if best is not None:
        return best, True
    tail = paytrace_field.rsplit(".", 1)[-1], erp_field.rsplit(".", 1)[-1]
    return int(max(fuzz.ratio(_compact(tail[0]), _compact(tail[1])),
                   fuzz.token_sort_ratio(_words(paytrace_field), _words(erp_field)))), False


def _as_decimal(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(str(value).strip(), fmt).date()
        except ValueError:
            continue
    return None


def value_score(a, b) -> int | None:
    """Similarity of two values (0-100): equal numbers or days score 100; text by fuzzy ratio."""
    if a in (None, "") or b in (None, "") or isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return None
    # Equal days and amounts are weaker evidence than equal text: many fields share a day or a total.
    da, db = _as_date(a), _as_date(b)
    if da and db:
        return SAME_DAY if da == db else 0
    na, nb = _as_decimal(a), _as_decimal(b)
    if na is not None and nb is not None:
        return SAME_NUMBER if na == nb else 0
    sa, sb = str(a).strip().casefold(), str(b).strip().casefold()
    if sa == sb:
        return 100
    return int(fuzz.ratio(sa, sb)) if min(len(sa), len(sb)) >= 3 else 0


def _same(a, b) -> bool:
    da, db = _as_date(a), _as_date(b)
    if da and db:
        return da == db
    na, nb = _as_decimal(a), _as_decimal(b)
    if na is not None and nb is not None:
        return na == nb
    return str(a).strip().casefold() == str(b).strip().casefold()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists of dicts as dotted paths (X3's `SIH0_1.INVREF`, PayTrace's `billing_address.zip`)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("$"):  # api1's $uuid, $links: not fields
                continue
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out.update(_flatten(value[0], prefix))  # the first line stands for its table
    else:
        out[prefix] = value
    return out


def score_pairs(paytrace_record: dict, erp_entity: dict) -> list[Suggestion]:
    """Every PayTrace field against every ERP field, best first."""
    left, right = _flatten(mask_payload(paytrace_record)), _flatten(erp_entity)
    pairs = []
    for pf, pv in left.items():
        for ef, ev in right.items():
            names, synonym = name_score(pf, ef)
            values = value_score(pv, ev)
            same = values is not None and _same(pv, ev)
            score = round(NAME_WEIGHT * names + VALUE_WEIGHT * values) if values is not None \
                else round(NAME_WEIGHT * names)
            reason = ", ".join(x for x in ("synonym" if synonym else f"name {names}",
                                           "same value" if same else
                                           (f"value {values}" if values is not None else "no value to compare"))
                               if x)
            pairs.append(Suggestion(pf, ef, int(score), names, values, reason))
    pairs.sort(key=lambda s: (-s.score, -s.name_score, s.paytrace_field, s.erp_field))
    return pairs


def suggest(paytrace_record: dict, erp_entity: dict, console: Console, *, min_score: int = 50,
            limit: int | None = None) -> list[Suggestion]:
    """Proposed field matches, best first, each field used once; printed for a person to accept."""
    chosen: list[Suggestion] = []
    used_left: set[str] = set()
    used_right: set[str] = set()
    for s in score_pairs(paytrace_record, erp_entity):
        if s.score < min_score:
            break
        if s.paytrace_field in used_left or s.erp_field in used_right:
            continue
        chosen.append(s)
        used_left.add(s.paytrace_field)
        used_right.add(s.erp_field)
    chosen = chosen[:limit] if limit else chosen
    table = Table(title="Suggested field matches (accept the ones that are right)", title_justify="left")
    for column, justify in (("#", "right"), ("PayTrace field", "left"), ("ERP field", "left"), ("score", "right"),
                            ("why", "left")):
        table.add_column(column, justify=justify)
    for n, s in enumerate(chosen, start=1):
        table.add_row(str(n), s.paytrace_field, s.erp_field, str(s.score), s.reason)
    console.print(table)
    if not chosen:
        console.print(f"No match scored {min_score} or more.")
    return chosen
