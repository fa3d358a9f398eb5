"""Plain dataclasses that flows and connectors exchange: the contract between core and ERPs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Mapping


def is_settled_status(status_code: str) -> bool:
    """A card export status that says settled: `GB<batch>` [C], or text starting "Settled", the form a
    public client (mantle-paytrace) reads a settled status from [C]."""
    code = (status_code or "").strip().upper()
    return (code.startswith("GB") and code[2:].isdigit()) or code.startswith("SETTLED")


@dataclass(frozen=True)
class Address:
    """A postal address as the gateway gave it."""

    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class GatewayTransaction:
    """One PayTrace transaction as its export reports it; card data already masked."""

    transaction_id: int
    transaction_type: str  # SALE, AUTHORIZATION, REFUND, VOID, DECLINED, ...
    amount: Decimal
    status_code: str  # Y pending, N voided/declined/auth-only, GB<n> settled
    status_message: str
    created_at: datetime
    settled_at: datetime | None
    masked_card: str
    card_brand: str
    invoice_id: str
    customer_reference_id: str
    description: str
    customer_id: str
    email: str
    tax_amount: Decimal
    billing: Address
    approval_code: str
    #: CARD, or ACH for a check: its card_brand is then "ACH", masked_card the masked account and
    #: transaction_id a check id, from a sequence of its own that overlaps the card ids.
    payment_type: str = "CARD"

    @property
    def is_declined(self) -> bool:
        return self.transaction_type == "DECLINED"

    @property
    def is_settled(self) -> bool:
        return is_settled_status(self.status_code)

    @property
    def batch_number(self) -> int | None:
        code = self.status_code
        digits = code[2:] if code.startswith("GB") else ""
        return int(digits) if digits.isdigit() else None

    def to_facts(self) -> dict:
        """The transaction as plain JSON (money as text, times in ISO 8601), for sync_run.facts."""
        facts = {name: getattr(self, name) for name in self.__dataclass_fields__}
        facts["amount"], facts["tax_amount"] = str(self.amount), str(self.tax_amount)
        facts["created_at"] = self.created_at.isoformat()
        facts["settled_at"] = self.settled_at.isoformat() if self.settled_at else None
        facts["billing"] = dict(vars(self.billing))
        return facts

    @classmethod
    def from_facts(cls, facts: dict) -> "GatewayTransaction":
        """Back from to_facts: the record was validated when it was first loaded, so no schema runs again."""
        values = dict(facts)
        values["amount"], values["tax_amount"] = Decimal(values["amount"]), Decimal(values["tax_amount"])
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values["settled_at"] = datetime.fromisoformat(values["settled_at"]) if values.get("settled_at") else None
        values["billing"] = Address(**values["billing"])
        return cls(**values)


@dataclass(frozen=True)
class Customer:
    """An ERP customer derived from the payer."""

    customer_id: str
    name: str
    email: str = ""
    phone: str = ""
    address: Address = field(default_factory=Address)


@dataclass(frozen=True)
class OrderLine:
    """One line of a sales order or invoice."""

    item_id: str
    quantity: Decimal
    unit_price: Decimal
    description: str = ""

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class SalesOrder:
    """A sales order (and, with `order_ref`, the invoice billing it)."""

    reference: str
    customer_id: str
    date: date
    lines: tuple[OrderLine, ...]
    order_ref: str | None = None  # ERP key of the sales order an invoice bills
    #: When the invoice falls due (None: the ERP's terms decide). Recurring billing charges on it.
    due_date: date | None = None
    #: The customer's own order number (PO), kept where the ERP keeps it.
    customer_po: str = ""
    #: The merchant's own invoice number (PayTrace invoice_id), kept whole where the ERP can find it again.
    invoice_id: str = ""

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Payment:
    """A receipt of money applied to one invoice, or held on account (unapplied cash)."""

    reference: str
    customer_id: str
    date: date
    amount: Decimal
    invoice_ref: str | None  # ERP key of the invoice it pays; None: on account, applied to nothing
    cash_account: str
    method: str
    #: The ERP's payment entry type where it has one (Sage X3 PAYTYP); "" elsewhere.
    entry_type: str = ""


@dataclass(frozen=True)
class JournalLine:
    """One journal line: positive amounts debit, negative credit."""

    account: str
    amount: Decimal
    description: str = ""


@dataclass(frozen=True)
class JournalEntry:
    """A general journal entry; it must balance."""

    reference: str
    date: date
    description: str
    lines: tuple[JournalLine, ...]

    @property
    def is_balanced(self) -> bool:
        return len(self.lines) >= 2 and sum((l.amount for l in self.lines), Decimal("0")) == 0


@dataclass(frozen=True)
class ErpDocument:
    """What an ERP holds for one of our references: its own key and the facts we check."""

    kind: str
    key: str
    reference: str
    amount: Decimal | None = None
    amount_due: Decimal | None = None
    customer_id: str | None = None
    #: Written just now into an ERP that held none of its reference (ErpConnector.ensure_*): not part
    #: of what the ERP holds, so two answers for one document compare equal either way.
    created: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class InvoiceInfo:
    """An ERP invoice as the matching and billing flows see it, whoever wrote it."""

    key: str  # the ERP's own key (what a receipt is applied to)
    reference: str  # the invoice's number / reference as people see it
    customer_id: str
    date: date
    amount: Decimal  # the invoice total
    open_amount: Decimal  # what is still due on it now
    due_date: date | None = None
    status: str = ""  # the status text paysync (or a person) marked it with, if any
    #: The invoice's link fields (the ERP's names, e.g. Sage 50 "CustomerPurchaseOrderNumber") -> value.
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerChange:
    """An ERP customer as it is now, and when the ERP last changed it."""

    customer: Customer
    changed_at: datetime


@dataclass(frozen=True)
class CreditMemo:
    """A refund recorded against the invoice it credits (its lines say what is credited)."""

    reference: str
    customer_id: str
    date: date
    invoice_ref: str | None  # ERP key of the invoice it credits; None: on account, applied to no invoice
    lines: tuple[OrderLine, ...]

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Refund:
    """Money paid back to the customer, settling a credit memo (out of the receipt account)."""

    reference: str
    customer_id: str
    date: date
    amount: Decimal
    credit_memo_ref: str  # ERP key of the credit memo it settles
    cash_account: str
    method: str


@dataclass(frozen=True)
class Reversal:
    """A receipt undone (a void before settlement): the invoice it paid is open again."""

    reference: str
    customer_id: str
    date: date
    amount: Decimal
    payment_ref: str  # ERP key of the receipt to reverse
