"""Pure translations: domain dataclasses -> X3 web-service objects (objectXml, JSON form).

X3's answers are read back in answers.py; api1 where clauses are built in query.py.
"""
from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from typing import Any

from connectors.sage_x3.config import SageX3Config, SageX3Layout
from schemas.domain import CreditMemo, Customer, JournalEntry, Payment, Refund, Reversal, SalesOrder

_CODE_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
_COUNTRY_BY_CURRENCY = {"CAD": "CA"}


def money(value: Decimal) -> str:
    """X3 takes amounts as strings in objectXml: exact, never a float."""
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def x3_date(value) -> str:
    """Dates in objectXml are YYYYMMDD (sage.md §1.2: ORDDAT as Ymd)."""
    return value.strftime("%Y%m%d")


def bpcnum_for(customer_id: str, length: int) -> str:
    """The BPCNUM for one of our customer ids: itself when it fits, else a stable shortening.

    BPCNUM is shorter (15, or 10 [I]) than our ids (up to 20), so a long or oddly-spelt id keeps
    its readable start and ends in six characters of its SHA-1: the same id always gives the same
    BPCNUM, and two ids sharing a prefix still differ.
    """
    if len(customer_id) <= length and _CODE_CHARS.fullmatch(customer_id):
        return customer_id
    digest = base64.b32encode(hashlib.sha1(customer_id.encode()).digest()).decode()[:6]
    head = re.sub(r"[^A-Za-z0-9_-]", "", customer_id)[: max(0, length - 7)]
    return f"{head}-{digest}" if head else digest


# ---- domain -> objectXml (JSON form, adxwss.optreturn=JSON) -----------------------------------
def customer_object(c: Customer, bpcnum: str, currency: str, layout: SageX3Layout | None = None) -> dict[str, Any]:
    """WSBPC's groups [C]. The name is cut to BPCNAM's width; the company name's two lines (BPRNAM, a
    list of two [C]) keep as much of a longer one as they hold, and the address's first phone and
    e-mail fields (TEL1, WEB1 [C]) its contact details."""
    lay = layout or SageX3Layout()
    a = c.address
    whole = (c.name or bpcnum).strip()
    width = lay.customer_name_length
    name = whole[:width]
    country = (a.country or "").strip().upper() or _COUNTRY_BY_CURRENCY.get(currency, "US")
    return {
        "BPC0_1": {"BPCNUM": bpcnum, "BPCNAM": name},
        "BPRC_1": {"BPRSHO": name[:10], "BPRNAM": [name, whole[width:2 * width]], "CRY": country, "CUR": currency},
        "BPAC_1": [{"CODADR": "MAIN", "ADDLIG1": a.line1[:50], "ADDLIG2": a.line2[:50], "ADDLIG3": "",
                    "POSCOD": a.postal_code[:10], "CTY": a.city[:40], "SAT": a.state[:35], "BPACRY": country,
                    lay.address_phone: c.phone[:20], lay.address_email: c.email[:80]}],
    }


def customer_changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The groups of `wanted` that differ from what X3 holds; blank wanted values never erase."""
    changes: dict[str, Any] = {}
    for group, fields in wanted.items():
        have = current.get(group)
        if isinstance(fields, list):
            first = (have or [{}])[0] if isinstance(have, list) else {}
            if any(v not in ("", None) and str(first.get(k, "")) != str(v) for k, v in fields[0].items()):
                changes[group] = fields
            continue
        have = have if isinstance(have, dict) else {}
        diff = {k: v for k, v in fields.items() if v not in ("", None) and _differs(have.get(k), v)}
        if diff:
            changes[group] = diff
    return changes


def _differs(have: Any, want: Any) -> bool:
    if isinstance(want, list):
        have = have if isinstance(have, list) else [have]
        return [str(h or "") for h in have][: len(want)] != [str(w) for w in want]
    return str(have if have is not None else "") != str(want)


def _lines(o: SalesOrder, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    return [{"ITMREF": l.item_id, "ITMDES1": l.description[:30], "QTY": format(l.quantity, "f"),
             "GROPRI": money(l.unit_price), **(extra or {})} for l in o.lines]


def order_object(o: SalesOrder, cfg: SageX3Config) -> dict[str, Any]:
    return {"SOH0_1": {"SALFCY": cfg.sales_site, "SOHTYP": cfg.order_type, "SOHNUM": "", "CUSORDREF": o.reference,
                       "BPCORD": o.customer_id, "ORDDAT": x3_date(o.date), "CUR": cfg.currency},
            "SOH4_1": _lines(o)}


def invoice_object(inv: SalesOrder, cfg: SageX3Config) -> dict[str, Any]:
    """An SIH; the due date [I] only when given (a blank field is X3's own default), the currency in the
    layout's group (SIH2_1 on the standard screen [C]), the merchant's invoice id whole in its field.

    A PO goes on the invoice only where the site keeps one there (layout.invoice_po); X3's own place
    for it is the order's CUSORDREF, which on paysync's orders holds our reference (the lookup key)."""
    lay = cfg.layout
    origin = {lay.invoice_order_field: inv.order_ref} if inv.order_ref else None
    header: dict[str, Any] = {"SALFCY": cfg.sales_site, "SIVTYP": cfg.invoice_type, "NUM": "",
                              "INVREF": inv.reference, "INVDAT": x3_date(inv.date), "BPCINV": inv.customer_id}
    if inv.customer_po and lay.invoice_po:
        header[lay.invoice_po] = inv.customer_po
    if inv.invoice_id.strip() and lay.invoice_id_field:
        header[lay.invoice_id_field] = inv.invoice_id.strip()[:lay.invoice_id_length]
    groups: dict[str, Any] = {"SIH0_1": header}
    groups.setdefault(lay.invoice_currency_group, {})["CUR"] = cfg.currency
    if inv.due_date:
        groups.setdefault("SIH2_2", {}).update({"PTE": lay.due_date_term, lay.invoice_due: x3_date(inv.due_date)})
    return {**groups, "SIH4_1": _lines(inv, origin)}


def payment_object(p: Payment, cfg: SageX3Config) -> dict[str, Any]:
    """A receipt applied to `p.invoice_ref`; with none, a payment on account: one line naming no document [I]."""
    # The receipt lands on bank BAN, whose own GL account X3 knows; Payment.cash_account is for
    # ERPs that post to an account directly.
    line = {"VCRTYP": cfg.invoice_type, "VCRNUM": p.invoice_ref} if p.invoice_ref else {}
    return _payment_entry(cfg, p.entry_type or cfg.payment_type, p.customer_id, p.date, p.amount, p.reference,
                          f"PayTrace receipt {p.reference}", p.method, line)


def journal_object(j: JournalEntry, cfg: SageX3Config) -> dict[str, Any]:
    lay = cfg.layout
    # X3 keeps a line's amount positive and its side in SNS: 1 debit, -1 credit (sage.md §1.2 [C]).
    return {lay.journal_header: {"TYP": lay.journal_type, "JOU": cfg.journal_code, "FCY": cfg.sales_site,
                                 "ACCDAT": x3_date(j.date), "REF": j.reference, "CUR": cfg.currency,
                                 "DESVCR": j.description[:50]},
            lay.journal_lines_group: [{"ACC": l.account, "SNS": 1 if l.amount > 0 else -1,
                                       "AMTCUR": money(abs(l.amount)), "DES": (l.description or j.description)[:50]}
                                      for l in j.lines]}


# ---- the payment lifecycle ---------------------------------------------------------------------
def credit_memo_object(m: CreditMemo, cfg: SageX3Config) -> dict[str, Any]:
    """A sales invoice of the credit-note type [I], naming the invoice it credits [I]."""
    lay = cfg.layout
    groups: dict[str, Any] = {"SIH0_1": {"SALFCY": cfg.sales_site, "SIVTYP": lay.credit_memo_type, "NUM": "",
                                         "INVREF": m.reference, "INVDAT": x3_date(m.date), "BPCINV": m.customer_id,
                                         **({lay.credit_memo_origin_field: m.invoice_ref} if m.invoice_ref else {})}}
    groups.setdefault(lay.invoice_currency_group, {})["CUR"] = cfg.currency
    return {**groups, "SIH4_1": [{"ITMREF": l.item_id, "ITMDES1": l.description[:30], "QTY": format(l.quantity, "f"),
                                  "GROPRI": money(l.unit_price)} for l in m.lines]}


def _payment_entry(cfg: SageX3Config, typ: str, customer_id: str, when, amount: Decimal, reference: str,
                   description: str, method: str, line: dict[str, str]) -> dict[str, Any]:
    """A payment entry in the groups public clients write [C] (SageX3Layout: PAY0_1, PAY1_1, PAY1_2, PAY1_4).

    NUM is left blank for X3 to number; CHQNUM (the bank-statement reference) carries ours too [I]."""
    lay = cfg.layout
    party = {"FCY": cfg.sales_site, "BPR": customer_id}
    if lay.payment_control_account:
        party["ACC"] = lay.payment_control_account
    if lay.payment_address:
        party["BPAINV"] = lay.payment_address
    amounts = {"ACCDAT": x3_date(when), "REF": reference, "BAN": cfg.bank, "CUR": cfg.currency,
               "AMTCUR": money(amount), "CHQNUM": reference, "DES": description[:50]}
    if method and lay.payment_method_field:
        amounts[lay.payment_method_field] = method[:10]
    return {lay.payment_header: {"NUM": "", lay.payment_type_field: typ}, lay.payment_party: party,
            lay.payment_amounts: amounts,
            lay.payment_lines: [{"DENCOD": lay.payment_line_code, **line, lay.payment_line_amount: money(amount)}]}


def refund_object(r: Refund, cfg: SageX3Config) -> dict[str, Any]:
    """A payment entry of the refund transaction [I]: money out of bank BAN, settling the credit note.
    Like a receipt, it posts to the bank's own account, so Refund.cash_account is not sent."""
    return _payment_entry(cfg, cfg.layout.refund_type, r.customer_id, r.date, r.amount, r.reference,
                          f"PayTrace refund {r.reference}", r.method,
                          {"VCRTYP": cfg.layout.credit_memo_type, "VCRNUM": r.credit_memo_ref})


def reversal_object(v: Reversal, cfg: SageX3Config) -> dict[str, Any]:
    """A payment entry of the reversal transaction [I] naming the receipt it cancels, in full."""
    return _payment_entry(cfg, cfg.layout.reversal_type, v.customer_id, v.date, v.amount, v.reference,
                          f"PayTrace reversal {v.reference}", "",
                          {"VCRTYP": cfg.layout.receipt_document_type, "VCRNUM": v.payment_ref})


# kind -> (publication setting, header group, key field) for the documents a status marks.
STATUS_TARGETS = {"sales_order": ("pub_sales_order", "SOH0_1", "SOHNUM"), "invoice": ("pub_invoice", "SIH0_1", "NUM")}


def status_object(kind: str, status: str, layout: SageX3Layout) -> dict[str, Any]:
    """The `modify` body marking an order or invoice: only the user field [I] changes."""
    return {STATUS_TARGETS[kind][1]: {layout.status_field: status}}


def field_names(obj: dict[str, Any]) -> list[str]:
    """Every field an object sends, so an error message can be matched to the field it names."""
    names: list[str] = []
    for rows in obj.values():
        for row in rows if isinstance(rows, list) else [rows]:
            names.extend(k for k in row if k not in names)
    return names
