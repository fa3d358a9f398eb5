"""The contract every ERP connector keeps: small, idempotent on our references.

A subclass says how to read and write its ERP (the `_create_*` methods and `find`, which must be
overridden); this base class makes every create idempotent on the deterministic reference by
looking the reference up on the ERP side first, so a crash between the ERP's answer and our own
commit can never duplicate a document, even when our ledger row is gone.

The one exception is `absent=True`: the caller has proof the reference cannot be in the ERP yet
(flows/runs.py: the run wrote the document this one always follows into an ERP that held none of
it, and no earlier attempt of this one ever started), so the lookup would only cost a round trip.
A document written, not found, comes back with `created=True`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, Iterable

from connectors.errors import PermanentError
from schemas.domain import (CreditMemo, Customer, CustomerChange, ErpDocument, InvoiceInfo, JournalEntry, Payment,
                            Refund, Reversal, SalesOrder)


class ErpConnector(ABC):
    """Writes customers, orders, invoices, receipts and journals into one ERP."""

    kind: str = ""
    #: The longest reference the ERP keeps (Sage 50: 20 characters).
    max_reference_length: int = 20
    #: The longest customer name the ERP keeps (None: no limit known); a longer one is cut, and
    #: flows/names.py puts the cut on the review list.
    customer_name_width: int | None = None

    def name_kept_in(self, name: str) -> str:
        """Where the ERP keeps the whole of a name longer than customer_name_width ("" nowhere)."""
        return ""

    # -- must be overridden ---------------------------------------------------------------
    @abstractmethod
    def upsert_customer(self, customer: Customer) -> str:
        """Create or update the customer; return the ERP's customer id. Must be overridden."""

    @abstractmethod
    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        """Every document of `kind` carrying `reference` (references need not be unique)."""

    @abstractmethod
    def _create_sales_order(self, order: SalesOrder) -> ErpDocument: ...

    @abstractmethod
    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument: ...

    @abstractmethod
    def _create_payment(self, payment: Payment) -> ErpDocument: ...

    @abstractmethod
    def _create_journal(self, entry: JournalEntry) -> ErpDocument: ...

    def close(self) -> None:
        """Release connections."""

    # -- the payment lifecycle: refunds, voids, declines (docs/connectors.md) ----------------
    # `find` also answers for the kinds "credit_memo", "refund" and "reversal".
    def _create_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write a credit memo against `memo.invoice_ref`. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot write credit memos")

    def _create_refund(self, refund: Refund) -> ErpDocument:
        """Pay money back, settling `refund.credit_memo_ref`. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot write customer refunds")

    def _create_reversal(self, reversal: Reversal) -> ErpDocument:
        """Reverse the receipt `reversal.payment_ref`; its invoice's open amount comes back. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot reverse receipts")

    def set_status(self, kind: str, key: str, status: str) -> None:
        """Mark a sales order or invoice with a (mapped) status, e.g. a declined payment's. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot mark a {kind}'s status")

    def status_of(self, kind: str, key: str) -> str:
        """The status a sales order or invoice carries now. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot read a {kind}'s status")

    def ensure_credit_memo(self, memo: CreditMemo, *, absent: bool = False) -> ErpDocument:
        return self._ensure("credit_memo", memo.reference, memo.customer_id, memo.amount, absent,
                            lambda: self._create_credit_memo(memo))

    def ensure_refund(self, refund: Refund, *, absent: bool = False) -> ErpDocument:
        return self._ensure("refund", refund.reference, refund.customer_id, refund.amount, absent,
                            lambda: self._create_refund(refund))

    def ensure_reversal(self, reversal: Reversal, *, absent: bool = False) -> ErpDocument:
        return self._ensure("reversal", reversal.reference, reversal.customer_id, reversal.amount, absent,
                            lambda: self._create_reversal(reversal))

    # -- finding the invoice a payment pays, and the invoices falling due (docs/connectors.md) --
    # A payment with `invoice_ref=None` is a receipt on account (unapplied cash): `_create_payment`
    # must write it applied to nothing, and `find("payment", ...)` must still find it.
    #: The invoice fields `find_invoices` can search (the names a mapping's references.links use).
    invoice_link_fields: tuple[str, ...] = ()

    def find_invoices(self, field: str, value: str) -> list[InvoiceInfo]:
        """Every invoice (whoever wrote it) whose link `field` equals `value` exactly. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot search invoices")

    def open_invoices(self, *, customer_id: str | None = None, amount: Decimal | None = None,
                      dated_from: date | None = None, dated_to: date | None = None,
                      due_by: date | None = None) -> Iterable[InvoiceInfo]:
        """Invoices with something still due, narrowed by every filter given. Must be overridden.

        `amount` matches the invoice total; `dated_*` its date (inclusive); `due_by` its due date
        (on or before). An invoice written without a due date takes one from the ERP's own terms
        (the customer's, e.g. Net 30), as the ERP's users would see it.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list open invoices")

    def invoice_info(self, key: str) -> InvoiceInfo:
        """One invoice by its ERP key, with what is due on it now (NotFoundError if none). Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot read an invoice")

    # -- customers, both ways (flows/customers.py) -------------------------------------------
    def customer(self, customer_id: str) -> Customer | None:
        """The ERP's customer `customer_id` as it is now, or None. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot read customers")

    def find_customers(self, *, email: str = "", name: str = "", postal_code: str = "") -> list[Customer]:
        """Customers with this email (case-insensitive), or this name and postal code. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} cannot search customers")

    def customers_changed_since(self, since: datetime | None) -> Iterable[CustomerChange]:
        """Customers created or changed after `since` (every one when None), oldest change first.

        Must be overridden. `changed_at` is the ERP's own clock, used as the next `since`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list changed customers")

    # -- may be overridden ----------------------------------------------------------------
    def find_many(self, kind: str, references: Iterable[str]) -> dict[str, list[ErpDocument]]:
        """`find` for many references at once: reference -> its documents (every reference asked is a key).

        One lookup per reference here; an ERP that can ask for many in one query overrides it.
        """
        return {reference: self.find(kind, reference) for reference in dict.fromkeys(references)}

    def list_documents(self, kind: str, day: date) -> Iterable[ErpDocument]:
        """Every document of `kind` dated `day`, for the nightly check of what PayTrace never had.

        Optional: an ERP that cannot list by date leaves it, and reconciliation then checks only
        the documents our own ledger wrote that day.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list {kind} documents by date")

    # -- idempotent creates ---------------------------------------------------------------
    def ensure_sales_order(self, order: SalesOrder, *, absent: bool = False) -> ErpDocument:
        return self._ensure("sales_order", order.reference, order.customer_id, order.amount, absent,
                            lambda: self._create_sales_order(order))

    def ensure_invoice(self, invoice: SalesOrder, *, absent: bool = False) -> ErpDocument:
        return self._ensure("invoice", invoice.reference, invoice.customer_id, invoice.amount, absent,
                            lambda: self._create_invoice(invoice))

    def ensure_payment(self, payment: Payment, *, absent: bool = False) -> ErpDocument:
        return self._ensure("payment", payment.reference, payment.customer_id, payment.amount, absent,
                            lambda: self._create_payment(payment))

    def ensure_journal(self, entry: JournalEntry, *, absent: bool = False) -> ErpDocument:
        if not entry.is_balanced:
            raise PermanentError(f"journal {entry.reference} does not balance", system=self.kind,
                                 operation="journal_entries")
        debit = sum((l.amount for l in entry.lines if l.amount > 0), Decimal("0"))
        return self._ensure("journal", entry.reference, None, debit, absent, lambda: self._create_journal(entry))

    def _ensure(self, kind: str, reference: str, customer_id: str | None, amount: Decimal, absent: bool,
                create: Callable[[], ErpDocument]) -> ErpDocument:
        """The document of `reference`: the one the ERP holds, or written now (created=True)."""
        if len(reference) > self.max_reference_length:
            raise PermanentError(f"reference {reference!r} is longer than {self.max_reference_length}",
                                 system=self.kind, operation=kind)
        found = None if absent else self._existing(kind, reference, customer_id, amount)
        return found or replace(create(), created=True)

    def _existing(self, kind: str, reference: str, customer_id: str | None,
                  amount: Decimal) -> ErpDocument | None:
        """The document already written for `reference`, or None; a clash is a person's problem."""
        found = self.find(kind, reference)
        mine = [d for d in found if (customer_id is None or d.customer_id == customer_id)
                and (d.amount is None or d.amount == amount)]
        if mine:
            return mine[0]
        if found:
            # Someone else's document carries our reference (Sage 50 references are not unique):
            # creating ours would be allowed, but a person should know the reference is shared.
            other = found[0]
            raise PermanentError(
                f"{kind} reference {reference} already used by {other.key} "
                f"(customer {other.customer_id}, amount {other.amount}); expected {customer_id} {amount}",
                system=self.kind, operation=kind)
        return None
