"""Stored records of the simulator and how PayTrace's export endpoints render them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .formats import masked_account, masked_export, money_text, timestamp

BILLING_KEYS = ("name", "street_address", "street_address2", "city", "state", "zip", "country")
# The export example carries `county` in shipping_address only [C] (DOC-EXP).
SHIPPING_KEYS = ("name", "street_address", "street_address2", "city", "county", "state", "zip", "country")

SALE, AUTHORIZATION, REFUND = "SALE", "AUTHORIZATION", "REFUND"


def clean_address(raw: Any, keys: tuple[str, ...]) -> dict[str, str]:
    """Every key present, as text, so the export shape never varies with the request."""
    raw = raw if isinstance(raw, dict) else {}
    return {key: "" if raw.get(key) is None else str(raw.get(key)) for key in keys}


@dataclass
class Card:
    """A card as stored: BIN, last four, length and brand only; never the number or the CSC."""

    bin6: str
    last4: str
    length: int
    brand: str
    exp_month: int
    exp_year: int  # four digits

    def export(self, include_bin: bool) -> dict[str, Any]:
        return {
            "masked_number": masked_export(self.bin6, self.last4, self.length, include_bin),
            "expiration_month": self.exp_month,
            # Two digits, as in DOC-EXP's example ("expiration_year":20) [C].
            "expiration_year": self.exp_year % 100,
        }


@dataclass
class Check:
    """A bank account as stored: last four of the account number and the routing number."""

    last4: str
    length: int
    routing_number: str

    def export(self) -> dict[str, Any]:
        # [I] no v1 export of a check (customer or transaction) was found; this shape is a guess.
        return {"masked_account_number": masked_account(self.last4),
                "routing_number": self.routing_number}


@dataclass
class Customer:
    """A vault profile; its merchant-chosen `customer_id` is the reusable payment token."""

    customer_id: str
    card: Card | None
    check: Check | None
    billing: dict[str, str]
    shipping: dict[str, str]
    email: str
    phone: str
    created_at: datetime
    discretionary_data: dict[str, Any] = field(default_factory=dict)

    def export(self) -> dict[str, Any]:
        # [I] beyond customer_id/credit_card/billing_address the keys mirror the transaction record.
        record: dict[str, Any] = {
            "customer_id": self.customer_id,
            "credit_card": self.card.export(False) if self.card else {},
            "billing_address": dict(self.billing),
            "shipping_address": dict(self.shipping),
            "email": self.email,
            "phone": self.phone,
            "discretionary_data": dict(self.discretionary_data),
            "created": timestamp(self.created_at),
        }
        if self.check:
            record["check"] = self.check.export()
        return record


@dataclass
class Txn:
    """One card transaction; its status is derived from the flags, never stored twice."""

    id: int
    kind: str  # SALE | AUTHORIZATION | REFUND
    amount: Decimal
    card: Card | None
    approved: bool
    approval_code: str
    approval_message: str
    avs_response: str
    csc_response: str
    billing: dict[str, str]
    shipping: dict[str, str]
    created_at: datetime
    created_by: str
    from_ip: str
    invoice_id: str = ""
    description: str = ""
    email: str = ""
    tax_amount: Decimal | None = None
    customer_reference_id: str = ""
    customer_id: str = ""
    discretionary_data: dict[str, Any] = field(default_factory=dict)
    captured: bool = False
    voided: bool = False
    batch_number: int | None = None
    settled_at: datetime | None = None
    original_id: int | None = None
    refunded: Decimal = Decimal("0.00")
    #: Export the refund's link to its sale (an invented field no public source shows): only when asked.
    link_exported: bool = False
    level_three: dict[str, Any] = field(default_factory=dict)  # enhanced data; not exported [I]

    @property
    def uncaptured_auth(self) -> bool:
        return (self.kind == AUTHORIZATION and self.approved and not self.captured
                and not self.voided)

    @property
    def status_code(self) -> str:
        """`Y` pending settlement, `GB<n>` settled, `N` voided/declined/authorized-only [C]."""
        if not self.approved or self.voided or self.uncaptured_auth:
            return "N"
        if self.batch_number is not None:
            return f"GB{self.batch_number}"
        return "Y"

    @property
    def pending(self) -> bool:
        return self.status_code == "Y"

    @property
    def transaction_type(self) -> str:
        if not self.approved:
            return "DECLINED"  # [C] PIPE: declines are exported with this type
        if self.voided:
            return "VOID"
        # [I] a captured authorization keeps the type it was created with; its status moves.
        return self.kind

    @property
    def status_message(self) -> str:
        code = self.status_code
        if code == "Y":
            return "Pending Settlement"  # [C]
        if code.startswith("GB"):
            return code  # [C] DOC-EXP shows status_message equal to status_code when settled
        if self.uncaptured_auth:
            return "Authorization Only"  # [C]
        return "Voided" if self.voided else "Declined"  # [I] wording not found

    def export(self, include_bin: bool) -> dict[str, Any]:
        """The §3 transaction record; stable across calls except for the status fields."""
        record: dict[str, Any] = {
            "transaction_id": self.id,
            "credit_card": self.card.export(include_bin) if self.card else {},
            "transaction_type": self.transaction_type,
            "description": self.description,
            "amount": self.amount,  # a two-decimal JSON number via formats.dumps
            "invoice_id": self.invoice_id,
            "shipping_address": dict(self.shipping),
            "billing_address": dict(self.billing),
            # [I] PayTrace emails a receipt when `email` is given, so the address is echoed.
            "receipt_emailed_to": self.email,
            "tax_amount": money_text(self.tax_amount),  # text, as in DOC-EXP ("8.10")
            "customer_reference_id": self.customer_reference_id,
            "approval_code": self.approval_code,
            "approval_message": self.approval_message,
            "avs_response": self.avs_response,
            "csc_response": self.csc_response,
            "status_code": self.status_code,
            "status_message": self.status_message,
            "created": {"through": "API", "at": timestamp(self.created_at),
                        "by": self.created_by, "from_ip": self.from_ip},
            # [I] empty text until settled; only the settled form appears in the sources.
            "settled": timestamp(self.settled_at) if self.settled_at else "",
            "customer_id": self.customer_id,
        }
        if self.kind == REFUND and self.link_exported:
            # No public source shows a link from a refund to its sale: this key is invented, and only
            # a sandbox created with refund_links=True sends it (real records are matched by evidence).
            record["original_transaction_id"] = self.original_id
        return record


@dataclass
class Batch:
    """A settled batch: its number, when it closed, and the transactions it took."""

    number: int
    created_at: datetime
    txn_ids: list[int]

    def export(self, txns: dict[int, Txn], totals: bool = False) -> dict[str, Any]:
        """`number` [C] and when it closed [I]; totals only when asked (sandbox answers.batch_totals):
        their names follow the legacy BATCHNUM, WHEN, TRANXCOUNT, NETAMOUNT, SALESCOUNT, SALESAMOUNT,
        REFUNDCOUNT, REFUNDAMOUNT fields and no v1 source confirms them [I]."""
        if not totals:
            return {"number": self.number, "created": timestamp(self.created_at)}
        members = [txns[i] for i in self.txn_ids]
        sales = [t for t in members if t.kind != REFUND]
        refunds = [t for t in members if t.kind == REFUND]
        sales_amount = sum((t.amount for t in sales), Decimal("0.00"))
        refund_amount = sum((t.amount for t in refunds), Decimal("0.00"))
        return {
            "number": self.number,
            "created": timestamp(self.created_at),
            "transaction_count": len(members),
            "net_amount": sales_amount - refund_amount,
            "sales_count": len(sales),
            "sales_amount": sales_amount,
            "refund_count": len(refunds),
            "refund_amount": refund_amount,
        }
