"""X3's answers as data: resultXml parsed, api1 resources read as ErpDocument, InvoiceInfo and Customer."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

from connectors.sage_x3.config import SageX3Layout
from schemas.domain import Address, Customer, ErpDocument, InvoiceInfo


def parse_result(text: str | None) -> Any:
    """resultXml as {group: {field: value} | [rows]} (or a list for `query`), from JSON or RESULT XML."""
    text = (text or "").strip()
    if not text:
        return {}
    if text[0] in "{[":
        return json.loads(text)
    root = ET.fromstring(text.encode())
    out: dict[str, Any] = {}
    for node in root:
        if node.tag == "GRP":
            out[node.get("ID")] = _xml_fields(node)
        elif node.tag == "TAB":
            out[node.get("ID")] = [_xml_fields(lin) for lin in node]
    return out


def _xml_fields(parent: ET.Element) -> dict[str, Any]:
    return {f.get("NAME"): (f.text or "") if f.tag == "FLD" else [i.text or "" for i in f]
            for f in parent if f.get("NAME")}


def key_of(kind: str, result: dict[str, Any], layout: SageX3Layout) -> str:
    """The number X3 assigned to a saved document."""
    group, name = {"sales_order": ("SOH0_1", "SOHNUM"), "invoice": ("SIH0_1", "NUM"),
                   "credit_memo": ("SIH0_1", "NUM"), "payment": (layout.payment_header, "NUM"),
                   "refund": (layout.payment_header, "NUM"), "reversal": (layout.payment_header, "NUM"),
                   "journal": (layout.journal_header, "NUM")}[kind]
    return str((result.get(group) or {}).get(name) or "")


def allocated(order: dict[str, Any], items: set[str] | None) -> dict[str, Decimal]:
    """What an SOH's lines hold allocated (ALLQTY), per item (of `items` when given)."""
    out: dict[str, Decimal] = {}
    for line in order.get("SOH4_1") or []:
        ref = str(line.get("ITMREF"))
        if items is None or ref in items:
            out[ref] = out.get(ref, Decimal("0")) + Decimal(str(line.get("ALLQTY") or 0))
    return out


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def reference_field(kind: str) -> str:
    """The header field carrying our external reference (sage.md §1.4)."""
    return {"sales_order": "CUSORDREF", "invoice": "INVREF", "credit_memo": "INVREF", "payment": "REF",
            "refund": "REF", "reversal": "REF", "journal": "REF"}[kind]


def document(kind: str, record: dict[str, Any], layout: SageX3Layout,
             amount_due: Decimal | None = None) -> ErpDocument:
    """An api1 resource (a `$details` one for journals) as the ErpDocument the base connector compares."""
    if kind == "journal":
        debit = sum((Decimal(str(l.get("AMTCUR"))) for l in record.get(layout.journal_lines) or []
                     if str(l.get("SNS")) == "1"), Decimal("0"))
        return ErpDocument(kind, str(record.get("NUM")), record.get("REF", ""), amount=debit)
    key, amount, customer = {"sales_order": ("SOHNUM", layout.order_amount, "BPCORD"),
                             "invoice": ("NUM", layout.invoice_amount, "BPCINV"),
                             "credit_memo": ("NUM", layout.invoice_amount, "BPCINV"),
                             "payment": ("NUM", "AMTCUR", "BPR"), "refund": ("NUM", "AMTCUR", "BPR"),
                             "reversal": ("NUM", "AMTCUR", "BPR")}[kind]
    return ErpDocument(kind, str(record.get(key)), record.get(reference_field(kind), ""),
                       amount=_dec(record.get(amount)), amount_due=amount_due, customer_id=record.get(customer))


def is_credit(record: dict[str, Any], layout: SageX3Layout) -> bool:
    """A credit memo or credit note: by its category (INVTYP 2 or 4 [C]) where the resource shows it,
    else by the type code paysync writes them with."""
    category = str(record.get(layout.invoice_category_field) or "").strip()
    if category:
        return category in {c.strip() for c in layout.credit_categories.split(",")}
    return str(record.get("SIVTYP", "")) == layout.credit_memo_type


def is_kind(kind: str, record: dict[str, Any], layout: SageX3Layout) -> bool:
    """Whether an invoice-class / PAYMENTH resource is of `kind`: credit memos share the invoice class and
    refunds and reversals the payment class; their category or type code tells them apart."""
    if kind in ("invoice", "credit_memo"):
        return is_credit(record, layout) == (kind == "credit_memo")
    typ = str(record.get(layout.payment_type_field, ""))
    if kind == "refund":
        return typ == layout.refund_type
    if kind == "reversal":
        return typ == layout.reversal_type
    if kind == "payment":
        return typ not in (layout.refund_type, layout.reversal_type)
    return True


# ---- api1 resources -> matching data -----------------------------------------------------------
def open_amount(rows: list[dict[str, Any]]) -> Decimal | None:
    """What is still open on a document: its open items' AMTCUR less PAYCUR (X3 may split one
    document into several due dates, hence the sum); None when X3 holds no open item for it."""
    if not rows:
        return None
    total = sum((Decimal(str(r.get("AMTCUR") or 0)) - Decimal(str(r.get("PAYCUR") or 0)) for r in rows),
                Decimal("0"))
    return total.quantize(Decimal("0.01"))


def api_date(value: Any) -> date | None:
    """A date property: ISO in api1 JSON, YYYYMMDD in objectXml; empty or X3's 1599-12-31 is None."""
    text = str(value or "").strip()[:10]
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return None if day.year < 1753 else day  # X3 keeps "no date" as 1599-12-31 (sage.md §1.1)
    return None


def api_datetime(value: Any) -> datetime | None:
    """An ADATIM property (UTC) as an aware datetime; a value without a zone is UTC [I]."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def own_open_items(record: dict[str, Any], rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open items (GACCDUDATE) of one SIH: its NUM, and its type when the record says it."""
    num, typ = str(record.get("NUM")), str(record.get("SIVTYP") or "")
    return [r for r in rows if str(r.get("NUM")) == num and (not typ or str(r.get("TYP")) == typ)]


def invoice_info(record: dict[str, Any], items: list[dict[str, Any]], lines: list[dict[str, Any]],
                 layout: SageX3Layout, links: dict[str, str]) -> InvoiceInfo:
    """An SINVOICE resource, its open items and its lines as the matching flows see it.

    What is due is AMTCUR - PAYCUR over the open items; an invoice X3 holds no open item for (not
    posted yet [I]) has had nothing paid, so all of it is due. The due date is the earliest of the
    due dates still open (else the earliest); None without open items."""
    total = (_dec(record.get(layout.invoice_total)) or Decimal("0")).quantize(Decimal("0.01"))
    due = open_amount(items)
    owed = [r for r in items if Decimal(str(r.get("AMTCUR") or 0)) > Decimal(str(r.get("PAYCUR") or 0))]
    dates = [d for d in (api_date(r.get("DUDDAT")) for r in (owed or items)) if d]
    fields = {link: str(record.get(prop) or "") for link, prop in links.items()}
    # the order billed lives on the lines (SINVOICED.SOHNUM): the first line's that names one
    fields["SOHNUM"] = next((str(o) for o in (l.get(layout.invoice_order_field) for l in lines) if o), "")
    return InvoiceInfo(
        key=str(record.get("NUM")), reference=str(record.get("INVREF") or "") or str(record.get("NUM")),
        customer_id=str(record.get("BPCINV") or ""), date=api_date(record.get("INVDAT")) or date.min,
        amount=total, open_amount=total if due is None else due,
        due_date=min(dates) if dates else None,
        status=str(record.get(layout.status_field) or ""), fields=fields)


def customer_from(record: dict[str, Any], addresses: list[dict[str, Any]],
                  layout: SageX3Layout | None = None) -> Customer:
    """A BPCUSTOMER resource and its addresses (BPADDRESS) as a Customer: the default address
    (BPAADDFLG 2 = Yes) gives the contact details, as customer_object wrote them."""
    layout = layout or SageX3Layout()
    main = next((a for a in addresses if str(a.get("BPAADDFLG")) == "2"), addresses[0] if addresses else {})
    name = str(record.get("BPCNAM") or "")

    def text(key: str) -> str:
        return str(main.get(key) or "")
    return Customer(str(record.get("BPCNUM")), name, email=text(layout.address_email), phone=text(layout.address_phone),
                    address=Address(name, text("ADDLIG1"), text("ADDLIG2"), text("CTY"), text("SAT"),
                                    text("POSCOD"), text("BPACRY")))
