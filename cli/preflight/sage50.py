"""The Sage 50 bridge agent, read-only: each route paysync uses answers, with the SDK's field names."""
from __future__ import annotations

from cli.preflight.checks import CANNOT_TELL, FAILS, Check, Checks, missing
from config.mapping import account_for, active_mapping, item_for
from config.settings import Settings
from connectors.errors import ConnectorError, MappingError
from connectors.sage50 import Sage50Config
from connectors.sage50.client import Sage50Client


def _routes(cfg: Sage50Config) -> list[tuple[str, list[str]]]:
    return [
        ("/v1/customers", ["ID", "Name", "Email", "PhoneNumbers", "BillToContact", "LastSavedAt", "CustomFields"]),
        ("/v1/sales_orders", ["Key", "ReferenceNumber", "Amount", cfg.status_field]),
        ("/v1/invoices", ["Key", "ReferenceNumber", "Amount", "AmountDue", "DateDue", "CustomerPurchaseOrderNumber",
                          cfg.status_field]),
        ("/v1/payments", ["Key", "ReferenceNumber", "AccountReference", "ApplyToInvoiceLines", "Amount"]),
        ("/v1/journal_entries", ["Key", "ReferenceNumber", "Lines"]),
        ("/v1/credit_memos", ["Key", "ReferenceNumber", "Amount", "AmountDue"]),
        ("/v1/customer_refunds", ["Key", "ReferenceNumber", "AccountReference", "Amount"]),
        ("/v1/receipt_voids", ["Key", "ReferenceNumber", "Amount"]),
    ]


def run(settings: Settings) -> list[Check]:
    c = Checks("Sage 50 bridge")
    cfg = settings.sage50
    client = Sage50Client(cfg)
    upgrade = "the bridge agent: upgrade it to docs/sage50-bridge-api.md"
    try:
        for route, fields in _routes(cfg):
            what = f"GET {route} answers with {', '.join(f for f in fields if f)}"
            try:
                items = client.get(route, {"limit": 5}).get("items") or []
            except ConnectorError as exc:
                c.add(what, FAILS, exc.message[:200], upgrade if exc.status == 404 else "SAGE50_BASE_URL, SAGE50_API_KEY")
                continue
            if not items:
                c.add(what, CANNOT_TELL, "answers, but holds no record yet")
                continue
            lacking = missing(set().union(*(set(i) for i in items)), fields)
            c.verdict(what, not lacking, f"no {', '.join(lacking)}" if lacking else "", upgrade)
        try:
            mapping = active_mapping(settings)
        except MappingError as exc:
            c.add("the pair's mapping file", FAILS, str(exc)[:240], "the mapping file (paysync mapping check)")
        else:  # the accounts and item the pair's mapping file posts to, by the mapping key that names each
            _known(c, client, "/v1/accounts", {f"mapping accounts.{kind}": account_for(mapping, kind)
                                               for kind in ("cash", "clearing", "bank")})
            _known(c, client, "/v1/products", {"mapping items.default": item_for(mapping)})
    finally:
        client.close()
    return c.found


def _known(c: Checks, client: Sage50Client, route: str, wanted: dict[str, str]) -> None:
    """The accounts / item paysync posts to exist in the company."""
    what = f"{route} has {', '.join(wanted.values())}"
    try:
        have = {str(i.get("ID")) for i in client.get(route).get("items") or []}  # short lists, not paged
    except ConnectorError as exc:
        c.add(what, FAILS, exc.message[:200])
        return
    lacking = {key: value for key, value in wanted.items() if value not in have}
    c.verdict(what, not lacking, f"not found: {', '.join(lacking.values())}", ", ".join(lacking))
