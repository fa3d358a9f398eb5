"""Sage 50 as an ErpConnector: customers by ID, transactions found by ReferenceNumber."""
from __future__ import annotations

from datetime import date
from typing import Iterator
from urllib.parse import quote

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, SkippableError
from connectors.sage50 import mapping
from connectors.sage50.client import Sage50Client
from connectors.sage50.config import MAX_REFERENCE_LENGTH, Sage50Config
from schemas.domain import (CreditMemo, Customer, ErpDocument, JournalEntry, Payment, PostingRules, Refund,
                            Reversal, SalesOrder)

_PATHS = {"sales_order": "/v1/sales_orders", "invoice": "/v1/invoices", "payment": "/v1/payments",
          "journal": "/v1/journal_entries", "credit_memo": "/v1/credit_memos",
          "refund": "/v1/customer_refunds", "reversal": "/v1/receipt_voids"}


class Sage50Connector(ErpConnector):
    """Writes into one Sage 50 company through its bridge agent."""

    kind = "sage50"
    max_reference_length = MAX_REFERENCE_LENGTH

    def __init__(self, config: Sage50Config, client: Sage50Client | None = None) -> None:
        self.config = config
        self.client = client or Sage50Client(config)

    def upsert_customer(self, customer: Customer) -> str:
        path = f"/v1/customers/{quote(customer.customer_id, safe='')}"
        body = mapping.customer_body(customer)
        try:
            current = self.client.get(path)
        except NotFoundError:
            try:
                self.client.post("/v1/customers", {"ID": customer.customer_id, **body})
                return customer.customer_id
            except SkippableError:
                current = self.client.get(path)  # created by a concurrent run a moment ago
        if _differs(current, body):
            self.client.put(path, body)
        return customer.customer_id

    def posting_rules(self, timezone: str) -> PostingRules:
        c = self.config
        return PostingRules(c.cash_account, c.clearing_account, c.default_item, c.payment_method, timezone)

    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        items = self.client.get(_PATHS[kind], params={"reference_number": reference}).get("items", [])
        return [mapping.document(kind, item) for item in items if item.get("ReferenceNumber") == reference]

    def list_documents(self, kind: str, day: date) -> Iterator[ErpDocument]:
        """The bridge lists a kind unfiltered (docs/sage50-bridge-api.md); the date is picked here."""
        wanted = day.isoformat()
        for item in self.client.get(_PATHS[kind]).get("items", []):
            if str(item.get("Date", ""))[:10] == wanted:
                yield mapping.document(kind, item)


    def _create_sales_order(self, order: SalesOrder) -> ErpDocument:
        return mapping.document("sales_order", self.client.post("/v1/sales_orders", mapping.order_body(order)))

    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument:
        return mapping.document("invoice", self.client.post("/v1/invoices", mapping.order_body(invoice)))

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

    def close(self) -> None:
        self.client.close()


def _differs(current: dict, wanted: dict) -> bool:
    """True when a field we manage changed; blank wanted values never erase what Sage 50 has."""
    for key, value in wanted.items():
        if isinstance(value, dict):
            if _differs(current.get(key) or {}, value):
                return True
        elif value not in (None, "") and current.get(key) != value:
            return True
    return False
