"""Sage 50 as an ErpConnector: customers by ID, transactions found by ReferenceNumber."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Iterator
from urllib.parse import quote

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, SkippableError, ValidationError
from connectors.sage50 import mapping
from connectors.sage50.client import Sage50Client
from connectors.sage50.config import MAX_REFERENCE_LENGTH, Sage50Config
from connectors.stock import StockKeeper, StockLevel
from schemas.domain import (CreditMemo, Customer, CustomerChange, ErpDocument, InvoiceInfo, JournalEntry, Payment,
                            Refund, Reversal, SalesOrder)

_PATHS = {"sales_order": "/v1/sales_orders", "invoice": "/v1/invoices", "payment": "/v1/payments",
          "journal": "/v1/journal_entries", "credit_memo": "/v1/credit_memos",
          "refund": "/v1/customer_refunds", "reversal": "/v1/receipt_voids"}


class Sage50Connector(ErpConnector, StockKeeper):
    """Writes into one Sage 50 company through its bridge agent."""

    kind = "sage50"
    max_reference_length = MAX_REFERENCE_LENGTH
    invoice_link_fields = tuple(mapping.INVOICE_LINK_FILTERS)
    invoice_reference_field = "ReferenceNumber"
    invoice_po_field = "CustomerPurchaseOrderNumber"
    customer_name_width = mapping.NAME_MAX

    def __init__(self, config: Sage50Config, client: Sage50Client | None = None) -> None:
        self.config = config
        self.client = client or Sage50Client(config)


    def name_kept_in(self, name: str) -> str:
        """A name longer than Sage 50 keeps goes whole into a customer custom field [I] (Sage50Config)."""
        return f"the customer's custom field {self.config.full_name_field!r}" if self.config.full_name_field else ""

    def upsert_customer(self, customer: Customer) -> str:
        """Create the customer, or bring its contact details up to date; no write when nothing changed."""
        path = _customer_path(customer.customer_id)
        body = mapping.customer_body(customer, self.config.full_name_field)
        try:
            current = self.client.get(path)
        except NotFoundError:
            try:
                self.client.post("/v1/customers", {"ID": customer.customer_id, **body})
                return customer.customer_id
            except SkippableError:
                current = self.client.get(path)  # created by a concurrent run a moment ago
        update = mapping.customer_update(current, body)
        if update:
            self.client.put(path, update)
        return customer.customer_id

    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        items = self.client.pages(_PATHS[kind], {"reference_number": reference})
        return [mapping.document(kind, item) for item in items if item.get("ReferenceNumber") == reference]

    def list_documents(self, kind: str, day: date) -> Iterator[ErpDocument]:
        wanted = day.isoformat()
        for item in self.client.pages(_PATHS[kind], {"date_from": wanted, "date_to": wanted}):
            yield mapping.document(kind, item)

    # -- matching: invoices whoever wrote them (docs/sage50-bridge-api.md "Invoices") --------
    def find_invoices(self, field: str, value: str) -> list[InvoiceInfo]:
        items = self.client.pages("/v1/invoices", {mapping.link_filter(field): value})
        # The bridge matches exactly; checking again keeps a looser bridge from linking a payment wrongly.
        return [self._invoice(item) for item in items if item.get(field) == value]

    def open_invoices(self, *, customer_id: str | None = None, amount: Decimal | None = None,
                      dated_from: date | None = None, dated_to: date | None = None,
                      due_by: date | None = None) -> Iterator[InvoiceInfo]:
        query = mapping.open_invoice_query(customer_id, amount, dated_from, dated_to, due_by)
        for item in self.client.pages("/v1/invoices", query):
            yield self._invoice(item)

    def invoice_info(self, key: str) -> InvoiceInfo:
        return self._invoice(self.client.get(f"/v1/invoices/{quote(key, safe='')}"))

    def _invoice(self, record: dict) -> InvoiceInfo:
        return mapping.invoice_info(record, self.config.status_field)

    # -- customers, both ways ---------------------------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        try:
            return mapping.customer_from(self.client.get(_customer_path(customer_id)))
        except NotFoundError:
            return None

    def find_customers(self, *, email: str = "", name: str = "", postal_code: str = "") -> list[Customer]:
        """By e-mail, and by name and postal code together; a name alone (or nothing) finds no one."""
        queries = []
        if email:
            queries.append({"email": email})
        if name and postal_code:
            queries.append({"name": mapping.customer_name(name), "zip": postal_code})
        found: dict[str, Customer] = {}
        for query in queries:
            for item in self.client.pages("/v1/customers", query):
                customer = mapping.customer_from(item)
                found.setdefault(customer.customer_id, customer)
        return list(found.values())

    def customers_changed_since(self, since: datetime | None) -> Iterator[CustomerChange]:
        """Oldest change first, as the bridge lists customers by LastSavedAt (its own clock)."""
        query = {} if since is None else {"modified_since": mapping.query_instant(since)}
        for item in self.client.pages("/v1/customers", query):
            yield mapping.customer_change(item)

    def _create_sales_order(self, order: SalesOrder) -> ErpDocument:
        return mapping.document("sales_order", self.client.post("/v1/sales_orders", mapping.order_body(order)))

    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument:
        return mapping.document("invoice", self.client.post("/v1/invoices", mapping.invoice_body(invoice)))

    def _create_payment(self, payment: Payment) -> ErpDocument:
        return mapping.document("payment", self.client.post("/v1/payments", mapping.payment_body(payment)))

    def _create_journal(self, entry: JournalEntry) -> ErpDocument:
        return mapping.document("journal", self.client.post("/v1/journal_entries", mapping.journal_body(entry)))

    # -- the payment lifecycle (docs/sage50-bridge-api.md "Credit memos" .. "Statuses") ---------
    def _create_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        return mapping.document("credit_memo", self.client.post(_PATHS["credit_memo"], mapping.credit_memo_body(memo)))

    def _create_refund(self, refund: Refund) -> ErpDocument:
        return mapping.document("refund", self.client.post(_PATHS["refund"], mapping.refund_body(refund)))

    def _create_reversal(self, reversal: Reversal) -> ErpDocument:
        return mapping.document("reversal", self.client.post(_PATHS["reversal"], mapping.reversal_body(reversal)))

    def set_status(self, kind: str, key: str, status: str) -> None:
        collection = mapping.status_collection(kind)
        body = mapping.status_body(status, self.config.status_field, self.config.status_max_length)
        self.client.patch(f"/v1/{collection}/{quote(key, safe='')}", body)

    def status_of(self, kind: str, key: str) -> str:
        collection = mapping.status_collection(kind)
        return mapping.status_from(self.client.get(f"/v1/{collection}/{quote(key, safe='')}"),
                                   self.config.status_field)

    # -- stock (docs/sage50-bridge-api.md "Products" and "Sales orders": quantities) ---------------
    def stock_levels(self, items) -> dict[str, StockLevel]:
        wanted = set(items)
        return {p["ID"]: mapping.stock_level(p) for p in self.client.get("/v1/products").get("items", [])
                if p.get("ID") in wanted}

    def allocate(self, order_key: str, lines) -> dict[str, Decimal]:
        """An open Sage 50 sales order commits its stock items by itself [I]: nothing to write, only to check."""
        order = self.client.get(f"/v1/sales_orders/{quote(order_key, safe='')}")
        if order.get("IsClosed"):
            raise ValidationError(f"sales order {order.get('ReferenceNumber')} is closed: it commits no stock",
                                  field="IsClosed", system="sage50", operation="allocate")
        return mapping.committed(order, {line.item_id for line in lines})

    def release(self, order_key: str) -> dict[str, Decimal]:
        """Close the sales order (Sage 50's "Close this SO" [I]); a closed one is left as it is."""
        path = f"/v1/sales_orders/{quote(order_key, safe='')}"
        order = self.client.get(path)
        if not order.get("IsClosed"):
            order = self.client.patch(path, {"IsClosed": True})
        return mapping.committed(order, None)

    def close(self) -> None:
        self.client.close()


def _customer_path(customer_id: str) -> str:
    return f"/v1/customers/{quote(customer_id, safe='')}"
