"""Pure translations between our domain dataclasses and the bridge agent's JSON."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from connectors.errors import ValidationError
from schemas.domain import (Address, CreditMemo, Customer, CustomerChange, ErpDocument, InvoiceInfo, JournalEntry,
                            Payment, Refund, Reversal, SalesOrder)

#: Our kinds of document that carry a status, and the bridge collection each lives in.
STATUS_KINDS = {"sales_order": "sales_orders", "invoice": "invoices"}
#: The invoice fields find_invoices searches, and the bridge filter for each
#: (docs/sage50-bridge-api.md "Invoices"). The property names are the bridge's; for the PO it is [I].
INVOICE_LINK_FILTERS = {"ReferenceNumber": "reference_number",
                        "CustomerPurchaseOrderNumber": "customer_purchase_order_number"}
#: A Sage 50 customer name holds 39 characters [I]; longer names are cut when written and searched.
NAME_MAX = 39


def money(value: Decimal) -> str:
    """The bridge takes money as a two-decimal string, never a JSON number."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def customer_name(name: str) -> str:
    return name[:NAME_MAX]


#: The number kind a payer's phone is kept under in Customer.PhoneNumbers [I].
PHONE_KEY = "Phone1"


def customer_body(c: Customer, full_name_field: str = "") -> dict:
    """A customer in the SDK's names [C]: BillToContact.Address, the PhoneNumbers collection. A name
    longer than Sage 50 keeps is cut; the whole name goes in the custom field `full_name_field` [I]."""
    a = c.address
    body = {
        "Name": customer_name(c.name) or c.customer_id,
        "Email": c.email,
        "PhoneNumbers": [{"Key": PHONE_KEY, "Number": c.phone}],
        "BillToContact": {"Address": {"Address1": a.line1, "Address2": a.line2, "City": a.city,
                                      "State": a.state, "Zip": a.postal_code, "Country": a.country}},
    }
    if full_name_field and len(c.name) > NAME_MAX:
        body["CustomFields"] = {full_name_field: c.name}
    return body


def _phone(record: dict) -> str:
    numbers = {n.get("Key"): n.get("Number") or "" for n in record.get("PhoneNumbers") or [] if isinstance(n, dict)}
    return numbers.get(PHONE_KEY) or next(iter(numbers.values()), "")


def customer_update(current: dict, wanted: dict) -> dict:
    """The partial PUT that brings `current` to `wanted` ({} when nothing changed).

    A blank wanted value never erases what Sage 50 has (a payer who gave no phone keeps the one
    on file). The address is one unit: when any given part of it changed it is sent whole, so a
    new address does not inherit the old one's second line.
    """
    update = {}
    for key, value in wanted.items():
        if key == "BillToContact":
            have = (current.get(key) or {}).get("Address") or {}
            if any(v and have.get(k) != v for k, v in value["Address"].items()):
                update[key] = {"Address": dict(value["Address"])}
        elif key == "PhoneNumbers":
            number = value[0]["Number"]
            if number and _phone(current) != number:
                update[key] = value
        elif key == "CustomFields":
            have = current.get(key) or {}
            if any(have.get(k) != v for k, v in value.items()):
                update[key] = value
        elif value not in (None, "") and current.get(key) != value:
            update[key] = value
    return update


def customer_from(record: dict) -> Customer:
    """A bridge customer as our Customer (the bill-to address is the one kept)."""
    a = (record.get("BillToContact") or {}).get("Address") or {}
    name = record.get("Name") or ""
    return Customer(
        customer_id=str(record["ID"]), name=name, email=record.get("Email") or "",
        phone=_phone(record),
        address=Address(name=name, line1=a.get("Address1") or "", line2=a.get("Address2") or "",
                        city=a.get("City") or "", state=a.get("State") or "",
                        postal_code=a.get("Zip") or "", country=a.get("Country") or ""))


def instant(value: str) -> datetime:
    """The bridge's ISO 8601 UTC time ("...Z") as an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def query_instant(value: datetime) -> str:
    """A time for `modified_since`; a naive one is taken as UTC [I: callers pass the bridge's own]."""
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def customer_change(record: dict) -> CustomerChange:
    return CustomerChange(customer_from(record), instant(record["LastSavedAt"]))


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


def invoice_body(o: SalesOrder) -> dict:
    """An order's body plus what only invoices keep here: the due date and the customer's PO."""
    body = order_body(o)
    if o.due_date is not None:
        body["DateDue"] = o.due_date.isoformat()
    if o.customer_po:
        # Not cut to fit: a shortened PO would no longer find the invoice it names.
        body["CustomerPurchaseOrderNumber"] = o.customer_po
    return body


def payment_body(p: Payment) -> dict:
    """A receipt applied to one invoice, or (invoice_ref None) cash on account applied to nothing."""
    lines = [] if p.invoice_ref is None else [{"InvoiceReference": p.invoice_ref, "AmountPaid": money(p.amount)}]
    return {
        "CustomerID": p.customer_id,
        "ReferenceNumber": p.reference,
        "Date": p.date.isoformat(),
        "AccountReference": p.cash_account,
        "PaymentMethod": p.method,
        "Amount": money(p.amount),
        "ApplyToInvoiceLines": lines,
    }


def link_filter(field: str) -> str:
    """The bridge filter for an invoice link field; a field we cannot search is the mapping's error."""
    if field not in INVOICE_LINK_FILTERS:
        raise ValidationError(f"Sage 50 invoices cannot be searched by {field!r}; "
                              f"use one of {', '.join(INVOICE_LINK_FILTERS)}",
                              field=field, system="sage50", operation="find_invoices")
    return INVOICE_LINK_FILTERS[field]


def open_invoice_query(customer_id: str | None, amount: Decimal | None, dated_from: date | None,
                       dated_to: date | None, due_by: date | None) -> dict:
    """The bridge filters for open_invoices; filters not given are left out, never sent blank."""
    query = {"open": "true", "customer_id": customer_id,
             "amount": None if amount is None else money(amount),
             "date_from": _iso(dated_from), "date_to": _iso(dated_to), "due_by": _iso(due_by)}
    return {k: v for k, v in query.items() if v is not None}


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def invoice_info(record: dict, status_field: str) -> InvoiceInfo:
    """A bridge invoice as the matching flows see it; `status` is the word paysync wrote, if any."""
    due = record.get("DateDue")
    return InvoiceInfo(
        key=str(record["Key"]), reference=record.get("ReferenceNumber") or "",
        customer_id=str(record.get("CustomerID") or ""), date=date.fromisoformat(record["Date"]),
        amount=Decimal(record["Amount"]), open_amount=Decimal(record["AmountDue"]),
        due_date=date.fromisoformat(due) if due else None, status=status_from(record, status_field),
        fields={name: str(record.get(name) or "") for name in INVOICE_LINK_FILTERS})


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
        **({"ApplyToInvoiceKey": m.invoice_ref} if m.invoice_ref else {}),  # none: a credit on account
        "Lines": _lines(m.lines),
    }


def refund_body(r: Refund) -> dict:
    """Cash paid back out of `cash_account`, settling (part of) a credit memo."""
    return {
        "CustomerID": r.customer_id,
        "ReferenceNumber": r.reference,
        "Date": r.date.isoformat(),
        "AccountReference": r.cash_account,
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


def stock_level(product: dict) -> "StockLevel":
    """A bridge product's quantities; only a stock item keeps them [I: ItemClass]."""
    from connectors.stock import StockLevel

    return StockLevel(str(product["ID"]), Decimal(str(product.get("QuantityOnHand") or "0")),
                      Decimal(str(product.get("QuantityOnSalesOrders") or "0")),
                      product.get("ItemClass") == "Stock item")


def committed(order: dict, items: set[str] | None) -> dict[str, Decimal]:
    """What a sales order's lines ask for, per item (of `items` when given)."""
    out: dict[str, Decimal] = {}
    for line in order.get("Lines", []):
        if items is None or line["ItemID"] in items:
            out[line["ItemID"]] = out.get(line["ItemID"], Decimal("0")) + Decimal(str(line["Quantity"]))
    return out


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
