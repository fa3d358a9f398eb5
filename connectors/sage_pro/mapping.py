"""Pure translations between our domain dataclasses and Sage Pro rows: fixed-width keys, blanks for NULLs.

Sage Pro keeps character fields at their full width (DBF C(n)), document numbers right-justified
and padded on the left, and never a NULL: every row is built whole, blank where we have nothing.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Table

from connectors.errors import ValidationError
from connectors.sage_pro.config import SYSTEM
from schemas.domain import (Address, CreditMemo, Customer, CustomerChange, ErpDocument, InvoiceInfo, JournalEntry,
                            Payment, Refund, Reversal, SalesOrder)

#: [I] The empty date. VFP writes CTOD('  /  /  '); the SQL Server edition cannot store that, and
#: SQL Server reads '' as 1900-01-01, so that day means "no date" (docs/sage-pro.md).
EMPTY_DATE = date(1900, 1, 1)
CENT = Decimal("0.01")
# Besides document numbers, the values that must never be cut short: a truncated item, account or
# reference would silently point at something else.
_STRICT = frozenset({"ITEM", "PONUM", "REF", "REFNO", "CUSTGEN", "GLACNT", "USTATUS"})
#: [I] Sage Pro's GL source code for a general journal entry.
JOURNAL_SOURCE = "GJ"
#: [I] SOSTAT of an order its invoice has billed ("C" closed; blank is open).
ORDER_BILLED = "C"
#: [I] somast SOSTAT of a cancelled order (its stock released).
ORDER_CANCELLED = "X"


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def fit(column: Column, value, strict: bool | None = None) -> str:
    """`value` at the column's width: right-justified for document numbers, else left; too long is refused
    for keys and references and cut for descriptive text."""
    text = str(value).strip()
    width = column.info["width"]
    if strict is None:
        strict = column.info["rjust"] or column.key in _STRICT
    if len(text) > width:
        if strict:
            raise ValidationError(f"{column.key} {text!r} is longer than its {width} characters",
                                  field=column.key, system=SYSTEM, operation=column.table.name)
        text = text[:width]
    return text.rjust(width) if column.info["rjust"] else text.ljust(width)


def blank(column: Column):
    kind = column.info["kind"]
    if kind == "C":
        return " " * column.info["width"]
    if kind in ("N", "Y"):
        return Decimal("0")
    return EMPTY_DATE if kind == "D" else ""


def full_row(table: Table, values: dict) -> dict:
    """Every column of `table`: the given values fitted, the rest blank (Sage Pro has no NULLs)."""
    unknown = set(values) - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no columns {sorted(unknown)}")
    row = {}
    for column in table.c:
        value = values.get(column.key)
        if value is None:
            row[column.key] = blank(column)
        elif column.info["kind"] == "C":
            # a date kept in a character column (SAGEPRO_COLUMNS "somast.ORDATE=ORDATE C(10)") is 'MM/DD/YYYY'
            row[column.key] = fit(column, value.strftime("%m/%d/%Y") if isinstance(value, date) else value)
        elif column.info["kind"] in ("N", "Y"):
            row[column.key] = Decimal(str(value))
        else:
            row[column.key] = value
    return row


def stamp(table: Table, now: datetime, user: str) -> dict:
    """The audit columns the table has (ADDUSER, ADDDATE, ADDTIME)."""
    values = {"ADDUSER": user, "ADDDATE": now.date(), "ADDTIME": now.strftime("%H:%M:%S")}
    return {k: v for k, v in values.items() if k in table.c}


def changed(table: Table, now: datetime, user: str) -> dict:
    """The [I] last-change columns the table has (CHGUSER, CHGDATE, CHGTIME), for an update."""
    values = {"CHGUSER": user, "CHGDATE": now.date(), "CHGTIME": now.strftime("%H:%M:%S")}
    return {k: fit(table.c[k], v) if k != "CHGDATE" else v for k, v in values.items() if k in table.c}


def cut(column: Column, value: str) -> str:
    """Descriptive `value` (a customer's PO) cut to the column's width: too long must not refuse a document."""
    return fit(column, str(value or "")[:column.info["width"]], strict=False)


def stripped(row: dict) -> dict:
    """A row as read, without the padding."""
    return {k: v.strip() if isinstance(v, str) else v for k, v in row.items()}


# -- customers ------------------------------------------------------------------------------
def custno_for(customer_id: str, attempt: int = 0) -> str:
    """A stable 6-character CUSTNO for one of our (up to 20-character) ids; `attempt` > 0 after a clash."""
    seed = customer_id if attempt == 0 else f"{customer_id}#{attempt}"
    return base64.b32encode(hashlib.sha1(seed.encode()).digest()).decode()[:6]


def customer_fields(c: Customer) -> dict:
    a = c.address
    return {"COMPANY": c.name or c.customer_id, "CONTACT": a.name, "ADDRESS1": a.line1, "ADDRESS2": a.line2,
            "CITY": a.city, "STATE": a.state, "ZIP": a.postal_code, "COUNTRY": a.country, "PHONE": c.phone,
            "EMAIL": c.email}


def customer_row(table: Table, c: Customer, custno: str, now: datetime, user: str, terms: str = "",
                 net_days: int = 0) -> dict:
    """A new arcust row; `terms`/`net_days` (PTERMS/PNET) are the company's defaults, never changed by an update."""
    return full_row(table, {**customer_fields(c), "CUSTNO": custno, "CUSTGEN": c.customer_id, "PTERMS": terms,
                            "PNET": net_days, **stamp(table, now, user)})


def customer_changes(table: Table, current: dict, c: Customer) -> dict:
    """The fields to update: what differs, where a blank wanted value never erases what Sage Pro has."""
    changes = {}
    for key, value in customer_fields(c).items():
        if not str(value).strip():
            continue
        column = table.c[key]
        wanted = fit(column, value) if column.info["kind"] == "C" else str(value).strip()
        if str(current.get(key) or "").strip() != wanted.strip():
            changes[key] = wanted
    return changes


def customer_id_of(custno: str, xref: str | None) -> str:
    """Our id for a Sage Pro customer: the cross-reference, or the bare CUSTNO of one we did not create."""
    return (xref or "").strip() or (custno or "").strip()


def customer_of(row: dict) -> Customer:
    """An arcust row as the domain's Customer (the reverse of customer_fields)."""
    r = stripped(row)
    return Customer(customer_id_of(r["CUSTNO"], r["CUSTGEN"]), r["COMPANY"], r["EMAIL"], r["PHONE"],
                    Address(r["CONTACT"], r["ADDRESS1"], r["ADDRESS2"], r["CITY"], r["STATE"], r["ZIP"], r["COUNTRY"]))


def _clock(value: str) -> time:
    """An ADDTIME-style C(8) 'HH:MM:SS' [C format of ADDTIME]; blank or unreadable is the day's start."""
    try:
        return time.fromisoformat(str(value or "").strip())
    except ValueError:
        return time()


def changed_at(row: dict, zone: ZoneInfo) -> datetime:
    """When Sage Pro last changed the customer: CHGDATE/CHGTIME [I], or ADDDATE/ADDTIME if never changed."""
    day, clock = (row["CHGDATE"], row["CHGTIME"]) if row["CHGDATE"] != EMPTY_DATE else (row["ADDDATE"], row["ADDTIME"])
    return datetime.combine(day, _clock(clock), tzinfo=zone)


def customer_change(row: dict, zone: ZoneInfo) -> CustomerChange:
    return CustomerChange(customer_of(row), changed_at(row, zone))


def local(moment: datetime, zone: ZoneInfo) -> tuple[date, str]:
    """`moment` on Sage Pro's clock as (date, 'HH:MM:SS'), to compare with its stamps; naive is taken as
    already on that clock. Fractions of a second are dropped: stamps have none, so "after" stays strict."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.date(), moment.strftime("%H:%M:%S")


# -- documents ------------------------------------------------------------------------------
def _lines(table: Table, doc: SalesOrder, keys: dict, descriptions: dict, line_values, now, user) -> list[dict]:
    number = "LINENO" if "LINENO" in table.c else "TRANLINE"  # sotran's is `lineno` [C], artran's TRANLINE [I]
    return [full_row(table, {**keys, number: str(n), "ITEM": l.item_id,
                             "DESCRIP": l.description or descriptions.get(l.item_id, ""), "PRICE": l.unit_price,
                             "QTYORD": l.quantity, "EXTPRICE": l.amount, **line_values(l), **stamp(table, now, user)})
            for n, l in enumerate(doc.lines, 1)]


def order_rows(tables: dict[str, Table], order: SalesOrder, sono: str, custno: str, reference_column: str,
               descriptions: dict, now: datetime, user: str) -> tuple[dict, list[dict]]:
    """somast header and sotran lines of a new, open sales order; the customer's PO goes to whichever of
    PONUM and REF (both [C] somast columns) does not carry our reference."""
    somast = tables["somast"]
    po_column = "REF" if reference_column == "PONUM" else "PONUM"
    header = full_row(somast, {"SONO": sono, "CUSTNO": custno, "SODATE": order.date, "ORDATE": order.date,
                               "ORDAMT": order.amount, po_column: cut(somast.c[po_column], order.customer_po),
                               reference_column: order.reference, **stamp(somast, now, user)})
    lines = _lines(tables["sotran"], order, {"SONO": sono, "CUSTNO": custno}, descriptions,
                   lambda l: {"RQDATE": order.date}, now, user)
    return header, lines


def due_on(invoice: SalesOrder, net_days) -> date:
    """When the invoice falls due: its own due date, else its date plus the customer's net days (arcust.PNET
    [C name; I that Sage Pro derives DUEDATE from it]), as Sage Pro's invoicing would fill DUEDATE."""
    return invoice.due_date or invoice.date + timedelta(days=int(net_days or 0))


def invoice_rows(tables: dict[str, Table], invoice: SalesOrder, invno: str, custno: str, ornum: str,
                 descriptions: dict, now: datetime, user: str, due: date | None = None) -> tuple[dict, list[dict]]:
    """armast header (open for its whole amount) and artran lines. ORNUM names the order it bills; REF [I]
    carries our reference; PONUM the customer's PO, where Sage Pro keeps it, or else our reference too (as
    every invoice paysync wrote before REF); DUEDATE [I] `due` (default: the invoice's own, else its date)."""
    armast = tables["armast"]
    ponum = cut(armast.c.PONUM, invoice.customer_po) if invoice.customer_po.strip() else invoice.reference
    header = full_row(armast, {"INVNO": invno, "CUSTNO": custno, "INVDTE": invoice.date, "ORNUM": ornum,
                               "PONUM": ponum, "REF": invoice.reference, "DUEDATE": due or due_on(invoice, 0),
                               "INVAMT": invoice.amount, "BALANCE": invoice.amount, **stamp(armast, now, user)})
    lines = _lines(tables["artran"], invoice, {"INVNO": invno, "CUSTNO": custno, "PONUM": ponum},
                   descriptions, lambda l: {"QTYSHP": l.quantity, "INVDTE": invoice.date}, now, user)
    return header, lines


def cash_row(table: Table, p: Payment, cashno: str, custno: str, invno: str, now: datetime, user: str) -> dict:
    return full_row(table, {"CASHNO": cashno, "CUSTNO": custno, "INVNO": invno, "DTEPAID": p.date,
                            "PAIDAMT": money(p.amount), "REFNO": p.reference, "PAYCODE": p.method,
                            "CASHACCT": p.cash_account, **stamp(table, now, user)})


def applied(invoice: dict, customer: dict, p: Payment) -> tuple[dict, dict]:
    """The armast and arcust changes of a receipt applied to an invoice (amounts as they will read)."""
    amount = money(p.amount)
    return ({"PAIDAMT": money(invoice["PAIDAMT"]) + amount, "BALANCE": money(invoice["BALANCE"]) - amount,
             "DTEPAID": p.date},
            {"BALANCE": money(customer["BALANCE"]) - amount, "LPYMT": amount, "LASTPAY": p.date})


def on_account(customer: dict, p: Payment) -> dict:
    """The arcust changes of a receipt held on account [I]: unapplied cash is the customer's credit, so its
    BALANCE drops now; no invoice changes until someone applies the cash."""
    amount = money(p.amount)
    return {"BALANCE": money(customer["BALANCE"]) - amount, "LPYMT": amount, "LASTPAY": p.date}


def gl_rows(table: Table, entry: JournalEntry, tranno: str, now: datetime, user: str) -> list[dict]:
    """One gltran row per line; positive amounts are debits."""
    return [full_row(table, {"TRANNO": tranno, "TRANLINE": str(n), "GLACNT": l.account, "TRANDATE": entry.date,
                             "DEBIT": money(max(l.amount, 0)), "CREDIT": money(max(-l.amount, 0)),
                             "REF": entry.reference, "DESCRIP": l.description or entry.description,
                             "SOURCE": JOURNAL_SOURCE, **stamp(table, now, user)})
            for n, l in enumerate(entry.lines, 1)]


# kind -> (base table, key column, amount column, amount-due column, sign). Credit memos, refunds and
# reversals are stored negative [I] (they lower what the customer owes, or pay money out), and reported
# positive, as the domain documents carry them.
DOCUMENTS = {"sales_order": ("somast", "SONO", "ORDAMT", None, 1), "invoice": ("armast", "INVNO", "INVAMT", "BALANCE", 1),
             "payment": ("arcash", "CASHNO", "PAIDAMT", None, 1),
             "credit_memo": ("armast", "INVNO", "INVAMT", "BALANCE", -1),
             "refund": ("arcash", "CASHNO", "PAIDAMT", None, -1), "reversal": ("arcash", "CASHNO", "PAIDAMT", None, -1)}


def _signed(sign: int, value) -> Decimal:
    return money(value) if sign > 0 else -money(value)  # unary minus: never "-0.00"


def document(kind: str, row: dict, reference_column: str, xref: str | None,
             fallback: str | None = None) -> ErpDocument:
    """A header row as the ErpDocument the base connector compares; keys without their padding. The
    reference is `reference_column`'s, or `fallback`'s where that is blank (an invoice written before REF)."""
    _, key, amount, due, sign = DOCUMENTS[kind]
    reference = row[reference_column].strip() or (row[fallback].strip() if fallback else "")
    return ErpDocument(kind=kind, key=row[key].strip(), reference=reference,
                       amount=_signed(sign, row[amount]), amount_due=_signed(sign, row[due]) if due else None,
                       customer_id=customer_id_of(row.get("CUSTNO", ""), xref))


def invoice_info(row: dict, xref: str | None, link_fields: Iterable[str]) -> InvoiceInfo:
    """An armast invoice row as the matching flows see it. Its reference is REF (paysync's reference), else
    PONUM (an invoice paysync wrote before REF, or a Sage Pro user's PO), else INVNO; DUEDATE blank is None."""
    r = stripped(row)
    return InvoiceInfo(key=r["INVNO"], reference=r["REF"] or r["PONUM"] or r["INVNO"],
                       customer_id=customer_id_of(r["CUSTNO"], xref), date=r["INVDTE"], amount=money(r["INVAMT"]),
                       open_amount=money(r["BALANCE"]), due_date=None if r["DUEDATE"] == EMPTY_DATE else r["DUEDATE"],
                       status=r["USTATUS"], fields={f: r[f] for f in link_fields})


def journal_documents(rows: Iterable[dict]) -> list[ErpDocument]:
    """gltran lines grouped by entry (TRANNO); an entry's amount is its debits."""
    entries: dict[str, list[dict]] = {}
    for row in rows:
        entries.setdefault(row["TRANNO"].strip(), []).append(row)
    return [ErpDocument(kind="journal", key=tranno, reference=lines[0]["REF"].strip(),
                        amount=sum((money(l["DEBIT"]) for l in lines), Decimal("0.00")))
            for tranno, lines in entries.items()]


# -- the payment lifecycle: credit memos, refunds, reversals, statuses (docs/sage-pro.md) ----------
def credit_memo_rows(tables: dict[str, Table], memo: CreditMemo, invno: str, custno: str, applyto: str,
                     artype: str, descriptions: dict, now: datetime, user: str) -> tuple[dict, list[dict]]:
    """A credit memo is an armast/artran document of its own ARTYPE [I code], its amounts negative [I]:
    INVAMT = BALANCE = -amount (an open credit), APPLYTO [I column] the invoice it credits, quantities returned."""
    armast, artran = tables["armast"], tables["artran"]
    amount = money(memo.amount)
    header = full_row(armast, {"INVNO": invno, "CUSTNO": custno, "INVDTE": memo.date, "ARTYPE": artype,
                               "PONUM": memo.reference, "INVAMT": -amount, "BALANCE": -amount, "APPLYTO": applyto,
                               **stamp(armast, now, user)})
    lines = [full_row(artran, {"INVNO": invno, "TRANLINE": str(n), "CUSTNO": custno, "PONUM": memo.reference,
                               "ITEM": l.item_id, "DESCRIP": l.description or descriptions.get(l.item_id, ""),
                               "PRICE": l.unit_price, "QTYORD": -l.quantity, "QTYSHP": -l.quantity,
                               "EXTPRICE": -l.amount, "ARTYPE": artype, "INVDTE": memo.date, **stamp(artran, now, user)})
             for n, l in enumerate(memo.lines, 1)]
    return header, lines


def credit_room(invoice: dict, earlier_memos: Iterable[dict]) -> Decimal:
    """What an invoice can still be credited: its amount less what its earlier credit memos credited."""
    return money(invoice["INVAMT"]) + sum((money(m["INVAMT"]) for m in earlier_memos), Decimal("0.00"))


def refund_row(table: Table, r: Refund, cashno: str, custno: str, memo_invno: str, trantype: str,
               now: datetime, user: str) -> dict:
    """An arcash row paying money out (PAIDAMT negative [I]) against the credit memo it settles."""
    return full_row(table, {"CASHNO": cashno, "CUSTNO": custno, "INVNO": memo_invno, "DTEPAID": r.date,
                            "PAIDAMT": -money(r.amount), "REFNO": r.reference, "PAYCODE": r.method,
                            "CASHACCT": r.cash_account, "TRANTYPE": trantype, **stamp(table, now, user)})


def reversal_row(table: Table, v: Reversal, cashno: str, receipt: dict, trantype: str, now: datetime,
                 user: str) -> dict:
    """An arcash row undoing a receipt: the same invoice, account and pay code, PAIDAMT negated, REVCASH
    naming the receipt [I]. The receipt row itself stays, as posted cash receipts do."""
    return full_row(table, {"CASHNO": cashno, "CUSTNO": receipt["CUSTNO"], "INVNO": receipt["INVNO"],
                            "DTEPAID": v.date, "PAIDAMT": -money(receipt["PAIDAMT"]), "REFNO": v.reference,
                            "PAYCODE": receipt["PAYCODE"], "CASHACCT": receipt["CASHACCT"], "TRANTYPE": trantype,
                            "REVCASH": receipt["CASHNO"], **stamp(table, now, user)})


def settled(document_row: dict | None, customer: dict, paid: Decimal) -> tuple[dict, dict]:
    """armast and arcust changes of an arcash row of signed `paid` applied to a document (a refund's is
    negative and raises a credit memo's negative balance to zero; a reversal's reopens its invoice). No
    document (a reversal of cash on account): nothing for armast, the customer's balance alone moves."""
    paid = money(paid)
    on_document = {} if document_row is None else {"PAIDAMT": money(document_row["PAIDAMT"]) + paid,
                                                   "BALANCE": money(document_row["BALANCE"]) - paid}
    return on_document, {"BALANCE": money(customer["BALANCE"]) - paid}


def status_value(column: Column, status: str) -> str:
    """A free-text status for the [I] USTATUS user field: at most its width, never cut."""
    text = (status or "").strip()
    if len(text) > column.info["width"]:
        raise ValidationError(f"status {text!r} is longer than {column.info['width']} characters", field="status",
                              system=SYSTEM, operation="set_status")
    return text.ljust(column.info["width"])
