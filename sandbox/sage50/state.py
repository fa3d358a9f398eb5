"""In-memory Sage 50 company for the simulator: records, Sage 50's rules and request stats, under one lock."""
from __future__ import annotations

import random
import threading
import uuid
from collections import Counter, deque
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

from .fields import (
    ADDRESS_KEYS,
    SageError,
    bad_request,
    customer_changes,
    day,
    fmt_money,
    fmt_quantity,
    identifier,
    invalid,
    invoice_lines,
    item_lines,
    journal_lines,
    money,
    not_found,
    note_changes,
    NOTE_FIELDS,
    optional_day,
    PO_MAX,
    quantity,
    reference,
    reject_unknown,
    string,
    to_cents,
)
from .query import Page, Predicate, after_customer, answer, customer_cursor, customer_position, format_instant

ZERO = Decimal("0.00")

SEED_ACCOUNTS = (
    ("1010", "Cash - Operating"),
    ("1020", "Bank - Deposits"),
    ("1100", "Accounts Receivable"),
    ("1200", "Undeposited Funds"),
    ("1205", "Card Clearing - PayTrace"),
    ("1210", "Card Clearing - Visa/MC/Discover"),
    ("1215", "Card Clearing - Amex"),
    ("1250", "ACH Clearing"),
    ("2000", "Accounts Payable"),
    ("2300", "Sales Tax Payable"),
    ("4000", "Sales"),
    ("4100", "Sales Returns and Allowances"),
    ("6100", "Merchant Fees"),
    ("6150", "Chargebacks"),
)
SEED_PRODUCTS = (
    # ID, Description, Price, ItemClass [I: Sage 50's item classes], QuantityOnHand
    ("PAYMENT", "Card payment received", "0.00", "Charge item", "0"),
    ("SERVICE", "Professional services", "100.00", "Service", "0"),
    ("WIDGET-1", "Widget, standard", "25.00", "Stock item", "40"),
    ("WIDGET-2", "Widget, deluxe", "40.00", "Stock item", "25"),
    ("GADGET-1", "Gadget", "12.50", "Stock item", "100"),
    ("FREIGHT", "Shipping and handling", "0.00", "Charge item", "0"),
    ("SALESTAX", "Sales tax collected", "0.00", "Charge item", "0"),
)
#: Sage 50's item classes [I: names as its Maintain Inventory Items screen shows them]; only a
#: stock item keeps quantities (on hand, and committed to open sales orders).
ITEM_CLASSES = ("Stock item", "Non-stock item", "Service", "Labor", "Charge item", "Assembly")
STOCK_CLASS = "Stock item"
# [I] Sage 50 dates an invoice's due date from the customer's terms; the sandbox gives every
# customer the company default, "Net 30 Days", so an invoice sent without DateDue is due 30 days on.
DEFAULT_DUE_DAYS = 30
KINDS = ("sales_orders", "invoices", "payments", "journal_entries",
         "credit_memos", "customer_refunds", "receipt_voids")


def in_use_error(customer_id: str) -> SageError:
    return SageError(
        423,
        "RecordInUseException",
        f"Customer '{customer_id}' is open in Sage 50 on another workstation",
        "CustomerID",
    )


class Sage50State:
    """One company's records; every check-and-write happens under `self.lock`."""

    def __init__(self, seed: bool = True, rng: random.Random | None = None) -> None:
        self.lock = threading.Lock()
        self._seed = seed
        self._rng = rng or random.Random()
        # The agent's own clock for customers' LastSavedAt; kept across resets so it never
        # goes back, and strictly increasing so a "modified since" cursor never loses a tie.
        self._last_stamp = datetime.min.replace(tzinfo=timezone.utc)
        with self.lock:
            self._clear()

    # ---- housekeeping -------------------------------------------------------------------
    def _clear(self) -> None:
        self.accounts: dict[str, dict[str, str]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.requests: dict[str, Counter] = {}
        # When agent calls arrived and how many were in at once: what a caller's rate limit and cap
        # look like from the ERP's side (bench/latency.py reads them).
        self.arrivals: deque[float] = deque(maxlen=200_000)
        self.in_flight = self.most_in_flight = 0
        self.faults: Counter = Counter()
        self.creates: Counter = Counter()
        if self._seed:
            for account_id, description in SEED_ACCOUNTS:
                # Name-based Keys: an account keeps its Key across resets and runs.
                key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sage50-sandbox:account:{account_id}"))
                self.accounts[account_id] = {"ID": account_id, "Description": description, "Key": key}
            for product_id, description, price, item_class, on_hand in SEED_PRODUCTS:
                self.products[product_id] = {
                    "ID": product_id, "Description": description, "Price": Decimal(price),
                    "ItemClass": item_class, "QuantityOnHand": Decimal(on_hand), "LastModified": self._stamp(),
                }

    def reset(self) -> None:
        with self.lock:
            self._clear()

    def _stamp(self) -> datetime:
        """Caller holds the lock: now, or a microsecond after the previous stamp if the clock lags."""
        now = datetime.now(timezone.utc)
        self._last_stamp = max(now, self._last_stamp + timedelta(microseconds=1))
        return self._last_stamp

    def _new_key(self) -> str:
        # Drawn from the (seedable) rng so a seeded run yields the same Keys every time.
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # ---- stats ---------------------------------------------------------------------------
    def record_request(self, method: str, template: str, status: int | str) -> None:
        with self.lock:
            self.requests.setdefault(f"{method} {template}", Counter())[str(status)] += 1

    def arrive(self, at: float) -> None:
        with self.lock:
            self.arrivals.append(at)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def busiest_second(self) -> int:
        """The most calls that arrived within any one second (caller holds the lock)."""
        times, most, first = sorted(self.arrivals), 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= 1.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    def calls_each_second(self, span: int = 3600) -> list[int]:
        """Calls that arrived in each whole second of the last `span` seconds of arrivals kept (caller holds
        the lock): a sandbox left running for days must not answer with a list as long as its life."""
        if not self.arrivals:
            return []
        last = max(self.arrivals)
        first = max(min(self.arrivals), last - span)
        counts = [0] * (int(last - first) + 1)
        for at in self.arrivals:
            if at >= first:
                counts[int(at - first)] += 1
        return counts

    def record_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": {k: dict(v) for k, v in sorted(self.requests.items())},
                "most_calls_in_one_second": self.busiest_second(),
                "most_calls_at_once": self.most_in_flight,
                "calls_each_second": self.calls_each_second(),
                # Latency only delays an answer; faults_injected counts answers that were replaced.
                "faults_injected": sum(n for k, n in self.faults.items() if k != "latency"),
                "faults_by_kind": dict(self.faults),
                "creates": {kind: self.creates[kind] for kind in ("customers", "products") + KINDS},
            }

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            state: dict[str, Any] = {
                "customers": [self._customer_out(c) for c in self.customers.values()],
                "products": [self._product_out(p) for p in self.products.values()],
                "accounts": [dict(a) for a in self.accounts.values()],
            }
            for kind in KINDS:
                state[kind] = [self._record_out(kind, r) for r in self.records[kind].values()]
            return state

    # ---- output shapes (money leaves as two-decimal strings) -----------------------------
    @staticmethod
    def _customer_out(rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if k != "Balance"}
        out["BillToContact"] = {"Address": dict(rec["BillToContact"])}
        out["PhoneNumbers"] = [{"Key": k, "Number": n} for k, n in sorted(rec["PhoneNumbers"].items())]
        out["CustomFields"] = dict(rec["CustomFields"])
        out["Balance"] = fmt_money(rec["Balance"])
        out["LastSavedAt"] = format_instant(rec["LastSavedAt"])
        return out

    def _product_out(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A product with its quantities: on hand, and committed to open sales orders [I]."""
        stocked = rec["ItemClass"] == STOCK_CLASS
        committed = sum((ln["Quantity"] for so in self.records["sales_orders"].values() if not so["IsClosed"]
                         for ln in so["Lines"] if ln["ItemID"] == rec["ID"]), Decimal(0)) if stocked else Decimal(0)
        return {"ID": rec["ID"], "Description": rec["Description"], "Price": fmt_money(rec["Price"]),
                "ItemClass": rec["ItemClass"], "QuantityOnHand": fmt_quantity(rec["QuantityOnHand"]),
                "QuantityOnSalesOrders": fmt_quantity(committed),
                "QuantityAvailable": fmt_quantity(rec["QuantityOnHand"] - committed),
                "LastModified": format_instant(rec["LastModified"])}

    @staticmethod
    def _record_out(kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        out = dict(rec)
        for name in ("Amount", "AmountDue", "AppliedToInvoice", "UnappliedAmount"):
            if name in out:
                out[name] = fmt_money(out[name])
        if kind == "payments":
            out["ApplyToInvoiceLines"] = [
                {"InvoiceReference": ln["InvoiceReference"], "AmountPaid": fmt_money(ln["AmountPaid"])}
                for ln in rec["ApplyToInvoiceLines"]
            ]
        elif kind == "journal_entries":
            out["Lines"] = [dict(ln, Amount=fmt_money(ln["Amount"])) for ln in rec["Lines"]]
        elif kind == "receipt_voids":
            out["ApplyToInvoiceLines"] = [
                {"InvoiceReference": ln["InvoiceReference"], "AmountPaid": fmt_money(ln["AmountPaid"])}
                for ln in rec["ApplyToInvoiceLines"]
            ]
        elif kind == "customer_refunds":
            pass
        else:
            out["Lines"] = [
                dict(ln, Quantity=fmt_quantity(ln["Quantity"]), UnitPrice=fmt_money(ln["UnitPrice"]))
                for ln in rec["Lines"]
            ]
        return out

    # ---- customers -----------------------------------------------------------------------
    def get_customer(self, customer_id: str) -> dict[str, Any]:
        with self.lock:
            rec = self.customers.get(customer_id)
            if rec is None:
                raise not_found(f"Customer '{customer_id}' was not found")
            return self._customer_out(rec)

    def list_customers(self, wanted: Predicate, page: Page) -> dict[str, Any]:
        """One page of the customers `wanted` admits, oldest LastSavedAt first."""
        with self.lock:
            after = after_customer(page.cursor) if page.cursor else (lambda c: True)
            found = sorted((c for c in self.customers.values() if wanted(c) and after(c)),
                           key=customer_position)
            return answer([self._customer_out(c) for c in found[:page.limit + 1]], page, customer_cursor)

    def create_customer(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        customer_id = identifier(body, "ID")
        changes = customer_changes(body, creating=True)
        with self.lock:
            if customer_id in self.customers:
                raise SageError(
                    409, "DuplicateID", f"Customer ID '{customer_id}' already exists", "ID"
                )
            if customer_id in in_use:
                raise in_use_error(customer_id)
            rec = {
                "ID": customer_id, "Name": "", "Email": "", "PhoneNumbers": {},
                "BillToContact": {k: "" for k in ADDRESS_KEYS}, "CustomFields": {},
                "Balance": ZERO, "IsInactive": False,
            }
            self._apply_customer(rec, changes)
            rec["LastSavedAt"] = self._stamp()
            self.customers[customer_id] = rec
            self.creates["customers"] += 1
            return self._customer_out(rec)

    def update_customer(
        self, customer_id: str, body: dict[str, Any], in_use: Iterable[str] = ()
    ) -> dict[str, Any]:
        if "ID" in body and body["ID"] != customer_id:
            raise bad_request("a customer's ID cannot be changed; leave 'ID' out of the body", "ID")
        changes = customer_changes(body, creating=False)
        with self.lock:
            rec = self.customers.get(customer_id)
            if rec is None:
                raise not_found(f"Customer '{customer_id}' was not found")
            if customer_id in in_use:
                raise in_use_error(customer_id)
            self._apply_customer(rec, changes)
            # Every accepted save is a change, as in Sage 50 itself [I]; a Balance moved by an
            # invoice or receipt is not (the balance is the ledger's sum, not a customer field).
            rec["LastSavedAt"] = self._stamp()
            return self._customer_out(rec)

    @staticmethod
    def _apply_customer(rec: dict[str, Any], changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name in ("BillToContact", "PhoneNumbers"):
                rec[name].update(value)  # partial: address parts and number kinds not sent keep their value
            elif name == "CustomFields":
                for field, field_value in value.items():
                    if field_value is None:
                        rec[name].pop(field, None)
                    else:
                        rec[name][field] = field_value
            else:
                rec[name] = value

    # ---- products and accounts -----------------------------------------------------------
    def get_product(self, product_id: str) -> dict[str, Any]:
        with self.lock:
            rec = self.products.get(product_id)
            if rec is None:
                raise not_found(f"Item '{product_id}' was not found")
            return self._product_out(rec)

    def list_products(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._product_out(p) for p in self.products.values()]

    def create_product(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, ("ID", "Description", "Price", "ItemClass", "QuantityOnHand"))
        product_id = identifier(body, "ID")
        description = string(body, "Description", required=True)
        price = money(body["Price"], "Price") if body.get("Price") is not None else ZERO
        if price < 0:
            raise invalid(f"Price must not be negative (got {price})", "Price")
        item_class = string(body, "ItemClass", default="Non-stock item")
        if item_class not in ITEM_CLASSES:
            raise invalid(f"ItemClass must be one of {', '.join(ITEM_CLASSES)}", "ItemClass")
        on_hand = quantity(body["QuantityOnHand"], "QuantityOnHand") if body.get("QuantityOnHand") is not None \
            else Decimal(0)
        with self.lock:
            if product_id in self.products:
                raise SageError(409, "DuplicateID", f"Item ID '{product_id}' already exists", "ID")
            self.products[product_id] = {"ID": product_id, "Description": description, "Price": price,
                                         "ItemClass": item_class, "QuantityOnHand": on_hand,
                                         "LastModified": self._stamp()}
            self.creates["products"] += 1
            return self._product_out(self.products[product_id])

    def update_product(self, product_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /v1/products/{ID}: description, price, or the quantity on hand (an inventory adjustment [I])."""
        reject_unknown(body, ("Description", "Price", "QuantityOnHand"))
        changes: dict[str, Any] = {}
        if "Description" in body:
            changes["Description"] = string(body, "Description", required=True)
        if "Price" in body:
            changes["Price"] = money(body["Price"], "Price")
            if changes["Price"] < 0:
                raise invalid("Price must not be negative", "Price")
        if "QuantityOnHand" in body:
            changes["QuantityOnHand"] = Decimal(str(body["QuantityOnHand"]))
        with self.lock:
            rec = self.products.get(product_id)
            if rec is None:
                raise not_found(f"Item '{product_id}' was not found")
            if "QuantityOnHand" in changes and rec["ItemClass"] != STOCK_CLASS:
                raise invalid(f"Item '{product_id}' is a {rec['ItemClass']}: it keeps no quantity", "QuantityOnHand")
            rec.update(changes)
            rec["LastModified"] = self._stamp()
            return self._product_out(rec)

    def delete_product(self, product_id: str) -> dict[str, Any]:
        with self.lock:
            rec = self.products.pop(product_id, None)
            if rec is None:
                raise not_found(f"Item '{product_id}' was not found")
            return self._product_out(rec)

    def list_accounts(self) -> list[dict[str, str]]:
        with self.lock:
            return [dict(a) for a in self.accounts.values()]

    # ---- transactions --------------------------------------------------------------------
    def get_record(self, kind: str, key: str) -> dict[str, Any]:
        with self.lock:
            rec = self.records[kind].get(key)
            if rec is None:
                raise not_found(f"No {kind[:-1].replace('_', ' ')} with Key '{key}'")
            return self._record_out(kind, rec)

    def list_records(self, kind: str, wanted: Predicate, page: Page) -> dict[str, Any]:
        """One page of the `kind` records `wanted` admits, in the order they were created.

        The cursor is the Key of the last record answered: the next page starts after that
        record's place in creation order, so records that stop matching meanwhile (an invoice
        paid while a client pages through open ones) shift nothing.
        """
        with self.lock:
            records = list(self.records[kind].values())
            start = 0
            if page.cursor is not None:
                keys = [r["Key"] for r in records]
                if page.cursor not in keys:
                    raise bad_request(f"cursor '{page.cursor}' was not given by this list", "cursor")
                start = keys.index(page.cursor) + 1
            found = []
            for r in records[start:]:
                if wanted(r):
                    found.append(self._record_out(kind, r))
                    if len(found) > page.limit:
                        break
            return answer(found, page, lambda out: out["Key"])

    def _check_customer(self, customer_id: str, in_use: Iterable[str]) -> None:
        if customer_id not in self.customers:
            raise invalid(f"Customer '{customer_id}' was not found", "CustomerID")
        if customer_id in in_use:
            raise in_use_error(customer_id)

    def _priced_lines(self, lines: list[dict[str, Any]]) -> Decimal:
        """Check every item exists, fill default descriptions, return the rounded total."""
        total = Decimal(0)
        for i, line in enumerate(lines):
            product = self.products.get(line["ItemID"])
            if product is None:
                raise invalid(f"Item '{line['ItemID']}' was not found (Lines[{i}])", "ItemID")
            if line["Description"] is None:
                line["Description"] = product["Description"]
            total += line["Quantity"] * line["UnitPrice"]
        # Rounded once on the total (half-up to cents), as the contract states.
        amount = to_cents(total)
        if amount < 0:
            raise invalid(f"the lines total {amount}, which is negative", "Lines")
        return amount

    def create_sales_order(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(body, ("CustomerID", "ReferenceNumber", "Date", "Lines"))
        customer_id = string(body, "CustomerID", required=True)
        ref, date_, lines = reference(body), day(body), item_lines(body)
        with self.lock:
            self._check_customer(customer_id, in_use)
            amount = self._priced_lines(lines)
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "Lines": lines, "Amount": amount, "IsClosed": False,
                **{name: "" for name in NOTE_FIELDS},
            }
            return self._store("sales_orders", rec)

    def create_invoice(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(body, ("CustomerID", "ReferenceNumber", "Date", "SalesOrderKey", "Lines",
                              "DateDue", "CustomerPurchaseOrderNumber"))
        customer_id = string(body, "CustomerID", required=True)
        ref, date_, lines = reference(body), day(body), item_lines(body)
        order_key = string(body, "SalesOrderKey", default=None)
        # [I] A DateDue given is kept; none given is the terms' (DEFAULT_DUE_DAYS); one before the
        # invoice's Date is refused.
        due = optional_day(body, "DateDue")
        if due is None:
            due = (date.fromisoformat(date_) + timedelta(days=DEFAULT_DUE_DAYS)).isoformat()
        elif due < date_:
            raise invalid(f"DateDue {due} is before the invoice Date {date_}", "DateDue")
        po = string(body, "CustomerPurchaseOrderNumber", max_len=PO_MAX)
        with self.lock:
            self._check_customer(customer_id, in_use)
            if order_key is not None:
                order = self.records["sales_orders"].get(order_key)
                if order is None:
                    raise invalid(f"Sales order '{order_key}' was not found", "SalesOrderKey")
                if order["CustomerID"] != customer_id:
                    raise invalid(
                        f"Sales order '{order_key}' belongs to customer '{order['CustomerID']}',"
                        f" not '{customer_id}'",
                        "SalesOrderKey",
                    )
            amount = self._priced_lines(lines)
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "DateDue": due, "CustomerPurchaseOrderNumber": po,
                "SalesOrderKey": order_key, "Lines": lines,
                "Amount": amount, "AmountDue": amount,
                **{name: "" for name in NOTE_FIELDS},
            }
            self.customers[customer_id]["Balance"] += amount
            return self._store("invoices", rec)

    def create_payment(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(
            body,
            ("CustomerID", "ReferenceNumber", "Date", "AccountReference", "PaymentMethod", "ApplyToInvoiceLines",
             "Amount"),
        )
        customer_id = string(body, "CustomerID", required=True)
        ref, date_ = reference(body), day(body)
        cash_account = string(body, "AccountReference", required=True)
        method = string(body, "PaymentMethod")
        applied = invoice_lines(body)
        amount_given = money(body["Amount"], "Amount") if body.get("Amount") is not None else None
        if amount_given is None and not applied:
            raise invalid("a receipt applied to no invoice (cash on account) needs its Amount", "Amount")
        if amount_given is not None and amount_given <= 0:
            raise invalid(f"Amount must be greater than zero (got {amount_given})", "Amount")
        with self.lock:
            # Everything is checked before anything is written, all under the one lock, so two
            # racing receipts see each other's effect and AmountDue can never go below zero.
            self._check_customer(customer_id, in_use)
            if cash_account not in self.accounts:
                raise invalid(f"Account '{cash_account}' was not found", "AccountReference")
            pending: dict[str, Decimal] = {}
            for line in applied:
                key = line["InvoiceReference"]
                invoice = self.records["invoices"].get(key)
                if invoice is None:
                    raise invalid(f"Invoice '{key}' was not found", "InvoiceReference")
                if invoice["CustomerID"] != customer_id:
                    raise invalid(
                        f"Invoice '{key}' belongs to customer '{invoice['CustomerID']}', "
                        f"not '{customer_id}'",
                        "InvoiceReference",
                    )
                pending[key] = pending.get(key, Decimal(0)) + line["AmountPaid"]
                if pending[key] > invoice["AmountDue"]:
                    raise invalid(
                        f"AmountPaid {fmt_money(pending[key])} is more than the AmountDue "
                        f"{fmt_money(invoice['AmountDue'])} of invoice "
                        f"'{invoice['ReferenceNumber']}' (Key {key})",
                        "AmountPaid",
                    )
            applied_total = sum(pending.values(), Decimal(0))
            total = applied_total if amount_given is None else amount_given
            if total < applied_total:
                raise invalid(
                    f"Amount {fmt_money(total)} is less than the {fmt_money(applied_total)} "
                    f"the ApplyToInvoiceLines apply",
                    "Amount",
                )
            for key, paid in pending.items():
                self.records["invoices"][key]["AmountDue"] -= paid
            # Unapplied cash is a credit on the customer's account: the Balance falls by it too.
            self.customers[customer_id]["Balance"] -= total
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "AccountReference": cash_account, "PaymentMethod": method,
                "ApplyToInvoiceLines": applied, "Amount": total, "UnappliedAmount": total - applied_total,
                "IsVoided": False, "VoidKey": None,
            }
            return self._store("payments", rec)

    def create_journal_entry(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(body, ("ReferenceNumber", "Date", "Description", "Lines"))
        ref, date_ = reference(body), day(body)
        description = string(body, "Description")
        lines, debits = journal_lines(body)
        with self.lock:
            for i, line in enumerate(lines):
                if line["AccountID"] not in self.accounts:
                    raise invalid(
                        f"Account '{line['AccountID']}' was not found (Lines[{i}])", "AccountID"
                    )
            rec = {
                "Key": self._new_key(), "ReferenceNumber": ref, "Date": date_,
                "Description": description, "Lines": lines, "Amount": debits,
            }
            return self._store("journal_entries", rec)

    # ---- the payment lifecycle: credit memos, customer refunds, receipt voids, notes -------
    # Sage 50's Credit Memos task enters a credit against one invoice ("Apply to Invoice"); the
    # credit lowers that invoice's open amount as far as it is still open and the rest stays open
    # on the credit memo (a credit on the customer's account) until a refund settles it [I].
    def _credited(self, invoice_key: str) -> Decimal:
        return sum(
            (m["Amount"] for m in self.records["credit_memos"].values()
             if m["ApplyToInvoiceKey"] == invoice_key),
            Decimal(0),
        )

    def create_credit_memo(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(body, ("CustomerID", "ReferenceNumber", "Date", "ApplyToInvoiceKey", "Lines"))
        customer_id = string(body, "CustomerID", required=True)
        ref, date_, lines = reference(body), day(body), item_lines(body)
        invoice_key = string(body, "ApplyToInvoiceKey") or None  # none: a credit on the customer's account
        with self.lock:
            self._check_customer(customer_id, in_use)
            invoice = self.records["invoices"].get(invoice_key) if invoice_key else None
            if invoice_key and invoice is None:
                raise invalid(f"Invoice '{invoice_key}' was not found", "ApplyToInvoiceKey")
            if invoice is not None and invoice["CustomerID"] != customer_id:
                raise invalid(
                    f"Invoice '{invoice_key}' belongs to customer '{invoice['CustomerID']}', "
                    f"not '{customer_id}'",
                    "ApplyToInvoiceKey",
                )
            amount = self._priced_lines(lines)
            if amount <= 0:
                raise invalid("a credit memo must credit more than 0.00", "Lines")
            creditable = invoice["Amount"] - self._credited(invoice_key) if invoice is not None else amount
            if amount > creditable:
                raise invalid(
                    f"credit memo Amount {fmt_money(amount)} is more than the {fmt_money(creditable)} "
                    f"still creditable on invoice '{invoice['ReferenceNumber']}' (Key {invoice_key}: "
                    f"Amount {fmt_money(invoice['Amount'])} minus earlier credit memos)",
                    "Amount",
                )
            applied = min(amount, invoice["AmountDue"]) if invoice is not None else Decimal(0)
            if invoice is not None:
                invoice["AmountDue"] -= applied
            self.customers[customer_id]["Balance"] -= amount
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "ApplyToInvoiceKey": invoice_key, "Lines": lines, "Amount": amount,
                "AppliedToInvoice": applied, "AmountDue": amount - applied,
            }
            return self._store("credit_memos", rec)

    def create_customer_refund(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(
            body,
            ("CustomerID", "ReferenceNumber", "Date", "AccountReference", "PaymentMethod", "CreditMemoKey",
             "Amount"),
        )
        customer_id = string(body, "CustomerID", required=True)
        ref, date_ = reference(body), day(body)
        cash_account = string(body, "AccountReference", required=True)
        method = string(body, "PaymentMethod")
        memo_key = string(body, "CreditMemoKey", required=True)
        amount = money(body.get("Amount"), "Amount")
        if amount <= 0:
            raise invalid(f"Amount must be greater than zero (got {amount})", "Amount")
        with self.lock:
            self._check_customer(customer_id, in_use)
            if cash_account not in self.accounts:
                raise invalid(f"Account '{cash_account}' was not found", "AccountReference")
            memo = self.records["credit_memos"].get(memo_key)
            if memo is None:
                raise invalid(f"Credit memo '{memo_key}' was not found", "CreditMemoKey")
            if memo["CustomerID"] != customer_id:
                raise invalid(
                    f"Credit memo '{memo_key}' belongs to customer '{memo['CustomerID']}', "
                    f"not '{customer_id}'",
                    "CreditMemoKey",
                )
            if amount > memo["AmountDue"]:
                raise invalid(
                    f"refund Amount {fmt_money(amount)} is more than the {fmt_money(memo['AmountDue'])} "
                    f"left on credit memo '{memo['ReferenceNumber']}' (Key {memo_key})",
                    "Amount",
                )
            memo["AmountDue"] -= amount
            self.customers[customer_id]["Balance"] += amount
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "AccountReference": cash_account, "PaymentMethod": method,
                "CreditMemoKey": memo_key, "Amount": amount,
            }
            return self._store("customer_refunds", rec)

    def create_receipt_void(self, body: dict[str, Any], in_use: Iterable[str] = ()) -> dict[str, Any]:
        reject_unknown(body, ("ReceiptKey", "ReferenceNumber", "Date", "CustomerID", "Amount"))
        receipt_key = string(body, "ReceiptKey", required=True)
        ref, date_ = reference(body), day(body)
        customer_given = string(body, "CustomerID", default=None)
        amount_given = money(body["Amount"], "Amount") if body.get("Amount") is not None else None
        with self.lock:
            receipt = self.records["payments"].get(receipt_key)
            if receipt is None:
                raise invalid(f"Receipt '{receipt_key}' was not found", "ReceiptKey")
            customer_id = receipt["CustomerID"]
            if customer_given is not None and customer_given != customer_id:
                raise invalid(
                    f"Receipt '{receipt_key}' belongs to customer '{customer_id}', not '{customer_given}'",
                    "CustomerID",
                )
            self._check_customer(customer_id, in_use)
            if receipt["IsVoided"]:
                raise invalid(
                    f"Receipt '{receipt['ReferenceNumber']}' (Key {receipt_key}) is already voided "
                    f"by {receipt['VoidKey']}",
                    "ReceiptKey",
                )
            if amount_given is not None and amount_given != receipt["Amount"]:
                raise invalid(
                    f"a void reverses the whole receipt ({fmt_money(receipt['Amount'])}), "
                    f"not {fmt_money(amount_given)}",
                    "Amount",
                )
            if date_ < receipt["Date"]:
                raise invalid(f"the void date {date_} is before the receipt's date {receipt['Date']}", "Date")
            for line in receipt["ApplyToInvoiceLines"]:
                self.records["invoices"][line["InvoiceReference"]]["AmountDue"] += line["AmountPaid"]
            self.customers[customer_id]["Balance"] += receipt["Amount"]
            rec = {
                "Key": self._new_key(), "CustomerID": customer_id, "ReferenceNumber": ref,
                "Date": date_, "ReceiptKey": receipt_key, "AccountReference": receipt["AccountReference"],
                "ApplyToInvoiceLines": [dict(line) for line in receipt["ApplyToInvoiceLines"]],
                "Amount": receipt["Amount"],
            }
            receipt["IsVoided"], receipt["VoidKey"] = True, rec["Key"]
            return self._store("receipt_voids", rec)

    def update_notes(
        self, kind: str, key: str, body: dict[str, Any], in_use: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The edits a posted sales order or invoice takes here: its note fields [I]; a sales order can
        also be closed (`IsClosed: true`, Sage 50's "Close this SO" [I]), which ends what it commits."""
        body = dict(body)
        close = body.pop("IsClosed", None) if kind == "sales_orders" else None
        if close is not None and close is not True:
            raise bad_request("IsClosed can only be set to true: a closed sales order stays closed", "IsClosed")
        changes = note_changes(body) if body or close is None else {}
        if close:
            changes["IsClosed"] = True
        with self.lock:
            rec = self.records[kind].get(key)
            if rec is None:
                raise not_found(f"No {kind[:-1].replace('_', ' ')} with Key '{key}'")
            if rec["CustomerID"] in in_use:
                raise SageError(
                    423, "RecordInUseException",
                    f"{kind[:-1].replace('_', ' ').capitalize()} '{rec['ReferenceNumber']}' is open in "
                    f"Sage 50 on another workstation",
                    "Key",
                )
            rec.update(changes)
            return self._record_out(kind, rec)

    def _store(self, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        """Caller holds the lock: the record is written only after every check passed."""
        self.records[kind][rec["Key"]] = rec
        self.creates[kind] += 1
        return self._record_out(kind, rec)
