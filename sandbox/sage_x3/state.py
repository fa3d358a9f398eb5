"""One in-memory X3 folder: seed tables, documents, assigned numbers and request stats, under one lock."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

SITES = {"NA011": "US sales and stock site", "NA012": "US east warehouse"}
COUNTRIES = ("US", "CA", "GB", "FR", "DE", "MX")
CURRENCIES = ("USD", "CAD", "EUR", "GBP")
LANGUAGES = ("ENG", "FRA", "SPA")
ORDER_TYPES = ("SON", "SOI")
INVOICE_TYPES = ("INV", "CRN")
# Each invoice type's category, the standard field INVTYP [C: 1 invoice, 2 credit memo, 3 debit note,
# 4 credit note]. X3 enters credit memos in the invoice object (GESSIH) under a type of a credit
# category; their open item is a credit (SNS -1). The type codes themselves are site set-up [I].
INVOICE_CATEGORIES = {"INV": 1, "CRN": 4}
CREDIT_CATEGORIES = (2, 4)
CREDIT_NOTE_TYPES = tuple(t for t, c in INVOICE_CATEGORIES.items() if c in CREDIT_CATEGORIES)
# Payment attributes: the line code (DENCOD) every payment line carries [C: PAY1_4.DENCOD in public
# clients, which use their own codes ZAREC, ZAPAY]. This folder's set is [I].
PAYMENT_ATTRIBUTES = ("REC", "ZAREC", "ZAPAY")
PAYMENT_TYPES = ("RCPCB", "RCPCHQ", "RCPTRF")  # receipts: money in, applied to invoices
# Payment transactions of this sandbox's own model [I] (X3's payment-transaction codes are site set-up):
REFUND_TYPES = ("RFDCB",)  # a disbursement to a customer, settling a credit note; money out of the bank
REVERSAL_TYPES = ("RVSCB",)  # the reversal (cancellation) of one receipt: its invoices open again
ALL_PAYMENT_TYPES = PAYMENT_TYPES + REFUND_TYPES + REVERSAL_TYPES
# Free-text user field [I] (X3 "specific" fields start with X/Y/Z) on SOH0_1 and SIH0_1: the mark
# a person or an integration puts on an order or invoice; ORDSTA/INVSTA are coded menus paysync
# must not write.
STATUS_FIELD = "YPAYSTA"
STATUS_LENGTH = 20
# A user field [I] on SIH0_1 holding the merchant's own invoice number whole (a web shop's invoice id
# is longer than INVREF's 30 characters and would otherwise live only in a cut line description).
INVOICE_ID_FIELD = "YINVID"
INVOICE_ID_LENGTH = 50
# An address line's phones and e-mails: screen fields TEL1..TEL5 and WEB1..WEB5 [C] (WSBPC_SAVE.XML).
PHONE_FIELDS = tuple(f"TEL{i}" for i in range(1, 6))
EMAIL_FIELDS = tuple(f"WEB{i}" for i in range(1, 6))
# Payment terms (PTE) -> days from the due-date start (STRDUDDAT) to the due date [I: codes and
# the one-date model; X3 terms may split an invoice into several due dates].
PAYMENT_TERMS = {"NET30": 30, "NET15": 15, "DUEDATE": 0}
JOURNALS = ("MISC", "SALES", "BANK")
ENTRY_TYPES = ("ODT", "CLOSE")
ACCOUNTS = (
    ("10200", "Bank of America - operating"), ("10500", "Undeposited funds"), ("10510", "Card clearing - PayTrace"),
    ("10515", "Card clearing - Amex"),
    ("11000", "Accounts receivable"), ("20000", "Accounts payable"), ("21000", "Sales tax payable"),
    ("40000", "Sales"), ("41000", "Sales returns"), ("62000", "Merchant fees"),
)
BANKS = {"BOA": {"BAN": "BOA", "DES": "Bank of America", "ACC": "10500", "CUR": "USD"}}
# ITMREF, ITMDES1, STU, stock managed (X3 boolean menu: 1 No, 2 Yes), base price.
ITEMS = (
    ("PAYMENT", "Card payment received", "UN", 1, "0.00"),
    ("SERVICE", "Professional services", "UN", 1, "100.00"),
    ("WIDGET-1", "Widget, standard", "UN", 2, "25.00"),
    ("WIDGET-2", "Widget, deluxe (out of stock)", "UN", 2, "40.00"),
    ("GADGET-1", "Gadget", "UN", 2, "12.50"),
    ("FREIGHT", "Shipping and handling", "UN", 1, "0.00"),
    ("SALESTAX", "Sales tax collected", "UN", 1, "0.00"),
)
# STOCK rows: site, item, lot, status (A accepted), location, QTYSTU.
STOCK = (("NA011", "WIDGET-1", "L2601", "A", "A01", "10"), ("NA011", "WIDGET-1", "L2602", "A", "A02", "5"),
         ("NA012", "WIDGET-1", "L2603", "A", "B01", "20"), ("NA011", "WIDGET-2", "L2604", "Q", "Q01", "3"),
         ("NA011", "GADGET-1", "L2605", "A", "A03", "60"))
CUSTOMERS = (("NA001", "Alpha Industries", "US"), ("NA002", "Northwind Traders", "US"), ("CA001", "Maple Co", "CA"))
KINDS = ("customers", "orders", "invoices", "payments", "journals")


class X3State:
    """Every table of the folder; check-and-write happens under `self.lock`."""

    def __init__(self, seed: bool = True) -> None:
        self.lock = threading.RLock()
        self._seed = seed
        with self.lock:
            self._clear()

    def _clear(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.stock: list[dict[str, Any]] = []
        self.records: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.open_items: dict[str, dict[str, Any]] = {}  # GACCDUDATE, by invoice / credit note NUM
        self.bank_balances: dict[str, Decimal] = {ban: Decimal("0.00") for ban in BANKS}
        self.counters: Counter = Counter()
        self.requests: dict[str, Counter] = {}
        self.faults: Counter = Counter()
        self.saves: Counter = Counter()
        self.accounts = {acc: {"ACC": acc, "DES": des} for acc, des in ACCOUNTS}
        if not self._seed:
            return
        for ref, des, stu, managed, price in ITEMS:
            self.add_item({"ITMREF": ref, "ITMDES1": des, "STU": stu, "STOMGTCOD": managed, "BASPRI": price})
        for fcy, ref, lot, sta, loc, qty in STOCK:
            self.stock.append({"STOFCY": fcy, "ITMREF": ref, "LOT": lot, "STA": sta, "LOC": loc,
                               "QTYSTU": Decimal(qty), "CUMALLQTY": Decimal("0")})
        for num, name, country in CUSTOMERS:
            self.records["customers"][num] = {
                "BPC0_1": {"BCGCOD": "NA", "BPCSTA": 2, "BPCNUM": num, "BPCNAM": name},
                "BPRC_1": {"BPRSHO": name[:10], "BPRLOG": "", "BPRNAM": [name, ""], "CRY": country, "LAN": "ENG",
                           "CUR": "CAD" if country == "CA" else "USD"},
                "BPAC_1": [], "ADXTEC": self.stamp(),
            }

    def reset(self) -> None:
        with self.lock:
            self._clear()

    # ---- helpers used by the business rules ----------------------------------------------
    def next_number(self, prefix: str, site: str, when: date) -> str:
        """The next document number of a counter, as X3 assigns it: prefix, site, year, sequence."""
        key = f"{prefix}{site}{when:%y}"
        self.counters[key] += 1
        return f"{key}{self.counters[key]:05d}"

    @staticmethod
    def stamp(previous: dict[str, Any] | None = None) -> dict[str, str]:
        """The record's technical fields after a save: CREDATTIM kept from `previous`, UPDDATTIM now.

        Every X3 table carries CREDATTIM / UPDDATTIM (type ADATIM, a UTC date-time) beside
        CREUSR / UPDUSR; api1 shows them like any other property [I: the properties' names].
        """
        now = utc_now()
        return {"CREDATTIM": (previous or {}).get("CREDATTIM") or now, "UPDDATTIM": now,
                "WW_MODSTAMP": date.today().strftime("%Y%m%d") + "000000", "WW_MODUSER": "WEBSERVICE"}

    def add_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an item (ITMMASTER), optionally with accepted stock at one site; ValueError if refused."""
        ref = str(body.get("ITMREF") or "").strip()
        if not ref or len(ref) > 20:
            raise ValueError("ITMREF is mandatory and at most 20 characters")
        with self.lock:
            if ref in self.items:
                raise ValueError(f"ITMREF {ref}: Record that already exists")
            stock = Decimal(str(body.get("stock") or "0"))
            managed = int(body.get("STOMGTCOD") or (2 if stock > 0 else 1))
            item = {"ITMREF": ref, "ITMDES1": str(body.get("ITMDES1") or ref)[:30], "STU": body.get("STU") or "UN",
                    "STOMGTCOD": managed, "BASPRI": Decimal(str(body.get("BASPRI") or "0"))}
            self.items[ref] = item
            if stock > 0:
                self.stock.append({"STOFCY": body.get("STOFCY") or "NA011", "ITMREF": ref, "LOT": "", "STA": "A",
                                   "LOC": "A01", "QTYSTU": stock, "CUMALLQTY": Decimal("0")})
            return dict(item)

    # ---- stats and snapshot ----------------------------------------------------------------
    def record_request(self, name: str, status: int | str) -> None:
        with self.lock:
            self.requests.setdefault(name, Counter())[str(status)] += 1

    def record_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def record_save(self, kind: str) -> None:
        with self.lock:
            self.saves[kind] += 1

    def balances(self) -> dict[str, Decimal]:
        """Each customer's balance as X3 derives it from its open items: invoices (SNS 1) owe,
        credit notes (SNS -1) are owed back; what is paid or settled no longer counts."""
        with self.lock:
            out: dict[str, Decimal] = {}
            for o in self.open_items.values():
                left = (o["AMTCUR"] - o["PAYCUR"]) * int(o.get("SNS", 1))
                out[o["BPR"]] = out.get(o["BPR"], Decimal("0.00")) + left
            return out

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": {k: dict(v) for k, v in sorted(self.requests.items())},
                    "faults_injected": sum(n for k, n in self.faults.items() if k != "latency"),
                    "faults_by_kind": dict(self.faults), "saves": {k: self.saves[k] for k in KINDS}}

    def snapshot(self) -> dict[str, Any]:
        """Every table, money as strings; documents in the group form SOAP reads return."""
        with self.lock:
            out: dict[str, Any] = {kind: [_plain(r) for r in self.records[kind].values()] for kind in KINDS}
            # Credit notes live in the invoice table and refunds/reversals in the payment table, as in
            # X3; the state view lists each category on its own (the invoice/payment lists keep the rest).
            sih = out.pop("invoices")
            out["invoices"] = [r for r in sih if r["SIH0_1"]["SIVTYP"] not in CREDIT_NOTE_TYPES]
            out["credit_memos"] = [r for r in sih if r["SIH0_1"]["SIVTYP"] in CREDIT_NOTE_TYPES]
            pay = out.pop("payments")
            out["payments"] = [r for r in pay if r["PAY0_1"]["PAYTYP"] in PAYMENT_TYPES]
            out["refunds"] = [r for r in pay if r["PAY0_1"]["PAYTYP"] in REFUND_TYPES]
            out["reversals"] = [r for r in pay if r["PAY0_1"]["PAYTYP"] in REVERSAL_TYPES]
            out.update(items=[_plain(i) for i in self.items.values()], stock=[_plain(s) for s in self.stock],
                       open_items=[_plain(o) for o in self.open_items.values()],
                       balances=_plain(self.balances()), bank_balances=_plain(dict(self.bank_balances)),
                       accounts=list(self.accounts.values()), banks=list(BANKS.values()),
                       sites=[{"FCY": k, "FCYNAM": v} for k, v in SITES.items()], currencies=list(CURRENCIES),
                       numbers=dict(self.counters))
            return out


def utc_now() -> str:
    """An ADATIM value as api1 shows it: UTC, to the second, ISO 8601 with Z [I: the JSON form]."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
