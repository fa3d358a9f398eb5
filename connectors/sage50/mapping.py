"""Pure translations between our domain dataclasses and the bridge agent's JSON."""
from __future__ import annotations

from decimal import Decimal

from schemas.domain import Customer, ErpDocument, JournalEntry, Payment, SalesOrder


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
