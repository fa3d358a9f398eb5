"""Sage Pro as an ErpConnector: whole rows written over SQL, documents found by our reference (docs/sage-pro.md).

Sage Pro's application enforces its rules (known items, open balances, balanced journals, LCKSTAT
row locks); its tables do not, so this connector does, inside the same transaction as the write.
The matching reads (invoices by link field, open invoices, customers) are in lookups.py; credit memos,
refunds, reversals and statuses in lifecycle.py; stock in stock.py.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from connectors.base import ErpConnector
from connectors.errors import NotFoundError, PermanentError, RetriableError, ValidationError
from connectors.sage_pro import mapping
from connectors.sage_pro.client import SageProClient
from connectors.sage_pro.config import SYSTEM, SageProConfig
from connectors.sage_pro.lifecycle import SageProLifecycle
from connectors.sage_pro.lookups import SageProLookups
from connectors.sage_pro.stock import SageProStock
from connectors.stock import StockKeeper
from schemas.domain import CreditMemo, Customer, ErpDocument, JournalEntry, Payment, SalesOrder

#: The date column of each kind's rows, for list_documents.
_DATES = {"sales_order": "SODATE", "invoice": "INVDTE", "payment": "DTEPAID", "journal": "TRANDATE",
          "credit_memo": "INVDTE", "refund": "DTEPAID", "reversal": "DTEPAID"}
#: Tries at a free CUSTNO when the hash of a customer id clashes with another customer's.
_CUSTNO_ATTEMPTS = 50


class SageProConnector(SageProLookups, SageProLifecycle, SageProStock, ErpConnector, StockKeeper):
    """Writes one Sage Pro company's tables in short SQL transactions, and reads them for matching."""

    kind = SYSTEM

    def __init__(self, config: SageProConfig, client: SageProClient | None = None) -> None:
        self.config = config
        self.client = client or SageProClient(config)
        self.tables = self.client.tables
        # arcust.COMPANY C(35) [C]: a longer name is cut; no public column keeps the rest (name_kept_in "").
        self.customer_name_width = self.tables["arcust"].c.COMPANY.info["width"]
        # kind -> (base table, column carrying our reference). [I] which columns: docs/sage-pro.md.
        # An invoice's is REF [I]; one written before REF has it in PONUM only (_lookup finds both).
        self.references = {"sales_order": ("somast", config.order_reference), "invoice": ("armast", "REF"),
                           "payment": ("arcash", "REFNO"), "journal": ("gltran", "REF"),
                           "credit_memo": ("armast", "PONUM"), "refund": ("arcash", "REFNO"),
                           "reversal": ("arcash", "REFNO")}
        # armast holds invoices and credit memos (ARTYPE), arcash receipts, refunds and reversals (TRANTYPE [I]):
        # kind -> the condition on the type column that tells its rows from the table's other kinds.
        armast, arcash = self.tables["armast"], self.tables["arcash"]
        memo = mapping.fit(armast.c.ARTYPE, config.credit_memo_type)
        refund, reversal = (mapping.fit(arcash.c.TRANTYPE, code) for code in (config.refund_type, config.reversal_type))
        self.types = {"invoice": armast.c.ARTYPE != memo, "credit_memo": armast.c.ARTYPE == memo,
                      "payment": arcash.c.TRANTYPE.not_in([refund, reversal]), "refund": arcash.c.TRANTYPE == refund,
                      "reversal": arcash.c.TRANTYPE == reversal}
        # A reference must fit every column it is written to (PONUM C(20) [I], ...).
        self.max_reference_length = min(self.tables[b].c[c].info["width"] for b, c in self.references.values())

    def _now(self) -> datetime:
        """Now on Sage Pro's clock ([I] config.timezone), naive as its ADDDATE/ADDTIME stamps are."""
        return datetime.now(ZoneInfo(self.config.timezone)).replace(tzinfo=None)

    # -- customers ------------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer) -> str:
        """Find the customer by CUSTGEN (our id), or by its bare CUSTNO if Sage Pro users created it; update
        the contact details that differ (stamping the [I] CHGUSER/CHGDATE/CHGTIME), or create it under a
        stable 6-character CUSTNO if absent. Upserting the same customer again changes nothing."""
        op, arcust = "upsert customer", self.tables["arcust"]
        mapping.fit(arcust.c.CUSTGEN, customer.customer_id)  # an id longer than CUSTGEN is refused up front
        with self.client.transaction(op) as conn:
            row = self._customer_row(conn, customer.customer_id, for_update=True)
            if row is None:
                self.client.lock_table(conn, "arcust")  # one creator at a time: re-read under the lock
                row = self._customer_row(conn, customer.customer_id, for_update=True)
            if row is None:
                custno = self._free_custno(conn, customer.customer_id)
                conn.execute(insert(arcust), [mapping.customer_row(arcust, customer, custno, self._now(),
                                                                   self.config.user, self.config.terms,
                                                                   self.config.net_days)])
                return customer.customer_id
            changes = mapping.customer_changes(arcust, row, customer)
            if changes:
                self.client.check_unlocked("arcust", row, op)
                conn.execute(update(arcust).where(arcust.c.CUSTNO == row["CUSTNO"])
                             .values(**changes, **mapping.changed(arcust, self._now(), self.config.user)))
        return customer.customer_id

    def _free_custno(self, conn: Connection, customer_id: str) -> str:
        column = self.tables["arcust"].c.CUSTNO
        for attempt in range(_CUSTNO_ATTEMPTS):
            custno = mapping.fit(column, mapping.custno_for(customer_id, attempt))
            if self.client.one(conn, "arcust", CUSTNO=custno) is None:
                return custno
        raise PermanentError(f"no free CUSTNO for {customer_id}", system=SYSTEM, operation="upsert customer")

    def _customer(self, conn: Connection, customer_id: str, operation: str) -> dict:
        """The customer's arcust row (ours by CUSTGEN, or a Sage Pro user's by CUSTNO), locked for our update;
        a row a user has open is retriable."""
        row = self._customer_row(conn, customer_id, for_update=True)
        if row is None:
            raise NotFoundError(f"customer {customer_id} is not in {self.config.table('arcust')}",
                                system=SYSTEM, operation=operation)
        self.client.check_unlocked("arcust", row, operation)
        return row

    # -- lookups --------------------------------------------------------------------------------
    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        with self.client.transaction(f"find {kind}") as conn:
            return self._lookup(conn, kind, reference)

    def list_documents(self, kind: str, day: date) -> list[ErpDocument]:
        """Every document of `kind` dated `day` (SODATE, INVDTE, DTEPAID or TRANDATE), for reconciliation."""
        base, _ = self.references[kind]
        with self.client.transaction(f"list {kind}") as conn:
            return self._select(conn, kind, self.tables[base].c[_DATES[kind]] == day)

    def find_many(self, kind: str, references) -> dict[str, list[ErpDocument]]:
        """Many references of one kind in one query per 500 (reconciliation, a run's retry)."""
        wanted = list(dict.fromkeys(r.strip() for r in references))
        found: dict[str, list[ErpDocument]] = {r: [] for r in wanted}
        with self.client.transaction(f"find {kind}") as conn:
            for start in range(0, len(wanted), 500):
                for doc in self._lookup(conn, kind, *wanted[start:start + 500]):
                    found.setdefault(doc.reference.strip(), []).append(doc)
        return found

    def _lookup(self, conn: Connection, kind: str, *references: str) -> list[ErpDocument]:
        base, column = self.references[kind]
        table = self.tables[base]
        condition = _equals(table.c[column], references)
        if kind == "invoice":
            # An invoice written before REF keeps our reference in PONUM alone: still ours, still found.
            condition = condition | ((func.rtrim(table.c.REF) == "") & _equals(table.c.PONUM, references))
        return self._select(conn, kind, condition)

    def _select(self, conn: Connection, kind: str, condition) -> list[ErpDocument]:
        base, column = self.references[kind]
        table, arcust = self.tables[base], self.tables["arcust"]
        if kind == "journal":
            rows = conn.execute(select(table).where(condition).order_by(table.c.TRANNO, table.c.TRANLINE))
            return mapping.journal_documents({c.key: r._mapping[c] for c in table.c} for r in rows)
        key = table.c[mapping.DOCUMENTS[kind][1]]
        if kind in self.types:
            condition = condition & self.types[kind]
        rows = conn.execute(select(table, arcust.c.CUSTGEN).outerjoin(arcust, arcust.c.CUSTNO == table.c.CUSTNO)
                            .where(condition).order_by(key))
        fallback = "PONUM" if kind == "invoice" else None
        return [mapping.document(kind, {c.key: r._mapping[c] for c in table.c}, column, r._mapping[arcust.c.CUSTGEN],
                                 fallback) for r in rows]

    def _recheck(self, conn: Connection, kind: str, reference: str) -> None:
        """Under the table lock: a concurrent run wrote this reference since the base class looked."""
        if self._lookup(conn, kind, reference):
            raise RetriableError(f"{kind} {reference} was written concurrently; retry to read it back",
                                 system=SYSTEM, operation=kind)

    def _items(self, conn: Connection, doc: SalesOrder | CreditMemo, operation: str) -> dict[str, str]:
        """Each line's item must exist in icitem (the tables would take any); returns their descriptions."""
        if not doc.lines:
            raise ValidationError(f"{doc.reference} has no lines", field="lines", system=SYSTEM, operation=operation)
        icitem = self.tables["icitem"]
        keys = {mapping.fit(icitem.c.ITEM, line.item_id) for line in doc.lines}
        found = {item.strip(): desc.strip() for item, desc in
                 conn.execute(select(icitem.c.ITEM, icitem.c.ITMDESC).where(icitem.c.ITEM.in_(keys))).all()}
        for n, line in enumerate(doc.lines):
            if line.item_id.strip() not in found:
                raise ValidationError(f"unknown item {line.item_id!r}: not in {self.config.table('icitem')}",
                                      field=f"lines[{n}].item_id", system=SYSTEM, operation=operation)
        return found

    def _is_memo(self, row: dict) -> bool:
        return row["ARTYPE"] == mapping.fit(self.tables["armast"].c.ARTYPE, self.config.credit_memo_type)

    # -- creates: header and lines in one transaction, numbered under a table lock ----------------
    def _create_sales_order(self, order: SalesOrder) -> ErpDocument:
        op, somast, arcust = "sales_order", self.tables["somast"], self.tables["arcust"]
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, order.customer_id, op)
            descriptions = self._items(conn, order, op)
            self.client.lock_table(conn, "somast")
            self._recheck(conn, op, order.reference)
            sono = self.client.next_number(conn, "somast", "SONO")
            header, lines = mapping.order_rows(self.tables, order, sono, customer["CUSTNO"], self.config.order_reference,
                                               descriptions, self._now(), self.config.user)
            conn.execute(insert(somast), [header])
            conn.execute(insert(self.tables["sotran"]), lines)
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"])
                         .values(ONORDER=mapping.money(customer["ONORDER"]) + order.amount))
        return mapping.document(op, header, self.config.order_reference, customer["CUSTGEN"])

    def _create_invoice(self, invoice: SalesOrder) -> ErpDocument:
        op, armast, arcust = "invoice", self.tables["armast"], self.tables["arcust"]
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, invoice.customer_id, op)
            order = self._billed_order(conn, invoice, customer, op)
            descriptions = self._items(conn, invoice, op)
            self.client.lock_table(conn, "armast")
            self._recheck(conn, op, invoice.reference)
            invno = self.client.next_number(conn, "armast", "INVNO")
            header, lines = mapping.invoice_rows(self.tables, invoice, invno, customer["CUSTNO"],
                                                 order["SONO"] if order else "", descriptions, self._now(),
                                                 self.config.user, due=mapping.due_on(invoice, customer["PNET"]))
            conn.execute(insert(armast), [header])
            conn.execute(insert(self.tables["artran"]), lines)
            changes = {"BALANCE": mapping.money(customer["BALANCE"]) + invoice.amount, "LSALE": invoice.amount}
            if order and order["SOSTAT"].strip() != mapping.ORDER_BILLED:
                # The order is billed now: it no longer counts as on order for the customer.
                on_order = mapping.money(customer["ONORDER"])
                changes["ONORDER"] = on_order - min(on_order, mapping.money(order["ORDAMT"]))
                somast = self.tables["somast"]
                conn.execute(update(somast).where(somast.c.SONO == order["SONO"]).values(SOSTAT=mapping.ORDER_BILLED))
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"]).values(**changes))
        return mapping.document(op, header, "REF", customer["CUSTGEN"])

    def _billed_order(self, conn: Connection, invoice: SalesOrder, customer: dict, operation: str) -> dict | None:
        """The sales order the invoice bills (its ORNUM), which must be this customer's and not locked."""
        if not invoice.order_ref:
            return None
        sono = mapping.fit(self.tables["somast"].c.SONO, invoice.order_ref)
        order = self.client.one(conn, "somast", for_update=True, SONO=sono)
        if order is None or order["CUSTNO"] != customer["CUSTNO"]:
            raise ValidationError(f"sales order {invoice.order_ref} is not an order of customer {invoice.customer_id}",
                                  field="order_ref", system=SYSTEM, operation=operation)
        self.client.check_unlocked("somast", order, operation)
        return order

    def _create_payment(self, payment: Payment) -> ErpDocument:
        """An arcash receipt applied to its invoice (at most what is open on it), or, with no invoice_ref,
        held on account: INVNO blank [I], no invoice touched, the customer's BALANCE lowered."""
        op, armast, arcust = "payment", self.tables["armast"], self.tables["arcust"]
        amount = mapping.money(payment.amount)
        if amount <= 0:
            raise ValidationError(f"receipt amount {amount} must be positive", field="amount", system=SYSTEM,
                                  operation=op)
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, payment.customer_id, op)
            invoice = None if payment.invoice_ref is None else self._paid_invoice(conn, payment, customer, amount, op)
            self.client.lock_table(conn, "arcash")
            self._recheck(conn, op, payment.reference)
            cashno = self.client.next_number(conn, "arcash", "CASHNO")
            row = mapping.cash_row(self.tables["arcash"], payment, cashno, customer["CUSTNO"],
                                   invoice["INVNO"] if invoice else "", self._now(), self.config.user)
            conn.execute(insert(self.tables["arcash"]), [row])
            if invoice is None:
                on_customer = mapping.on_account(customer, payment)
            else:
                on_invoice, on_customer = mapping.applied(invoice, customer, payment)
                conn.execute(update(armast).where(armast.c.INVNO == invoice["INVNO"]).values(**on_invoice))
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"]).values(**on_customer))
        return mapping.document(op, row, "REFNO", customer["CUSTGEN"])

    def _paid_invoice(self, conn: Connection, payment: Payment, customer: dict, amount, operation: str) -> dict:
        """The invoice a receipt pays, locked: this customer's, not a credit memo, open for at least `amount`."""
        armast = self.tables["armast"]
        invno = mapping.fit(armast.c.INVNO, payment.invoice_ref)
        invoice = self.client.one(conn, "armast", for_update=True, INVNO=invno)
        if invoice is None or self._is_memo(invoice):
            raise NotFoundError(f"invoice {payment.invoice_ref} is not in {self.config.table('armast')}",
                                system=SYSTEM, operation=operation)
        if invoice["CUSTNO"] != customer["CUSTNO"]:
            raise ValidationError(f"invoice {payment.invoice_ref} is not customer {payment.customer_id}'s",
                                  field="invoice_ref", system=SYSTEM, operation=operation)
        self.client.check_unlocked("armast", invoice, operation)
        if amount > mapping.money(invoice["BALANCE"]):
            raise ValidationError(f"receipt {amount} exceeds the open balance {mapping.money(invoice['BALANCE'])}"
                                  f" of invoice {payment.invoice_ref}", field="amount", system=SYSTEM,
                                  operation=operation)
        return invoice

    def _create_journal(self, entry: JournalEntry) -> ErpDocument:
        op, gltran = "journal", self.tables["gltran"]
        if not entry.is_balanced:
            # The table would take it; Sage Pro's GL would not.
            raise ValidationError(f"journal {entry.reference} does not balance", field="lines", system=SYSTEM,
                                  operation=op)
        with self.client.transaction(op) as conn:
            self.client.lock_table(conn, "gltran")
            self._recheck(conn, op, entry.reference)
            tranno = self.client.next_number(conn, "gltran", "TRANNO")
            rows = mapping.gl_rows(gltran, entry, tranno, self._now(), self.config.user)
            conn.execute(insert(gltran), rows)
        return mapping.journal_documents(rows)[0]

    def close(self) -> None:
        self.client.close()


def _equals(column, references) -> object:
    """`column` holds one of `references`, as the table keeps it: a C(n) column may read back padded
    to its width, or not (SQL editions differ). Both forms are asked for by equality, so an index on
    the column serves the lookup (rtrim(column) = ... would read the whole table every time)."""
    width = getattr(column.type, "length", None)
    forms = {r.strip() for r in references}
    forms |= {f.ljust(width) for f in forms if width and len(f) < width}
    return column.in_(sorted(forms))

