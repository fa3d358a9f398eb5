"""Sage X3 as an ErpConnector: writes by SOAP `save`, lookups by external reference over REST api1."""
from __future__ import annotations

from decimal import Decimal

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, SkippableError
from connectors.sage_x3 import mapping
from connectors.sage_x3.client import SYSTEM, SageX3Client
from connectors.sage_x3.config import SageX3Config, SageX3Layout
from schemas.domain import Customer, ErpDocument, JournalEntry, Payment, PostingRules, SalesOrder


class SageX3Connector(ErpConnector):
    """Writes into one X3 folder through its published web services."""

    kind = SYSTEM
    max_reference_length = SageX3Layout.reference_length

    def __init__(self, config: SageX3Config, client: SageX3Client | None = None) -> None:
        self.config = config
        self.client = client or SageX3Client(config)
        self.max_reference_length = config.layout.reference_length

    def upsert_customer(self, customer: Customer) -> str:
        """Read the BPCNUM; save it if X3 has none, modify only the groups that changed."""
        pub = self.config.pub_customer
        bpcnum = mapping.bpcnum_for(customer.customer_id, self.config.layout.bpcnum_length)
        wanted = mapping.customer_object(customer, bpcnum, self.config.currency)
        try:
            current = self.client.read(pub, {"BPCNUM": bpcnum})
        except NotFoundError:
            try:
                self.client.save(pub, wanted)
                return bpcnum
            except SkippableError:
                current = self.client.read(pub, {"BPCNUM": bpcnum})  # a concurrent run saved it a moment ago
        changes = mapping.customer_changes(current, wanted)
        if changes:
            self.client.modify(pub, {"BPCNUM": bpcnum}, changes)
        return bpcnum

    def posting_rules(self, timezone: str) -> PostingRules:
        c = self.config
        return PostingRules(c.cash_account, c.clearing_account, c.default_item, c.payment_method, timezone)

    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        """Every document of `kind` whose external reference is `reference` (X3 keeps them non-unique)."""
        lay = self.config.layout
        cls = {"sales_order": lay.order_class, "invoice": lay.invoice_class, "payment": lay.payment_class,
               "journal": lay.journal_class}[kind]
        field = mapping.reference_field(kind)
        records = [r for r in self.client.rest_query(cls, mapping.where_eq(field, reference))
                   if r.get(field) == reference]
        if kind == "journal":  # the debit total lives in the lines, which only $details carries
            records = [self.client.rest_details(cls, str(r.get("$key") or f"{r.get('TYP')}~{r.get('NUM')}"))
                       for r in records]
        return [mapping.document(kind, r, lay) for r in records]

    def _save(self, kind: str, public_name: str, obj: dict, reference: str, amount: Decimal,
              customer_id: str | None) -> ErpDocument:
        try:
            result = self.client.save(public_name, obj)
        except SkippableError as exc:
            # X3 says the document exists although the lookup by reference found none: a person must look.
            raise PermanentError(f"{kind} {reference}: {exc.message}", system=SYSTEM, operation=exc.operation,
                                 body=exc.body) from exc
        key = mapping.key_of(kind, result, self.config.layout)
        if not key:
            raise PermanentError(f"{kind} {reference}: X3 saved it but returned no document number",
                                 system=SYSTEM, operation=f"save {public_name}")
        return ErpDocument(kind, key, reference, amount=amount, customer_id=customer_id)

    def _create_sales_order(self, order: SalesOrder) -> ErpDocument:
        return self._save("sales_order", self.config.pub_sales_order, mapping.order_object(order, self.config),
                          order.reference, order.amount, order.customer_id)

    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument:
        return self._save("invoice", self.config.pub_invoice, mapping.invoice_object(invoice, self.config),
                          invoice.reference, invoice.amount, invoice.customer_id)

    def _create_payment(self, payment: Payment) -> ErpDocument:
        return self._save("payment", self.config.pub_payment, mapping.payment_object(payment, self.config),
                          payment.reference, payment.amount, payment.customer_id)

    def _create_journal(self, entry: JournalEntry) -> ErpDocument:
        debit = sum((l.amount for l in entry.lines if l.amount > 0), Decimal("0"))
        return self._save("journal", self.config.pub_journal, mapping.journal_object(entry, self.config),
                          entry.reference, debit, None)

    def close(self) -> None:
        self.client.close()
