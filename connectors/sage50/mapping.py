"""Pure translations between our domain dataclasses and the bridge agent's JSON."""
from __future__ import annotations

from decimal import Decimal

from connectors.errors import ValidationError
from schemas.domain import CreditMemo, Customer, ErpDocument, JournalEntry, Payment, Refund, Reversal, SalesOrder

#: Our kinds of document that carry a status, and the bridge collection each lives in.
STATUS_KINDS = {"sales_order": "sales_orders", "invoice": "invoices"}


def money(value: Decimal) -> str:
    """The bridge takes money as a two-decimal string, never a JSON number."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def customer_body(c: Customer) -> dict:
    a = c.address
    return {
        "Name": c.name[:39] or c.customer_id,
        "Email": c.email,
        "Phone": c.phone,
        "BillToAddress": {"Address1": a.line1, "Address2": a.line2, "City": a.city,
                          "State": a.state, "Zip": a.postal_code, "Country": a.country},
    }


def order_body(o: SalesOrder) -> dict:
    body = {
        "CustomerID": o.customer_id,
        "ReferenceNumber": o.reference,
        "Date": o.date.isoformat(),
        "Lines": [{"ItemID": l.item_id, "Quantity": str(l.quantity), "UnitPrice": money(l.unit_price),
                   "Description": l.description[:160]} for l in o.lines],
    }
    if o.order_ref:
        body["SalesOrderKey"] = o.order_ref
    return body


def payment_body(p: Payment) -> dict:
    return {
        "CustomerID": p.customer_id,
        "ReferenceNumber": p.reference,
        "Date": p.date.isoformat(),
        "CashAccount": p.cash_account,
        "PaymentMethod": p.method,
        "InvoiceLines": [{"InvoiceKey": p.invoice_ref, "AmountPaid": money(p.amount)}],
    }


def journal_body(j: JournalEntry) -> dict:
    return {
        "ReferenceNumber": j.reference,
        "Date": j.date.isoformat(),
        "Description": j.description[:160],
        "Lines": [{"AccountID": l.account, "Amount": money(l.amount), "Description": l.description[:160]}
                  for l in j.lines],
    }


def _lines(lines) -> list[dict]:
    return [{"ItemID": l.item_id, "Quantity": str(l.quantity), "UnitPrice": money(l.unit_price),
             "Description": l.description[:160]} for l in lines]


def credit_memo_body(m: CreditMemo) -> dict:
    """A Sage 50 credit memo applied to one invoice (docs/sage50-bridge-api.md "Credit memos")."""
    return {
        "CustomerID": m.customer_id,
        "ReferenceNumber": m.reference,
        "Date": m.date.isoformat(),
        "ApplyToInvoiceKey": m.invoice_ref,
        "Lines": _lines(m.lines),
    }


def refund_body(r: Refund) -> dict:
    """Cash paid back out of `cash_account`, settling (part of) a credit memo."""
    return {
        "CustomerID": r.customer_id,
        "ReferenceNumber": r.reference,
        "Date": r.date.isoformat(),
        "CashAccount": r.cash_account,
        "PaymentMethod": r.method,
        "CreditMemoKey": r.credit_memo_ref,
        "Amount": money(r.amount),
    }


def reversal_body(v: Reversal) -> dict:
    """A void of the whole receipt `payment_ref`; the bridge refuses an Amount that is not the receipt's."""
    return {
        "ReceiptKey": v.payment_ref,
        "ReferenceNumber": v.reference,
        "Date": v.date.isoformat(),
        "CustomerID": v.customer_id,
        "Amount": money(v.amount),
    }


def status_collection(kind: str) -> str:
    """The bridge collection of a kind that takes a status; anything else is refused."""
    if kind not in STATUS_KINDS:
        raise ValidationError(f"only a sales order or an invoice carries a status, not a {kind!r}",
                              field="kind", system="sage50", operation="set_status")
    return STATUS_KINDS[kind]


def status_body(status: str, field: str, max_length: int = 20) -> dict:
    """The PATCH that writes a status word into the configured note field ([I], see config)."""
    status = status.strip()
    if not status or len(status) > max_length:
        raise ValidationError(f"status {status!r} must be 1 to {max_length} characters",
                              field="status", system="sage50", operation="set_status")
    return {field: status}


def status_from(record: dict, field: str) -> str:
    return str(record.get(field) or "")


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def document(kind: str, record: dict) -> ErpDocument:
    """A bridge record as the ErpDocument the base connector compares."""
    amount = _dec(record.get("Amount"))
    if kind == "journal":
        amount = sum((Decimal(l["Amount"]) for l in record.get("Lines", []) if Decimal(l["Amount"]) > 0),
                     Decimal("0"))
    return ErpDocument(kind=kind, key=str(record.get("Key")), reference=record.get("ReferenceNumber", ""),
                       amount=amount, amount_due=_dec(record.get("AmountDue")),
                       customer_id=record.get("CustomerID"))
