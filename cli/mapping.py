"""`paysync mapping check|suggest`: a dry run of a mapping file over sample payments, and field-match hints.

`check` validates a file, then shows the exact ERP documents each sample PayTrace transaction
would become (nothing is posted). `suggest` proposes which ERP field matches which PayTrace field,
by name and by value, with a score, for a person to accept. Both are plain functions; the click
commands in cli/main.py only gather their arguments.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

from marshmallow import ValidationError
from rapidfuzz import fuzz
from rich.console import Console
from rich.table import Table

from config.mapping import (Conversion, MappingError, UnmappableError, account_for, convert, erp_date,
                            load_mapping, normalize_address, payment_type_for, paytrace_status, posting_rules,
                            rates_for, reference_for, status_for)
from flows import transform
from schemas.domain import Customer, GatewayTransaction, JournalEntry, Payment, SalesOrder
from schemas.mapping import ACCOUNT_KINDS, ERP_NAMES, Mapping, PaymentType, StatusTarget
from schemas.masking import mask_payload
from schemas.paytrace import load_transaction

#: The transaction types the sale flow posts (flows/payment_sync.py SYNCED_TYPES).
SALE_TYPES = frozenset({"SALE", "SETTLED", "PENDING"})
EXIT_OK, EXIT_SAMPLE_FAILED, EXIT_INVALID = 0, 1, 2


# -- check --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    """What one PayTrace transaction would become in the ERP under a mapping; nothing is posted."""

    transaction: GatewayTransaction
    status: str
    status_target: StatusTarget
    note: str = ""  # why nothing would be posted, when nothing would
    conversion: Conversion | None = None
    payment_type: PaymentType | None = None
    customer: Customer | None = None
    customer_key: str = ""  # the customer's key in the ERP (X3 BPCNUM, Sage Pro CUSTNO)
    sales_order: SalesOrder | None = None
    invoice: SalesOrder | None = None
    payment: Payment | None = None
    journal: JournalEntry | None = None


def preview(mapping: Mapping, record: dict, rates: dict[str, Decimal] | None = None) -> Preview:
    """The documents the sale flow would write for one export record, with the mapping's rules.

    Raises marshmallow.ValidationError for a malformed record and UnmappableError for a payment
    the mapping cannot translate.
    """
    txn = load_transaction(mask_payload(record), mapping.dates.timezone)
    status = paytrace_status(txn)
    target = status_for(mapping, status)
    if txn.is_declined:
        return Preview(txn, status, target, note="declined: nothing is posted to cash")
    if txn.transaction_type not in SALE_TYPES:
        return Preview(txn, status, target, note=f"{txn.transaction_type}: handled by the lifecycle flows")
    conversion = convert(mapping, txn.amount, mapping.paytrace.currency, rates)
    txn = replace(txn, amount=conversion.amount)
    rules = posting_rules(mapping, brand=txn.card_brand)
    customer = transform.customer_for(txn)
    customer = replace(customer, address=normalize_address(mapping, customer.address))
    cid, tid = customer.customer_id, txn.transaction_id

    def ref(doc, step):
        return replace(doc, reference=reference_for(mapping, tid, step))

    return Preview(
        txn, status, target, conversion=conversion, payment_type=payment_type_for(mapping, txn.card_brand),
        customer=customer, customer_key=_erp_customer_key(mapping.erp, cid),
        sales_order=ref(transform.sales_order_for(txn, cid, rules), "sales_order"),
        invoice=ref(transform.invoice_for(txn, cid, "(the sales order)", rules), "invoice"),
        payment=ref(transform.payment_for(txn, cid, "(the invoice)", rules), "payment"),
        journal=ref(transform.journal_for(txn, rules), "journal"),
    )


def _erp_customer_key(erp: str, customer_id: str) -> str:
    if erp == "sage_x3":
        from connectors.sage_x3.config import SageX3Layout
        from connectors.sage_x3.mapping import bpcnum_for

        return bpcnum_for(customer_id, SageX3Layout().bpcnum_length)
    if erp == "sage_pro":
        from connectors.sage_pro.mapping import custno_for

        return custno_for(customer_id)
    return customer_id


def check(path: str | Path, transactions: Iterable[dict] | None, console: Console, *,
          rates: dict[str, Decimal] | None = None) -> int:
    """Validate `path`, then show what each sample export record would become; 0 ok, 1 a sample failed, 2 invalid."""
    try:
        mapping = load_mapping(path)
    except MappingError as exc:
        console.print(f"[bold red]✗ {path} is not a valid mapping file ({len(exc.errors)} "
                      f"error{'s' if len(exc.errors) != 1 else ''}):[/]")
        for line in exc.errors:
            console.print(f"  {line}", markup=False, highlight=False)
        return EXIT_INVALID
    _show_mapping(mapping, console)
    if rates is None and mapping.currency.rates.kind != "table":
        rates = rates_for(mapping)
    failed = 0
    for record in transactions or ():
        try:
            _show_preview(mapping, preview(mapping, record, rates), console)
        except ValidationError as exc:
            failed += 1
            console.rule(f"PayTrace {record.get('transaction_id', '?')}: not a valid export record", style="red")
            console.print(json.dumps(exc.messages, indent=1, default=str), markup=False)
        except UnmappableError as exc:
            failed += 1
            console.rule(f"PayTrace {record.get('transaction_id', '?')}: the mapping cannot translate it",
                         style="red")
            console.print(f"  {exc}", markup=False)
    console.print(f"\n[bold]Dry run: nothing was posted.[/] Postings made with these rules carry checksum "
                  f"[bold]{mapping.short_checksum}[/] (sha256 {mapping.checksum}).", highlight=False)
    if failed:
        console.print(f"[bold red]{failed} sample transaction(s) could not be translated.[/]")
    return EXIT_SAMPLE_FAILED if failed else EXIT_OK


def _show_mapping(m: Mapping, console: Console) -> None:
    console.print(f"[bold green]✓ {m.source} is valid[/]: {m.name}", highlight=False)
    head = Table(show_header=False, box=None, pad_edge=False)
    for key, value in (("ERP", ERP_NAMES[m.erp]), ("PayTrace account", m.paytrace.account),
                       ("Checksum", f"{m.short_checksum}  (sha256 {m.checksum})"),
                       ("Currency", f"{m.paytrace.currency} -> {m.currency.base}, rates {_rates_text(m)}, "
                                    f"{m.currency.rounding}"),
                       ("Dates", f"read in {m.dates.timezone}, written as {m.dates.erp_format}"),
                       ("References", f"{m.references.pattern} (at most {m.references.max_length} characters)"),
                       ("Policies", f"unmatched: {m.policies.unmatched}, duplicate: {m.policies.duplicate}, "
                                    f"flags block posting: {'yes' if m.policies.flags_block_posting else 'no'}")):
        head.add_row(f"[bold]{key}[/]", value)
    console.print(head)
    accounts = Table(title="GL accounts", title_justify="left")
    for column in ("kind", "default", "by brand", "by category"):
        accounts.add_column(column)
    for kind in ACCOUNT_KINDS:
        rule = getattr(m.accounts, kind)
        accounts.add_row(kind, rule.default or "-", _pairs(rule.by_brand), _pairs(rule.by_category))
    console.print(accounts)


def _rates_text(m: Mapping) -> str:
    source = m.currency.rates
    return source.kind if source.kind == "none" else f"{source.kind} {source.location}"


def _pairs(d) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "-"


def _money(amount: Decimal) -> str:
    return f"{amount:,}"


def _show_preview(m: Mapping, p: Preview, console: Console) -> None:
    t = p.transaction
    card = f"{t.card_brand} {t.masked_card[-4:]}" if t.masked_card else t.card_brand
    console.rule(f"PayTrace {t.transaction_id} · {t.transaction_type} · {card} · {_money(t.amount)} "
                 f"{m.paytrace.currency} · {p.status}")
    console.print(f"Status in {ERP_NAMES[m.erp]}: invoice [bold]{p.status_target.invoice}[/], "
                  f"payment [bold]{p.status_target.payment}[/]", highlight=False)
    if p.note:
        console.print(f"[yellow]{p.note}[/]")
        return
    day = erp_date(m, t.created_at)
    c = p.customer
    customer = _fields_table(f"Customer {c.customer_id}", (
        ("our id", c.customer_id), ("ERP key", p.customer_key), ("name", c.name), ("email", c.email),
        ("address", ", ".join(x for x in (c.address.line1, c.address.line2, c.address.city, c.address.state,
                                          c.address.postal_code, c.address.country) if x))))
    console.print(customer)
    console.print(_order_table("Sales order", p.sales_order, day))
    console.print(_order_table("Invoice", p.invoice, day, bills="the sales order above"))
    pay = p.payment
    console.print(_fields_table(f"Receipt {pay.reference}", (
        ("date", str(day)), ("customer", pay.customer_id), ("amount", f"{_money(pay.amount)} {m.currency.base}"),
        ("rate used", f"{p.conversion.rate} ({m.paytrace.currency} -> {m.currency.base})"),
        ("applied to", "the invoice above"), ("cash account", pay.cash_account), ("method", pay.method),
        *((("entry type", p.payment_type.entry_type),) if p.payment_type.entry_type else ()))))
    journal = Table(title=f"Journal {p.journal.reference}  ({day}, {'balanced' if p.journal.is_balanced else 'NOT BALANCED'})",
                    title_justify="left")
    for column, justify in (("account", "left"), ("kind", "left"), ("debit", "right"), ("credit", "right"),
                            ("description", "left")):
        journal.add_column(column, justify=justify)
    kinds = {account_for(m, "clearing", t.card_brand): "clearing", account_for(m, "cash", t.card_brand): "cash"}
    for line in p.journal.lines:
        journal.add_row(line.account, kinds.get(line.account, ""), _money(line.amount) if line.amount > 0 else "",
                        _money(-line.amount) if line.amount < 0 else "", line.description)
    console.print(journal)


def _fields_table(title: str, rows) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def _order_table(kind: str, doc: SalesOrder, day, bills: str = "") -> Table:
    title = f"{kind} {doc.reference}  (customer {doc.customer_id}, {day}{', bills ' + bills if bills else ''})"
    table = Table(title=title, title_justify="left")
    for column, justify in (("item", "left"), ("description", "left"), ("qty", "right"), ("unit price", "right"),
                            ("amount", "right")):
        table.add_column(column, justify=justify)
    for line in doc.lines:
        table.add_row(line.item_id, line.description, str(line.quantity), _money(line.unit_price),
                      _money(line.amount))
    table.add_row("", "[bold]total[/]", "", "", f"[bold]{_money(doc.amount)}[/]")
    return table


# -- sample transactions ------------------------------------------------------------------------
def load_samples(path: str | Path) -> list[dict]:
    """Export records from a JSON file: a list of them, an export answer ({"transactions": [...]}) or one."""
    data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    if isinstance(data, dict):
        data = data.get("transactions", [data])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{path}: expected a list of PayTrace export records")
    return [mask_payload(r) for r in data]


def sandbox_samples(count: int = 4, *, seed: int = 7) -> list[dict]:
    """Start a PayTrace sandbox here, make `count` sales on it (every fourth declined), export them."""
    from config.settings import Secret
    from connectors.paytrace import PayTraceClient, PayTraceGateway
    from connectors.paytrace.config import PayTraceConfig
    from sandbox.paytrace import create_app
    from sandbox.server import SandboxServer

    from cli.traffic import make_sales

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # its per-request lines would bury the preview
    try:
        with SandboxServer(create_app()) as server:
            client = PayTraceClient(PayTraceConfig(server.url, "demo", Secret("demo"), "PAYSYNC1"))
            try:
                sales = make_sales(client, count, seed=seed, decline_every=4)
                gateway = PayTraceGateway(client)
                return [mask_payload(gateway.transaction(s.transaction_id)) for s in sales]
            finally:
                client.close()
    finally:
        werkzeug.setLevel(level)


# -- suggest ------------------------------------------------------------------------------------
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
