"""Sage Pro's payment lifecycle: credit memos, refunds and reversals written as rows, and document statuses.

Mixed into SageProConnector (docs/sage-pro.md "Credit memos, refunds, reversals, statuses"); each
write checks what Sage Pro's application would, inside the transaction that writes it.
"""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from connectors.errors import NotFoundError, ValidationError
from connectors.sage_pro import mapping
from connectors.sage_pro.client import SageProClient
from connectors.sage_pro.config import SYSTEM, SageProConfig
from schemas.domain import CreditMemo, ErpDocument, Refund, Reversal

#: The documents set_status / status_of mark: kind -> (table, key column). Both tables' own status
#: fields (SOSTAT, ARSTAT) are coded C(1), so the free-text word goes to the [I] user field USTATUS.
_STATUS_TABLES = {"sales_order": ("somast", "SONO"), "invoice": ("armast", "INVNO")}


class SageProLifecycle:
    """Credit memos, refunds, reversals and statuses; needs `client`, `tables`, `types` and the connector's
    `_customer`, `_items`, `_recheck`, `_is_memo` and `_now`."""

    config: SageProConfig
    client: SageProClient
    tables: dict
    types: dict

    def _document(self, conn: Connection, base: str, key_column: str, key: str, customer: dict, field: str,
                  what: str, operation: str, wanted=None) -> dict:
        """The row `key` of `base`, locked: missing is NotFoundError; another customer's, or not of the
        `wanted` type, is a ValidationError on `field`; a row a user has open is retriable."""
        table = self.tables[base]
        row = self.client.one(conn, base, for_update=True, **{key_column: mapping.fit(table.c[key_column], key)})
        if row is None:
            raise NotFoundError(f"{what} {key} is not in {self.config.table(base)}", system=SYSTEM, operation=operation)
        if wanted is not None and not wanted(row):
            raise ValidationError(f"{self.config.table(base)} {key_column} {key} is not a {what}", field=field,
                                  system=SYSTEM, operation=operation)
        if row["CUSTNO"] != customer["CUSTNO"]:
            raise ValidationError(f"{what} {key} is not customer {customer['CUSTGEN'].strip()}'s", field=field,
                                  system=SYSTEM, operation=operation)
        if "LCKSTAT" in row:
            self.client.check_unlocked(base, row, operation)
        return row

    def _is_receipt(self, row: dict) -> bool:
        return row["TRANTYPE"].strip() not in (self.config.refund_type, self.config.reversal_type)

    def _create_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """armast/artran rows of the credit memo ARTYPE against an invoice, never crediting more than the
        invoice less its earlier credit memos; the customer's balance drops by the credit."""
        op, armast, arcust = "credit_memo", self.tables["armast"], self.tables["arcust"]
        amount = mapping.money(memo.amount)
        if amount <= 0:
            raise ValidationError(f"credit memo amount {amount} must be positive", field="amount", system=SYSTEM,
                                  operation=op)
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, memo.customer_id, op)
            # no invoice: an open credit on the customer's account (APPLYTO blank)
            invoice = self._document(conn, "armast", "INVNO", memo.invoice_ref, customer, "invoice_ref", "invoice",
                                     op, wanted=lambda row: not self._is_memo(row)) if memo.invoice_ref else None
            descriptions = self._items(conn, memo, op)
            self.client.lock_table(conn, "armast")  # numbering, and no other memo against this invoice meanwhile
            self._recheck(conn, op, memo.reference)
            if invoice is not None:
                earlier = conn.execute(select(armast.c.INVAMT).where(
                    self.types["credit_memo"], armast.c.APPLYTO == invoice["INVNO"])).mappings()
                room = mapping.credit_room(invoice, earlier)
                if amount > room:
                    raise ValidationError(f"credit memo {amount} exceeds what invoice {memo.invoice_ref} can still "
                                          f"be credited ({room})", field="amount", system=SYSTEM, operation=op)
            invno = self.client.next_number(conn, "armast", "INVNO")
            applyto = invoice["INVNO"] if invoice is not None else ""
            header, lines = mapping.credit_memo_rows(self.tables, memo, invno, customer["CUSTNO"], applyto,
                                                     self.config.credit_memo_type, descriptions, self._now(),
                                                     self.config.user)
            conn.execute(insert(armast), [header])
            conn.execute(insert(self.tables["artran"]), lines)
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"])
                         .values(BALANCE=mapping.money(customer["BALANCE"]) - amount))
        return mapping.document(op, header, "PONUM", customer["CUSTGEN"])

    def _create_refund(self, refund: Refund) -> ErpDocument:
        """An arcash row of the refund TRANTYPE paying the credit memo's open credit out of the cash account."""
        op, armast, arcust, arcash = "refund", self.tables["armast"], self.tables["arcust"], self.tables["arcash"]
        amount = mapping.money(refund.amount)
        if amount <= 0:
            raise ValidationError(f"refund amount {amount} must be positive", field="amount", system=SYSTEM,
                                  operation=op)
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, refund.customer_id, op)
            memo = self._document(conn, "armast", "INVNO", refund.credit_memo_ref, customer, "credit_memo_ref",
                                  "credit memo", op, wanted=self._is_memo)
            remaining = -mapping.money(memo["BALANCE"])
            if amount > remaining:
                raise ValidationError(f"refund {amount} exceeds the {remaining} left on credit memo "
                                      f"{refund.credit_memo_ref}", field="amount", system=SYSTEM, operation=op)
            self.client.lock_table(conn, "arcash")
            self._recheck(conn, op, refund.reference)
            cashno = self.client.next_number(conn, "arcash", "CASHNO")
            row = mapping.refund_row(arcash, refund, cashno, customer["CUSTNO"], memo["INVNO"], self.config.refund_type,
                                     self._now(), self.config.user)
            conn.execute(insert(arcash), [row])
            on_memo, on_customer = mapping.settled(memo, customer, row["PAIDAMT"])
            conn.execute(update(armast).where(armast.c.INVNO == memo["INVNO"]).values(**on_memo))
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"]).values(**on_customer))
        return mapping.document(op, row, "REFNO", customer["CUSTGEN"])

    def _create_reversal(self, reversal: Reversal) -> ErpDocument:
        """An arcash row of the reversal TRANTYPE negating a receipt: its invoice and the customer owe it again."""
        op, armast, arcust, arcash = "reversal", self.tables["armast"], self.tables["arcust"], self.tables["arcash"]
        with self.client.transaction(op) as conn:
            customer = self._customer(conn, reversal.customer_id, op)
            receipt = self._document(conn, "arcash", "CASHNO", reversal.payment_ref, customer, "payment_ref",
                                     "receipt", op, wanted=self._is_receipt)
            if mapping.money(reversal.amount) != mapping.money(receipt["PAIDAMT"]):
                raise ValidationError(f"reversal {mapping.money(reversal.amount)} is not the receipt's "
                                      f"{mapping.money(receipt['PAIDAMT'])}", field="amount", system=SYSTEM, operation=op)
            invoice = None  # a receipt on account (blank INVNO) paid no invoice: only the customer owes it again
            if receipt["INVNO"].strip():
                invoice = self.client.one(conn, "armast", for_update=True, INVNO=receipt["INVNO"])
                if invoice is None:
                    raise NotFoundError(f"invoice {receipt['INVNO'].strip()} of receipt {reversal.payment_ref} is "
                                        f"gone", system=SYSTEM, operation=op)
                self.client.check_unlocked("armast", invoice, op)
            self.client.lock_table(conn, "arcash")
            self._recheck(conn, op, reversal.reference)
            done = conn.execute(select(arcash.c.REFNO).where(self.types["reversal"],
                                                             arcash.c.REVCASH == receipt["CASHNO"])).first()
            if done is not None:
                raise ValidationError(f"receipt {reversal.payment_ref} is already reversed by {done[0].strip()}",
                                      field="payment_ref", system=SYSTEM, operation=op)
            cashno = self.client.next_number(conn, "arcash", "CASHNO")
            row = mapping.reversal_row(arcash, reversal, cashno, receipt, self.config.reversal_type, self._now(),
                                       self.config.user)
            conn.execute(insert(arcash), [row])
            on_invoice, on_customer = mapping.settled(invoice, customer, row["PAIDAMT"])
            if invoice is not None:
                if on_invoice["PAIDAMT"] <= 0:
                    on_invoice["DTEPAID"] = mapping.EMPTY_DATE  # nothing paid on it any more
                conn.execute(update(armast).where(armast.c.INVNO == invoice["INVNO"]).values(**on_invoice))
            conn.execute(update(arcust).where(arcust.c.CUSTNO == customer["CUSTNO"]).values(**on_customer))
        return mapping.document(op, row, "REFNO", customer["CUSTGEN"])

    def _status_row(self, conn: Connection, kind: str, key: str, for_update: bool) -> tuple[str, str, dict]:
        if kind not in _STATUS_TABLES:
            raise ValidationError(f"only sales orders and invoices carry a status, not {kind}", field="kind",
                                  system=SYSTEM, operation="status")
        base, key_column = _STATUS_TABLES[kind]
        table = self.tables[base]
        row = self.client.one(conn, base, for_update=for_update, **{key_column: mapping.fit(table.c[key_column], key)})
        if row is None or (kind == "invoice" and self._is_memo(row)):
            raise NotFoundError(f"{kind} {key} is not in {self.config.table(base)}", system=SYSTEM, operation="status")
        return base, key_column, row

    def set_status(self, kind: str, key: str, status: str) -> None:
        """Write the mapped status word to the [I] USTATUS user field (SOSTAT/ARSTAT are coded and left alone)."""
        with self.client.transaction(f"set_status {kind}") as conn:
            base, key_column, row = self._status_row(conn, kind, key, for_update=True)
            table = self.tables[base]
            value = mapping.status_value(table.c.USTATUS, status)
            if row["USTATUS"] == value:
                return
            self.client.check_unlocked(base, row, f"set_status {kind}")
            conn.execute(update(table).where(table.c[key_column] == row[key_column]).values(USTATUS=value))

    def status_of(self, kind: str, key: str) -> str:
        with self.client.transaction(f"status_of {kind}") as conn:
            _, _, row = self._status_row(conn, kind, key, for_update=False)
            return row["USTATUS"].strip()
