"""Sage X3 as an ErpConnector: writes by SOAP `save`, lookups by external reference over REST api1."""
from __future__ import annotations

from decimal import Decimal

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, SkippableError, ValidationError
from connectors.sage_x3 import mapping
from connectors.sage_x3.client import SYSTEM, SageX3Client
from connectors.sage_x3.config import SageX3Config, SageX3Layout
from schemas.domain import (CreditMemo, Customer, ErpDocument, JournalEntry, Payment, PostingRules, Refund,
                            Reversal, SalesOrder)


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
        cls = self._class(kind)
        field = mapping.reference_field(kind)
        records = [r for r in self.client.rest_query(cls, mapping.where_eq(field, reference))
                   if r.get(field) == reference and mapping.is_kind(kind, r, lay)]
        if kind == "journal":  # the debit total lives in the lines, which only $details carries
            records = [self.client.rest_details(cls, str(r.get("$key") or f"{r.get('TYP')}~{r.get('NUM')}"))
                       for r in records]
        if kind in ("invoice", "credit_memo"):  # what is still open lives in the open items
            return [mapping.document(kind, r, lay, self._open_amount(r)) for r in records]
        return [mapping.document(kind, r, lay) for r in records]

    def _class(self, kind: str) -> str:
        lay = self.config.layout
        return {"sales_order": lay.order_class, "invoice": lay.invoice_class, "credit_memo": lay.invoice_class,
                "payment": lay.payment_class, "refund": lay.payment_class, "reversal": lay.payment_class,
                "journal": lay.journal_class}[kind]

    def _open_amount(self, record: dict) -> Decimal | None:
        """AMTCUR - PAYCUR over the document's open items (GACCDUDATE, by its NUM and type)."""
        num, typ = str(record.get("NUM")), str(record.get("SIVTYP") or "")
        rows = [r for r in self.client.rest_query(self.config.layout.open_item_class, mapping.where_eq("NUM", num))
                if str(r.get("NUM")) == num and (not typ or str(r.get("TYP")) == typ)]
        return mapping.open_amount(rows)

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

    # ---- the payment lifecycle ---------------------------------------------------------------
    def _create_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """An SIH of the credit-note type against `memo.invoice_ref`; never more than is left to credit.

        X3 checks it too (the sandbox models that); checking first here costs two reads and refuses
        before anything is sent, even on a folder whose own check is looser [I].
        """
        lay = self.config.layout
        origin = lay.credit_memo_origin_field
        try:
            invoice = self.client.rest_details(lay.invoice_class, memo.invoice_ref)
        except NotFoundError as exc:
            raise ValidationError(f"credit memo {memo.reference}: invoice {memo.invoice_ref} does not exist",
                                  field=origin, system=SYSTEM, operation="credit_memo") from exc
        if str(invoice.get("SIVTYP", "")) == lay.credit_memo_type:
            raise ValidationError(f"credit memo {memo.reference}: {memo.invoice_ref} is a credit memo",
                                  field=origin, system=SYSTEM, operation="credit_memo")
        earlier = [r for r in self.client.rest_query(lay.invoice_class, mapping.where_eq(origin, memo.invoice_ref))
                   if str(r.get(origin)) == memo.invoice_ref and mapping.is_kind("credit_memo", r, lay)]
        invoiced = mapping.document("invoice", invoice, lay).amount or Decimal("0")
        credited = sum((mapping.document("credit_memo", r, lay).amount or Decimal("0") for r in earlier),
                       Decimal("0"))
        left = (invoiced - credited).quantize(Decimal("0.01"))  # api1 numbers arrive as JSON numbers
        if memo.amount > left:
            raise ValidationError(f"credit memo {memo.reference}: {memo.amount} is more than the {left} left to "
                                  f"credit on invoice {memo.invoice_ref}", field=lay.invoice_amount,
                                  system=SYSTEM, operation="credit_memo")
        return self._save("credit_memo", self.config.pub_invoice, mapping.credit_memo_object(memo, self.config),
                          memo.reference, memo.amount, memo.customer_id)

    def _create_refund(self, refund: Refund) -> ErpDocument:
        """A payment entry of the refund transaction settling the credit memo; X3 refuses more than is open."""
        return self._save("refund", self.config.pub_payment, mapping.refund_object(refund, self.config),
                          refund.reference, refund.amount, refund.customer_id)

    def _create_reversal(self, reversal: Reversal) -> ErpDocument:
        """A payment entry of the reversal transaction cancelling the receipt in full; its invoices reopen."""
        return self._save("reversal", self.config.pub_payment, mapping.reversal_object(reversal, self.config),
                          reversal.reference, reversal.amount, reversal.customer_id)

    def set_status(self, kind: str, key: str, status: str) -> None:
        """`modify` the order's or invoice's user field [I] (X3's own statuses are coded menus)."""
        lay = self.config.layout
        if kind not in mapping.STATUS_TARGETS:
            raise PermanentError(f"X3 keeps no status on a {kind}", system=SYSTEM, operation="set_status")
        if len(status) > lay.status_length:
            raise ValidationError(f"status {status!r} is longer than {lay.status_length}", field=lay.status_field,
                                  system=SYSTEM, operation="set_status")
        setting, _, key_field = mapping.STATUS_TARGETS[kind]
        self.client.modify(getattr(self.config, setting), {key_field: key}, mapping.status_object(kind, status, lay))

    def status_of(self, kind: str, key: str) -> str:
        if kind not in mapping.STATUS_TARGETS:
            raise PermanentError(f"X3 keeps no status on a {kind}", system=SYSTEM, operation="status_of")
        record = self.client.rest_details(self._class(kind), key)
        return str(record.get(self.config.layout.status_field) or "")

    def close(self) -> None:
        self.client.close()
