"""`paysync mapping check|suggest`: a dry run of a mapping file over sample payments, and field-match hints.

`check` validates a file, then shows the exact ERP documents each sample PayTrace transaction
would become (nothing is posted). `suggest` (cli/mapping_suggest.py) proposes which ERP field
matches which PayTrace field. Both are plain functions; the click commands in cli/main.py only
gather their arguments.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Iterable

from marshmallow import ValidationError
from rich.console import Console
from rich.table import Table

from config.mapping import MappingError, UnmappableError, account_for, erp_date, load_mapping, rates_for
from flows import documents
from flows.preview import Preview, preview  # noqa: F401  (one builder; re-exported for callers)
from schemas.domain import SalesOrder
from schemas.mapping import ACCOUNT_KINDS, ERP_NAMES, Mapping
from schemas.masking import mask_payload

EXIT_OK, EXIT_SAMPLE_FAILED, EXIT_INVALID = 0, 1, 2


# -- check --------------------------------------------------------------------------------------
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
    failed = 0
    if mapping.store is not None:  # the store section, with a sample order's lines (cli/store_preview.py)
        from cli.store_preview import show_store

        failed += 0 if show_store(mapping, console) else 1
    if rates is None and mapping.currency.rates.kind != "table":
        rates = rates_for(mapping)
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
    if p.remark:
        console.print(p.remark, highlight=False)
    day = erp_date(m, t.created_at)
    rate = f"{p.conversion.rate} ({m.paytrace.currency} -> {m.currency.base})"
    c = p.customer
    if c is not None:
        console.print(_fields_table(f"Customer {c.customer_id}", (
            ("our id", c.customer_id), ("ERP key", p.customer_key), ("name", c.name), ("email", c.email),
            ("address", ", ".join(x for x in (c.address.line1, c.address.line2, c.address.city, c.address.state,
                                              c.address.postal_code, c.address.country) if x)))))
    if p.sales_order is not None:
        console.print(_order_table("Sales order", p.sales_order, day))
        console.print(_order_table("Invoice", p.invoice, day, bills="the sales order above"))
    if p.credit_memo is not None:
        console.print(_order_table("Credit memo", p.credit_memo, day, bills="the sale's invoice (credits it)"))
    for pay, applied in ((p.payment, "the invoice above"), (p.on_account, "nothing: on account (unapplied cash)")):
        if pay is not None:
            console.print(_fields_table(f"Receipt {pay.reference}", (
                ("date", str(day)), ("customer", pay.customer_id),
                ("amount", f"{_money(pay.amount)} {m.currency.base}"), ("rate used", rate), ("applied to", applied),
                ("cash account", pay.cash_account), ("method", pay.method),
                *((("entry type", pay.entry_type),) if pay.entry_type else ()))))
    if p.refund is not None:
        r = p.refund
        console.print(_fields_table(f"Customer refund {r.reference}", (
            ("date", str(day)), ("customer", r.customer_id), ("amount", f"{_money(r.amount)} {m.currency.base}"),
            ("rate used", rate), ("settles", "the credit memo above"), ("paid from", r.cash_account),
            ("method", r.method))))
    journal = Table(title=f"Journal {p.journal.reference}  ({day}, {'balanced' if p.journal.is_balanced else 'NOT BALANCED'})",
                    title_justify="left")
    for column, justify in (("account", "left"), ("kind", "left"), ("debit", "right"), ("credit", "right"),
                            ("description", "left")):
        journal.add_column(column, justify=justify)
    brand = documents.brand_of(t)
    kinds = {account_for(m, "clearing", brand): "clearing", account_for(m, "cash", brand): "cash"}
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
