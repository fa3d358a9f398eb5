"""X3's business rules for the published objects: what save/read/query/modify accept, write and refuse.

Every refusal is a type-3 message that starts with the field it is about ("ITMREF : X : Record does
not exist"), the way X3 reports a web-service validation error; nothing is written unless the
whole object passes. The payment (PAY) and journal (GAS) screen groups are this sandbox's own
model where sage.md marks them [I]; a payment entry follows what public clients write [C]: PAY0_1
{NUM}, the party in PAY1_1 {FCY, BPR, ACC, BPAINV}, the amounts in PAY1_2 {ACCDAT, REF, BAN, CUR,
AMTCUR, CHQNUM} and its lines in table PAY1_4 {DENCOD, VCRTYP, VCRNUM, AMTLIN}. The payment
transaction (PAYTYP, in PAY0_1) is this sandbox's own [I]. So is the lifecycle: credit notes as
invoices of a credit category (INVTYP [C]) naming their origin (SIHORINUM), refunds and reversals as
payment entries of their own transaction, and the YPAYSTA user field for a free-text status
(docs/sage-x3.md). So is matching's: an invoice's due date (payment term PTE from STRDUDDAT), the
merchant's invoice number whole in a user field (YINVID), and a receipt line naming no document
held on account. The invoice has no CUSORDREF (the customer's PO is on the order [C]) and keeps its
currency in SIH2_1, as the standard screen does [C] (a site's own publication may use SIH0_1:
`invoice_currency_group`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .state import (ALL_PAYMENT_TYPES, BANKS, COUNTRIES, CREDIT_NOTE_TYPES, CURRENCIES, EMAIL_FIELDS, ENTRY_TYPES,
                    INVOICE_CATEGORIES, INVOICE_ID_FIELD, INVOICE_ID_LENGTH, INVOICE_TYPES, JOURNALS, LANGUAGES,
                    ORDER_TYPES, PAYMENT_ATTRIBUTES, PAYMENT_TERMS, PAYMENT_TYPES, PHONE_FIELDS, REFUND_TYPES,
                    REVERSAL_TYPES, SITES, STATUS_FIELD, STATUS_LENGTH, X3State)

ERROR = 3
CENT = Decimal("0.01")
LOCKED = "Locked record"
MISSING = "Record does not exist"
EXISTS = "Record that already exists"
REF_MAX = 30
ORIGIN_FIELD = "SIHORINUM"  # [I] the credit note's header field naming the invoice it credits
# CUSORDREF, the customer's order reference, is the order's [C]: SINVOICEV has none (V11 dictionary),
# so an invoice sent with one is refused. In SIH2_2 beside the payment term PTE [C], the date due
# dates are computed from (SINVOICE.STRDUDDAT, a column public code reads) [I: its group]. Due date
# = STRDUDDAT (default: the invoice date) + the term's days.
PO_FIELD = "CUSORDREF"
DUE_FIELD = "STRDUDDAT"
DEFAULT_TERM = "NET30"  # [I] every customer's payment term here: an invoice sent without one is due in 30 days
ON_ACCOUNT_TYPE = "PAY"  # [I] TYP of the open item a receipt applied to nothing leaves
# kind -> (header group, lines table, key fields)
GROUPS = {
    "customers": ("BPC0_1", "BPAC_1", ("BPCNUM",)),
    "orders": ("SOH0_1", "SOH4_1", ("SOHNUM",)),
    "invoices": ("SIH0_1", "SIH4_1", ("NUM",)),
    "payments": ("PAY0_1", "PAY1_4", ("NUM",)),
    "journals": ("GAS0_1", "GAS1_1", ("TYP", "NUM")),
}


class Refusal(Exception):
    """The X3 process refused the call: status 0 with these type-3 messages."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = [(ERROR, m) for m in messages]


# ---- field readers: each refusal names the field -------------------------------------------
def _group(obj: dict, gid: str) -> dict:
    value = obj.get(gid) or {}
    if not isinstance(value, dict):
        raise Refusal(f"{gid} : a group, not a table")
    return value


def _table(obj: dict, gid: str) -> list[dict]:
    value = obj.get(gid) or []
    return [value] if isinstance(value, dict) else list(value)


def _text(g: dict, name: str, size: int, mandatory: bool = False, where: str = "") -> str:
    value = g.get(name)
    value = "" if value is None else str(value).strip()
    if mandatory and not value:
        raise Refusal(f"{where}{name} : Mandatory field")
    if len(value) > size:
        raise Refusal(f"{where}{name} : {value} : Field too long ({size} characters maximum)")
    return value


def _choice(g: dict, name: str, allowed, default: str = "", where: str = "") -> str:
    value = _text(g, name, 20, not default, where) or default
    if value not in allowed:
        raise Refusal(f"{where}{name} : {value} : {MISSING}")
    return value


def _number(g: dict, name: str, where: str = "", default: str | None = None, money: bool = False) -> Decimal:
    raw = g.get(name)
    if raw in (None, ""):
        if default is None:
            raise Refusal(f"{where}{name} : Mandatory field")
        raw = default
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise Refusal(f"{where}{name} : {raw} : Incorrect value") from None
    if not value.is_finite() or (money and value != value.quantize(CENT)):
        raise Refusal(f"{where}{name} : {raw} : Incorrect value")
    return value


def _positive(g: dict, name: str, where: str = "", money: bool = True) -> Decimal:
    value = _number(g, name, where, money=money)
    if value <= 0:
        raise Refusal(f"{where}{name} : {value} : Value must be greater than 0")
    return value


def _date(g: dict, name: str) -> date:
    raw = _text(g, name, 10, mandatory=True)
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise Refusal(f"{name} : {raw} : Incorrect date")


def _customer(st: X3State, g: dict, name: str, locked: frozenset[str]) -> dict:
    num = _text(g, name, 15, mandatory=True)
    rec = st.records["customers"].get(num)
    if rec is None:
        raise Refusal(f"{name} : {num} : {MISSING}")
    if num in locked:
        raise Refusal(f"{name} : {num} : {LOCKED} (BPCUSTOMER in use by ADMIN on another workstation)")
    return rec


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---- customers -----------------------------------------------------------------------------
_ADDRESS_FIELDS = ("ADDLIG1", "ADDLIG2", "ADDLIG3", "POSCOD", "CTY", "SAT", "BPACRY", *PHONE_FIELDS, *EMAIL_FIELDS)
#: What an address line may carry (WSBPC_SAVE.XML [C]); anything else is refused, so a misnamed field
#: (TEL for TEL1) shows as an error instead of a phone number silently lost [I: X3's own reaction].
_ADDRESS_KNOWN = frozenset({"CODADR", "BPADES", "BPAADDFLG", "CRYNAM", "FCYWEB", "EXTNUM", "FLMOD", "ADRVAL",
                            "FLMODFONC", "CREDATTIM", "UPDDATTIM", *_ADDRESS_FIELDS})


def _customer_record(obj: dict, current: dict | None = None) -> dict:
    """The customer as X3 keeps it; `current` (on modify) keeps creation stamps and the stamps of
    addresses that did not change, as X3 rewrites only the BPADDRESS rows that did [I]."""
    bpc, bpr = _group(obj, "BPC0_1"), _group(obj, "BPRC_1")
    num = _text(bpc, "BPCNUM", 15, mandatory=True)
    if not all(c.isalnum() or c in "-_" for c in num):
        raise Refusal(f"BPCNUM : {num} : Incorrect value")
    name = _text(bpc, "BPCNAM", 35, mandatory=True)
    names = bpr.get("BPRNAM") or [name, ""]
    names = [str(n)[:35] for n in (names if isinstance(names, list) else [names, ""])][:2]
    before = {a["CODADR"]: a for a in (current or {}).get("BPAC_1", [])}
    addresses = []
    for i, a in enumerate(_table(obj, "BPAC_1"), 1):
        where = f"BPAC_1 line {i} : "
        unknown = sorted(set(a) - _ADDRESS_KNOWN)
        if unknown:
            raise Refusal(f"{where}{unknown[0]} : Field does not exist")
        address = {"CODADR": _text(a, "CODADR", 5, where=where) or f"A{i}",
                   "BPAADDFLG": 2 if i == 1 else 1,
                   **{f: _text(a, f, 50, where=where) for f in ("ADDLIG1", "ADDLIG2", "ADDLIG3")},
                   "POSCOD": _text(a, "POSCOD", 10, where=where), "CTY": _text(a, "CTY", 40, where=where),
                   "SAT": _text(a, "SAT", 35, where=where),
                   "BPACRY": _choice(a, "BPACRY", COUNTRIES, _text(bpr, "CRY", 3) or "US", where),
                   **{f: _text(a, f, 20, where=where) for f in PHONE_FIELDS},
                   **{f: _text(a, f, 80, where=where) for f in EMAIL_FIELDS}}
        old = before.get(address["CODADR"])
        same = old is not None and all(old.get(f) == address[f] for f in _ADDRESS_FIELDS)
        stamps = {k: old[k] for k in ("CREDATTIM", "UPDDATTIM")} if same else X3State.stamp(old)
        address.update(CREDATTIM=stamps["CREDATTIM"], UPDDATTIM=stamps["UPDDATTIM"])
        addresses.append(address)
    return {"BPC0_1": {"BCGCOD": _text(bpc, "BCGCOD", 5) or "NA", "BPCSTA": 1 if str(bpc.get("BPCSTA")) == "1" else 2,
                       "BPCNUM": num, "BPCNAM": name},
            "BPRC_1": {"BPRSHO": _text(bpr, "BPRSHO", 10) or name[:10], "BPRLOG": _text(bpr, "BPRLOG", 10),
                       "BPRNAM": names, "CRY": _choice(bpr, "CRY", COUNTRIES),
                       "LAN": _choice(bpr, "LAN", LANGUAGES, "ENG"), "CUR": _choice(bpr, "CUR", CURRENCIES)},
            "BPAC_1": addresses, "ADXTEC": X3State.stamp((current or {}).get("ADXTEC"))}


def save_customer(st: X3State, obj: dict, locked: frozenset[str]) -> dict:
    rec = _customer_record(obj)
    num = rec["BPC0_1"]["BPCNUM"]
    if num in st.records["customers"]:
        raise Refusal(f"BPCNUM : {num} : {EXISTS}")
    st.records["customers"][num] = rec
    return rec


def modify_customer(st: X3State, key: str, obj: dict, locked: frozenset[str]) -> dict:
    """modify: the groups sent replace what X3 holds (a table, all its rows); the rest is kept."""
    current = st.records["customers"].get(key)
    if current is None:
        raise Refusal(f"BPCNUM : {key} : {MISSING}")
    if key in locked:
        raise Refusal(f"BPCNUM : {key} : {LOCKED} (BPCUSTOMER in use by ADMIN on another workstation)")
    merged = {gid: ({**current[gid], **_group(obj, gid)}) for gid in ("BPC0_1", "BPRC_1")}
    merged["BPC0_1"]["BPCNUM"] = key  # the key is not modifiable
    merged["BPAC_1"] = _table(obj, "BPAC_1") if "BPAC_1" in obj else current["BPAC_1"]
    rec = _customer_record(merged, current)
    st.records["customers"][key] = rec
    return rec


# ---- sales orders and invoices ---------------------------------------------------------------
def _lines(st: X3State, obj: dict, gid: str) -> list[dict]:
    rows = _table(obj, gid)
    if not rows:
        raise Refusal(f"{gid} : ITMREF : Mandatory field (at least one line)")
    out = []
    for i, row in enumerate(rows, 1):
        where = f"{gid} line {i} : "
        ref = _text(row, "ITMREF", 20, mandatory=True, where=where)
        item = st.items.get(ref)
        if item is None:
            raise Refusal(f"{where}ITMREF : {ref} : {MISSING}")
        qty = _positive(row, "QTY", where, money=False)
        price = _number(row, "GROPRI", where, default=format(item["BASPRI"], "f"), money=True)
        if price < 0:
            raise Refusal(f"{where}GROPRI : {price} : Value must not be negative")
        out.append({"ITMREF": ref, "ITMDES1": _text(row, "ITMDES1", 30, where=where) or item["ITMDES1"],
                    "QTY": qty, "STU": item["STU"], "GROPRI": price, "NETPRI": price,
                    "AMTNOTLIN": _money(qty * price), "_row": row, "_item": item})
    return out


def _stock_rows(st: X3State, site: str, ref: str) -> list[dict]:
    return [s for s in st.stock if s["STOFCY"] == site and s["ITMREF"] == ref and s["STA"] == "A"]


def save_order(st: X3State, obj: dict, locked: frozenset[str]) -> dict:
    h = _group(obj, "SOH0_1")
    site = _choice(h, "SALFCY", SITES)
    typ = _choice(h, "SOHTYP", ORDER_TYPES)
    customer = _customer(st, h, "BPCORD", locked)
    when = _date(h, "ORDDAT")
    cur = _choice(h, "CUR", CURRENCIES, customer["BPRC_1"]["CUR"])
    ref = _text(h, "CUSORDREF", REF_MAX)
    stofcy = _choice(_group(obj, "SOH2_1"), "STOFCY", SITES, site)
    num = _text(h, "SOHNUM", 15)
    if num and num in st.records["orders"]:
        raise Refusal(f"SOHNUM : {num} : {EXISTS}")
    lines = _lines(st, obj, "SOH4_1")
    managed = allocated = short = 0
    for i, line in enumerate(lines, 1):
        line.update(SOPLIN=1000 * i, ALLQTY=Decimal("0"), SHTQTY=Decimal("0"), INVQTY=Decimal("0"))
        line.pop("_row")
        if line.pop("_item")["STOMGTCOD"] != 2:
            continue
        managed += 1
        want = line["QTY"]
        for row in _stock_rows(st, stofcy, line["ITMREF"]):  # allocate what is available, row by row
            take = min(row["QTYSTU"] - row["CUMALLQTY"], want)
            if take > 0:
                row["CUMALLQTY"] += take
                line["ALLQTY"] += take
                want -= take
        line["SHTQTY"] = want
        allocated += line["ALLQTY"] > 0
        short += want > 0
    allsta = 1 if not managed or not allocated else (2 if short else 3)  # menu 416 [I]: 1 none, 2 part, 3 all
    num = num or st.next_number(typ, site, when)
    total = _money(sum((l["AMTNOTLIN"] for l in lines), Decimal("0")))
    rec = {"SOH0_1": {"SALFCY": site, "SOHTYP": typ, "SOHNUM": num, "CUSORDREF": ref,
                      "BPCORD": customer["BPC0_1"]["BPCNUM"], "BPCINV": customer["BPC0_1"]["BPCNUM"],
                      "ORDDAT": when.strftime("%Y%m%d"), "CUR": cur, STATUS_FIELD: ""},
           "SOH1_1": {"ORDSTA": 1, "ALLSTA": allsta, "INVSTA": 1, "DLVSTA": 1},
           "SOH2_1": {"STOFCY": stofcy}, "SOH4_3": {"ORDNOT": total, "ORDATI": total},
           "SOH4_1": lines, "ADXTEC": X3State.stamp()}
    st.records["orders"][num] = rec
    return rec


def _bill_order_line(st: X3State, line: dict, sohnum: str, bpc: str, where: str) -> tuple[dict, dict] | None:
    """Check an invoice line against the order it bills; the order line it draws on, or refuse."""
    order = st.records["orders"].get(sohnum)
    if order is None:
        raise Refusal(f"{where}SOHNUM : {sohnum} : {MISSING}")
    if order["SOH0_1"]["BPCORD"] != bpc:
        raise Refusal(f"{where}SOHNUM : {sohnum} : order of customer {order['SOH0_1']['BPCORD']}, not {bpc}")
    for oline in order["SOH4_1"]:
        if oline["ITMREF"] == line["ITMREF"] and oline["QTY"] - oline["INVQTY"] >= line["QTY"]:
            return order, oline
    raise Refusal(f"{where}QTY : {line['QTY']} : greater than the quantity left to invoice on {sohnum}")


def save_invoice(st: X3State, obj: dict, locked: frozenset[str], currency_group: str = "SIH2_1") -> dict:
    h = _group(obj, "SIH0_1")
    site = _choice(h, "SALFCY", SITES)
    typ = _choice(h, "SIVTYP", INVOICE_TYPES)
    customer = _customer(st, h, "BPCINV", locked)
    bpc = customer["BPC0_1"]["BPCNUM"]
    when = _date(h, "INVDAT")
    for gid, group in obj.items():
        if isinstance(group, dict) and "CUR" in group and gid != currency_group:
            raise Refusal(f"CUR : not in {gid} of this publication (the currency is in {currency_group})")
    cur = _choice(_group(obj, currency_group), "CUR", CURRENCIES, customer["BPRC_1"]["CUR"])
    ref = _text(h, "INVREF", REF_MAX)
    if PO_FIELD in h:
        raise Refusal(f"{PO_FIELD} : Field does not exist (the customer's order reference is on the order)")
    merchant_id = _text(h, INVOICE_ID_FIELD, INVOICE_ID_LENGTH)
    terms = _group(obj, "SIH2_2")
    pte = _choice(terms, "PTE", PAYMENT_TERMS, DEFAULT_TERM)
    start = _date(terms, DUE_FIELD) if _text(terms, DUE_FIELD, 10) else when
    due = start + timedelta(days=PAYMENT_TERMS[pte])
    if _text(h, "NUM", 20):
        raise Refusal("NUM : numbering is automatic for this invoice type")
    credit_note = typ in CREDIT_NOTE_TYPES
    # a credit note naming no invoice is a credit on the customer's account
    origin = _credited_invoice(st, h, bpc) if credit_note and _text(h, ORIGIN_FIELD, 20) else None
    if not credit_note and _text(h, ORIGIN_FIELD, 20):
        raise Refusal(f"{ORIGIN_FIELD} : only a credit note names an origin invoice")
    lines = _lines(st, obj, "SIH4_1")
    billed = []
    for i, line in enumerate(lines, 1):
        line.pop("_item")
        sohnum = _text(line.pop("_row"), "SOHNUM", 15)
        line["SOHNUM"] = sohnum
        if sohnum and credit_note:
            raise Refusal(f"SIH4_1 line {i} : SOHNUM : {sohnum} : a credit note does not bill an order")
        if sohnum:
            billed.append((line, *_bill_order_line(st, line, sohnum, bpc, f"SIH4_1 line {i} : ")))
    total = _money(sum((l["AMTNOTLIN"] for l in lines), Decimal("0")))
    if origin is not None:
        left = _left_to_credit(st, origin)
        if total > left:  # checked before anything is written
            raise Refusal(f"AMTNOT : {total} : greater than the amount left to credit {left} on invoice "
                          f"{origin['SIH0_1']['NUM']}")
    for line, order, oline in billed:  # all lines passed: draw on the orders, consume allocated stock
        oline["INVQTY"] += line["QTY"]
        used = min(oline["ALLQTY"], line["QTY"])
        oline["ALLQTY"] -= used
        for row in _stock_rows(st, order["SOH2_1"]["STOFCY"], oline["ITMREF"]):
            take = min(row["CUMALLQTY"], used)
            row["CUMALLQTY"] -= take
            row["QTYSTU"] -= take
            used -= take
        done = all(l["INVQTY"] >= l["QTY"] for l in order["SOH4_1"])
        order["SOH1_1"].update(INVSTA=3 if done else 2, ORDSTA=2 if done else 1)
    num = st.next_number(typ, site, when)
    header = {"SALFCY": site, "SIVTYP": typ, "INVTYP": INVOICE_CATEGORIES[typ], "NUM": num, "INVREF": ref,
              "INVDAT": when.strftime("%Y%m%d"), "BPCINV": bpc, INVOICE_ID_FIELD: merchant_id, STATUS_FIELD: ""}
    if origin is not None:
        header[ORIGIN_FIELD] = origin["SIH0_1"]["NUM"]
    rec = {"SIH0_1": header, "SIH2_1": {"CUR": cur}, "SIH2_2": {"PTE": pte, DUE_FIELD: start.strftime("%Y%m%d")},
           "SIH4_3": {"INVNOT": total, "INVATI": total}, "SIH4_1": lines, "ADXTEC": X3State.stamp()}
    st.records["invoices"][num] = rec
    # The open item (GACCDUDATE): an invoice is owed to us (SNS 1), a credit note owed back (SNS -1).
    st.open_items[num] = {"TYP": typ, "NUM": num, "BPR": bpc, "CUR": cur, "DUDDAT": due.strftime("%Y%m%d"),
                          "SNS": -1 if credit_note else 1, "AMTCUR": total, "PAYCUR": Decimal("0.00")}
    return rec


def _credited_invoice(st: X3State, h: dict, bpc: str) -> dict:
    """The invoice a credit note credits: it must exist, be an invoice, and be the same customer's."""
    num = _text(h, ORIGIN_FIELD, 20, mandatory=True)
    inv = st.records["invoices"].get(num)
    if inv is None:
        raise Refusal(f"{ORIGIN_FIELD} : {num} : {MISSING}")
    if inv["SIH0_1"]["SIVTYP"] in CREDIT_NOTE_TYPES:
        raise Refusal(f"{ORIGIN_FIELD} : {num} : is a credit note, not an invoice")
    if inv["SIH0_1"]["BPCINV"] != bpc:
        raise Refusal(f"{ORIGIN_FIELD} : {num} : invoice of customer {inv['SIH0_1']['BPCINV']}, not {bpc}")
    return inv


def _left_to_credit(st: X3State, inv: dict) -> Decimal:
    """The invoice's amount less what earlier credit notes against it credited."""
    num = inv["SIH0_1"]["NUM"]
    credited = sum((r["SIH4_3"]["INVNOT"] for r in st.records["invoices"].values()
                    if r["SIH0_1"].get(ORIGIN_FIELD) == num), Decimal("0.00"))
    return inv["SIH4_3"]["INVNOT"] - credited


# ---- receipts and journal entries --------------------------------------------------------------
#: Where each field of a payment entry goes [C] (public clients' PAY save payloads).
PAYMENT_GROUPS = {"PAY0_1": ("NUM", "PAYTYP"), "PAY1_1": ("FCY", "BPR", "ACC", "BPAINV"),
                  "PAY1_2": ("ACCDAT", "REF", "BAN", "CUR", "AMTCUR", "CHQNUM", "DES", "PAM")}


def _payment_groups(obj: dict) -> tuple[dict, dict, dict]:
    """PAY0_1, PAY1_1 and PAY1_2, each holding only its own fields: a field sent in another group is
    refused by name, as the screen would not take it there [I: X3's exact message]."""
    groups = tuple(_group(obj, gid) for gid in PAYMENT_GROUPS)
    for (gid, own), group in zip(PAYMENT_GROUPS.items(), groups):
        for name in group:
            home = next((g for g, names in PAYMENT_GROUPS.items() if name in names), None)
            if home is not None and home != gid:
                raise Refusal(f"{name} : not in {gid} (it is in {home})")
    return groups  # type: ignore[return-value]


def save_payment(st: X3State, obj: dict, locked: frozenset[str]) -> dict:
    """A payment entry (PAY). Its transaction decides what it is [I]: a receipt (money in, applied to
    invoices), a refund (money out of the bank, settling credit notes) or a reversal (cancels one
    receipt: each invoice it paid opens again by what it paid, the bank gives the money back).

    Every line (PAY1_4) carries its payment attribute DENCOD [C]. A receipt whose lines name no
    document is a payment on account (unapplied cash): it pays no invoice and leaves an open item of
    its own on the customer's account, owed back to the customer (SNS -1) until a person matches it [I]."""
    head, party, money = _payment_groups(obj)
    if _text(head, "NUM", 20):
        raise Refusal("NUM : numbering is automatic for this payment transaction")
    typ = _choice(head, "PAYTYP", ALL_PAYMENT_TYPES)
    customer = _customer(st, party, "BPR", locked)
    bpr = customer["BPC0_1"]["BPCNUM"]
    site = _choice(party, "FCY", SITES, "NA011")
    acc = _text(party, "ACC", 15)
    if acc and acc not in st.accounts:
        raise Refusal(f"ACC : {acc} : {MISSING}")
    bpainv = _text(party, "BPAINV", 5)
    if bpainv and all(a["CODADR"] != bpainv for a in customer["BPAC_1"]):
        raise Refusal(f"BPAINV : {bpainv} : {MISSING}")
    bank = BANKS.get(_choice(money, "BAN", BANKS))
    when = _date(money, "ACCDAT")
    cur = _choice(money, "CUR", CURRENCIES, bank["CUR"])
    if cur != bank["CUR"]:
        raise Refusal(f"CUR : {cur} : bank {bank['BAN']} is kept in {bank['CUR']}")
    amount = _positive(money, "AMTCUR")
    rows = _table(obj, "PAY1_4")
    if not rows:
        raise Refusal("PAY1_4 : DENCOD : Mandatory field (at least one line)")
    for i, row in enumerate(rows, 1):
        _choice(row, "DENCOD", PAYMENT_ATTRIBUTES, where=f"PAY1_4 line {i} : ")
    named = [row for row in rows if _text(row, "VCRNUM", 20)]
    if named and len(named) != len(rows):
        raise Refusal("PAY1_4 : VCRNUM : every line names a document, or none does (a payment on account)")
    if typ in REVERSAL_TYPES:
        applied, effect = _reversal_lines(st, rows, bpr, amount)
    elif named or typ not in PAYMENT_TYPES:
        applied, effect = _applied_lines(st, rows, bpr, credit=typ in REFUND_TYPES)
    else:
        applied, effect = [], lambda num: None
        if sum(_positive(r, "AMTLIN", f"PAY1_4 line {i} : ") for i, r in enumerate(rows, 1)) != amount:
            raise Refusal(f"AMTCUR : {amount} : differs from the total of the lines")
    if applied and sum(a["AMTLIN"] for a in applied) != amount:
        raise Refusal(f"AMTCUR : {amount} : differs from the total of the lines "
                      f"{sum(a['AMTLIN'] for a in applied)}")
    num = st.next_number("PAY", site, when)
    effect(num)  # every check passed: now the open items move
    if typ in PAYMENT_TYPES and not applied:
        st.open_items[num] = {"TYP": ON_ACCOUNT_TYPE, "NUM": num, "BPR": bpr, "CUR": cur,
                              "DUDDAT": when.strftime("%Y%m%d"), "SNS": -1, "AMTCUR": amount,
                              "PAYCUR": Decimal("0.00")}
    sign = 1 if typ in PAYMENT_TYPES else -1  # money in or out of the bank
    st.bank_balances[bank["BAN"]] = st.bank_balances.get(bank["BAN"], Decimal("0.00")) + sign * amount
    lines = applied or [{"DENCOD": _text(r, "DENCOD", 20), "VCRTYP": "", "VCRNUM": "",
                         "AMTLIN": _positive(r, "AMTLIN", f"PAY1_4 line {i} : ")} for i, r in enumerate(rows, 1)]
    rec = {"PAY0_1": {"NUM": num, "PAYTYP": typ, "REVNUM": ""},
           "PAY1_1": {"FCY": site, "BPR": bpr, "ACC": acc, "BPAINV": bpainv, "BPANAM": customer["BPC0_1"]["BPCNAM"]},
           "PAY1_2": {"ACCDAT": when.strftime("%Y%m%d"), "REF": _text(money, "REF", REF_MAX), "BAN": bank["BAN"],
                      "CUR": cur, "AMTCUR": amount, "AMTBAN": amount, "SNS": sign,
                      "CHQNUM": _text(money, "CHQNUM", 30), "DES": _text(money, "DES", 50),
                      "PAM": _text(money, "PAM", 10)},
           "PAY1_4": lines, "ADXTEC": X3State.stamp()}
    st.records["payments"][num] = rec
    return rec


def _applied_lines(st: X3State, rows: list[dict], bpr: str, credit: bool):
    """Receipt lines (invoices, SNS 1) or refund lines (credit notes, SNS -1), each at most what is open."""
    applied, open_left = [], {}
    for i, row in enumerate(rows, 1):
        where = f"PAY1_4 line {i} : "
        vcr = _text(row, "VCRNUM", 20, mandatory=True, where=where)
        item = st.open_items.get(vcr)
        if item is None:
            raise Refusal(f"{where}VCRNUM : {vcr} : {MISSING}")
        if item["BPR"] != bpr:
            raise Refusal(f"{where}VCRNUM : {vcr} : document of {item['BPR']}, not {bpr}")
        vtyp = _text(row, "VCRTYP", 5, where=where) or item["TYP"]
        if vtyp != item["TYP"]:
            raise Refusal(f"{where}VCRTYP : {vtyp} : {vcr} is of type {item['TYP']}")
        if (item.get("SNS", 1) == -1) != credit:
            what = "a credit note: only a refund settles it" if not credit else "not a credit note"
            raise Refusal(f"{where}VCRNUM : {vcr} : {what}")
        line_amount = _positive(row, "AMTLIN", where)
        left = open_left.get(vcr, item["AMTCUR"] - item["PAYCUR"])
        if line_amount > left:
            raise Refusal(f"{where}AMTLIN : {line_amount} : greater than the open amount {left} of {vcr}")
        open_left[vcr] = left - line_amount
        applied.append({"DENCOD": _text(row, "DENCOD", 20), "VCRTYP": vtyp, "VCRNUM": vcr, "AMTLIN": line_amount})

    def effect(num: str) -> None:
        for a in applied:
            st.open_items[a["VCRNUM"]]["PAYCUR"] += a["AMTLIN"]
    return applied, effect


def _reversal_lines(st: X3State, rows: list[dict], bpr: str, amount: Decimal):
    """One line naming the receipt (VCRTYP PAY): same customer, not reversed yet, reversed in full."""
    if len(rows) != 1:
        raise Refusal("PAY1_4 : VCRNUM : a reversal names exactly one receipt")
    where = "PAY1_4 line 1 : "
    vcr = _text(rows[0], "VCRNUM", 20, mandatory=True, where=where)
    receipt = st.records["payments"].get(vcr)
    if receipt is None or receipt["PAY0_1"]["PAYTYP"] not in PAYMENT_TYPES:
        raise Refusal(f"{where}VCRNUM : {vcr} : {MISSING}" if receipt is None
                      else f"{where}VCRNUM : {vcr} : not a receipt")
    head, money = receipt["PAY0_1"], receipt["PAY1_2"]
    if receipt["PAY1_1"]["BPR"] != bpr:
        raise Refusal(f"{where}VCRNUM : {vcr} : receipt of {receipt['PAY1_1']['BPR']}, not {bpr}")
    if head.get("REVNUM"):
        raise Refusal(f"{where}VCRNUM : {vcr} : already reversed by {head['REVNUM']}")
    vtyp = _text(rows[0], "VCRTYP", 5, where=where) or "PAY"
    if vtyp != "PAY":
        raise Refusal(f"{where}VCRTYP : {vtyp} : {vcr} is of type PAY")
    line_amount = _positive(rows[0], "AMTLIN", where)
    if line_amount != money["AMTCUR"] or amount != money["AMTCUR"]:
        raise Refusal(f"{where}AMTLIN : {line_amount} : a receipt is reversed in full ({money['AMTCUR']})")
    applied = [{"DENCOD": _text(rows[0], "DENCOD", 20), "VCRTYP": "PAY", "VCRNUM": vcr, "AMTLIN": line_amount}]
    held = st.open_items.get(vcr)  # a receipt on account: what it left on the customer's account
    if held is not None and held["PAYCUR"]:
        raise Refusal(f"{where}VCRNUM : {vcr} : {held['PAYCUR']} of this payment on account is already used")

    def effect(num: str) -> None:
        for line in receipt["PAY1_4"]:  # the invoices it paid open again by what it paid
            if line["VCRNUM"] in st.open_items and line["VCRNUM"] != vcr:
                st.open_items[line["VCRNUM"]]["PAYCUR"] -= line["AMTLIN"]
        if held is not None:  # unapplied cash given back: nothing left on account
            held["PAYCUR"] = held["AMTCUR"]
        head["REVNUM"] = num
    return applied, effect


def save_journal(st: X3State, obj: dict, locked: frozenset[str]) -> dict:
    h = _group(obj, "GAS0_1")
    typ = _choice(h, "TYP", ENTRY_TYPES)
    jou = _choice(h, "JOU", JOURNALS)
    site = _choice(h, "FCY", SITES, "NA011")
    when = _date(h, "ACCDAT")
    cur = _choice(h, "CUR", CURRENCIES)
    rows = _table(obj, "GAS1_1")
    if len(rows) < 2:
        raise Refusal("GAS1_1 : ACC : an entry needs at least two lines")
    lines, side = [], {1: Decimal("0"), -1: Decimal("0")}
    for i, row in enumerate(rows, 1):
        where = f"GAS1_1 line {i} : "
        acc = _text(row, "ACC", 15, mandatory=True, where=where)
        if acc not in st.accounts:
            raise Refusal(f"{where}ACC : {acc} : {MISSING}")
        sns = str(row.get("SNS", "")).strip()
        if sns not in ("1", "-1"):
            raise Refusal(f"{where}SNS : {sns} : must be 1 (debit) or -1 (credit)")
        amount = _positive(row, "AMTCUR", where)
        side[int(sns)] += amount
        lines.append({"LIN": i, "ACC": acc, "SNS": int(sns), "AMTCUR": amount, "AMTLED": amount, "CUR": cur,
                      "DES": _text(row, "DES", 50, where=where)})
    if side[1] != side[-1]:
        raise Refusal(f"AMTCUR : Unbalanced entry: debit {side[1]} credit {side[-1]}")
    num = st.next_number(jou, site, when)
    rec = {"GAS0_1": {"TYP": typ, "NUM": num, "FCY": site, "JOU": jou, "ACCDAT": when.strftime("%Y%m%d"),
                      "REF": _text(h, "REF", REF_MAX), "CUR": cur, "DESVCR": _text(h, "DESVCR", 50)},
           "GAS1_1": lines, "ADXTEC": X3State.stamp()}
    st.records["journals"][f"{typ}~{num}"] = rec
    return rec


def modify_document(st: X3State, kind: str, key: str, obj: dict, locked: frozenset[str]) -> dict:
    """modify on an order (SOHNUM) or invoice (NUM): only the free-text user field [I] may change;
    X3's own statuses (ORDSTA, INVSTA...) are coded menus its processes set, and a validated
    invoice's other fields are closed to modification."""
    header_id, _, (key_name,) = GROUPS[kind]
    rec = st.records[kind].get(key)
    if rec is None:
        raise Refusal(f"{key_name} : {key} : {MISSING}")
    customer = rec[header_id].get("BPCORD") or rec[header_id].get("BPCINV")
    if customer in locked:
        raise Refusal(f"{key_name} : {key} : {LOCKED} (customer {customer} in use by ADMIN on another workstation)")
    changes = {}
    if kind == "orders" and set(obj) == {"SOH1_1"}:
        return _close_order(st, rec, obj["SOH1_1"])
    for gid, value in obj.items():
        if gid != header_id or not isinstance(value, dict):
            raise Refusal(f"{gid} : Modification not allowed")
        for name in value:
            if name != STATUS_FIELD:
                raise Refusal(f"{name} : Modification not allowed")
        changes[STATUS_FIELD] = _text(value, STATUS_FIELD, STATUS_LENGTH)
    rec[header_id].update(changes)
    rec["ADXTEC"] = X3State.stamp(rec.get("ADXTEC"))
    return rec


def _close_order(st: X3State, rec: dict, group: dict) -> dict:
    """Close an order (ORDSTA 2, X3's order closing [I: as a modify of SOH1_1]): every allocation it
    still holds goes back to stock (CUMALLQTY), its lines show nothing allocated. Closing a closed
    order changes nothing."""
    if set(group) != {"ORDSTA"} or str(group["ORDSTA"]) != "2":
        raise Refusal("SOH1_1 : only ORDSTA 2 (closed) may be set by a modification")
    if rec["SOH1_1"]["ORDSTA"] == 2:
        return rec
    site = rec["SOH2_1"]["STOFCY"]
    for line in rec["SOH4_1"]:
        held = line["ALLQTY"]
        for row in _stock_rows(st, site, line["ITMREF"]):
            take = min(row["CUMALLQTY"], held)
            row["CUMALLQTY"] -= take
            held -= take
        line["ALLQTY"] = Decimal("0")
        line["SHTQTY"] = Decimal("0")
    rec["SOH1_1"].update(ORDSTA=2, ALLSTA=1)
    rec["ADXTEC"] = X3State.stamp(rec.get("ADXTEC"))
    return rec


SAVERS = {"customers": save_customer, "orders": save_order, "invoices": save_invoice, "payments": save_payment,
          "journals": save_journal}


def find(st: X3State, kind: str, keys: list[tuple[str, str]]) -> dict:
    """read: the record with these key values, or refuse 'Record does not exist'."""
    given = dict(keys)
    names = GROUPS[kind][2]
    missing = [n for n in names if not given.get(n)]
    if kind == "journals" and missing == ["TYP"]:  # NUM alone is unique in this sandbox
        match = [k for k in st.records[kind] if k.split("~", 1)[1] == given["NUM"]]
        key = match[0] if match else ""
    elif missing:
        raise Refusal(f"{missing[0]} : Mandatory key")
    else:
        key = "~".join(given[n] for n in names)
    rec = st.records[kind].get(key)
    if rec is None:
        raise Refusal(f"{names[-1]} : {given.get(names[-1])} : {MISSING}")
    return rec
