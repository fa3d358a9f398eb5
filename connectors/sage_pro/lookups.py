"""The matching reads on Sage Pro's tables: invoices by a link field or by what is open, customers both ways.

Mixed into SageProConnector (docs/sage-pro.md "Matching"). Every invoice counts, whoever wrote it:
PONUM holds the customer's PO (or, on paysync's invoices without one, our reference), REF [I] our
reference. Padded columns are compared without their padding, so a SQL Server edition that stores
VARCHAR matches too.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from connectors.errors import NotFoundError, ValidationError
from connectors.sage_pro import mapping
from connectors.sage_pro.client import SageProClient
from connectors.sage_pro.config import SYSTEM, SageProConfig
from schemas.domain import Customer, CustomerChange, InvoiceInfo


def _bare(column):
    """The column's value without DBF padding on either side (right-justified keys, padded text)."""
    return func.ltrim(func.rtrim(column))


class SageProLookups:
    """Finding the invoice a payment pays and the customers a sync reads; needs `client`, `tables`, `types`."""

    config: SageProConfig
    client: SageProClient
    tables: dict
    types: dict

    #: The armast fields find_invoices searches ([C] names, sage.md §3; REF is [I] on armast).
    invoice_link_fields = ("PONUM", "REF", "INVNO", "ORNUM", "SOTRACK")
    #: Where SalesOrder.reference lands: REF [I] (somast.REF is [C]). Invoices without a PO carry it in
    #: PONUM as well, as every invoice paysync wrote before REF does.
    invoice_reference_field = "REF"
    #: Where SalesOrder.customer_po lands: PONUM, where Sage Pro's own users keep the customer's PO [C name],
    #: so one link (DEFAULT_LINKS: PONUM) finds a PO on every invoice, whoever wrote it.
    invoice_po_field = "PONUM"

    # -- invoices -------------------------------------------------------------------------------
    def find_invoices(self, field: str, value: str) -> list[InvoiceInfo]:
        """Invoices (not credit memos) whose `field` is `value` once unpadded; a blank value finds nothing."""
        if field not in self.invoice_link_fields:
            raise ValidationError(f"{field!r} is not an invoice field to search; use one of "
                                  f"{', '.join(self.invoice_link_fields)}", field="field", system=SYSTEM,
                                  operation="find invoices")
        value = (value or "").strip()
        column = self.tables["armast"].c[field]
        if not value or len(value) > column.info["width"]:
            return []  # blank would match every invoice without one; too long was never stored
        # A right-justified key compares padded, as stored (its index serves); text without its padding.
        condition = column == mapping.fit(column, value) if column.info["rjust"] else func.rtrim(column) == value
        with self.client.transaction("find invoices") as conn:
            return self._invoices(conn, condition)

    def open_invoices(self, *, customer_id: str | None = None, amount: Decimal | None = None,
                      dated_from: date | None = None, dated_to: date | None = None,
                      due_by: date | None = None) -> list[InvoiceInfo]:
        """Invoices with a BALANCE left, oldest first, narrowed by every filter given."""
        armast = self.tables["armast"]
        conditions = [armast.c.BALANCE > 0]
        if amount is not None:
            conditions.append(armast.c.INVAMT == mapping.money(amount))
        if dated_from is not None:
            conditions.append(armast.c.INVDTE >= dated_from)
        if dated_to is not None:
            conditions.append(armast.c.INVDTE <= dated_to)
        if due_by is not None:
            # An invoice without a due date (blank DUEDATE, e.g. one written before the column) is due on its date.
            due = case((armast.c.DUEDATE == mapping.EMPTY_DATE, armast.c.INVDTE), else_=armast.c.DUEDATE)
            conditions.append(due <= due_by)
        with self.client.transaction("open invoices") as conn:
            if customer_id is not None:
                customer = self._customer_row(conn, customer_id)
                if customer is None:
                    return []
                conditions.append(armast.c.CUSTNO == customer["CUSTNO"])
            return self._invoices(conn, and_(*conditions))

    def invoice_info(self, key: str) -> InvoiceInfo:
        """Invoice INVNO `key` with its BALANCE now; NotFoundError for no such invoice (or a credit memo)."""
        column = self.tables["armast"].c.INVNO
        key = (key or "").strip()
        found = []
        if key and len(key) <= column.info["width"]:
            with self.client.transaction("invoice info") as conn:
                found = self._invoices(conn, column == mapping.fit(column, key))
        if not found:
            raise NotFoundError(f"invoice {key} is not in {self.config.table('armast')}", system=SYSTEM,
                                operation="invoice info")
        return found[0]

    def _invoices(self, conn: Connection, condition) -> list[InvoiceInfo]:
        armast, arcust = self.tables["armast"], self.tables["arcust"]
        rows = conn.execute(select(armast, arcust.c.CUSTGEN).outerjoin(arcust, arcust.c.CUSTNO == armast.c.CUSTNO)
                            .where(self.types["invoice"], condition).order_by(armast.c.INVDTE, armast.c.INVNO))
        return [mapping.invoice_info({c.key: r._mapping[c] for c in armast.c}, r._mapping[arcust.c.CUSTGEN],
                                     self.invoice_link_fields) for r in rows]

    # -- customers ------------------------------------------------------------------------------
    def _customer_row(self, conn: Connection, customer_id: str, for_update: bool = False) -> dict | None:
        """The arcust row of one of our ids: by CUSTGEN (a customer paysync created), else a customer Sage Pro
        users created, whose id is its bare CUSTNO (mapping.customer_id_of) and whose CUSTGEN is blank."""
        arcust = self.tables["arcust"]
        customer_id = (customer_id or "").strip()
        if not customer_id:
            return None
        if len(customer_id) <= arcust.c.CUSTGEN.info["width"]:
            row = self.client.one(conn, "arcust", for_update, CUSTGEN=mapping.fit(arcust.c.CUSTGEN, customer_id))
            if row is not None:
                return row
        if len(customer_id) <= arcust.c.CUSTNO.info["width"]:
            row = self.client.one(conn, "arcust", for_update, CUSTNO=mapping.fit(arcust.c.CUSTNO, customer_id))
            if row is not None and not row["CUSTGEN"].strip():
                return row
        return None

    def customer(self, customer_id: str) -> Customer | None:
        with self.client.transaction("read customer") as conn:
            row = self._customer_row(conn, customer_id)
        return None if row is None else mapping.customer_of(row)

    def find_customers(self, *, email: str = "", name: str = "", postal_code: str = "") -> list[Customer]:
        """Customers whose EMAIL is `email`, or whose COMPANY is `name` and ZIP `postal_code`, ignoring case and
        padding; a name without a postal code (or the reverse) is not enough to find anyone."""
        arcust = self.tables["arcust"]
        email, name, postal_code = email.strip().lower(), name.strip().lower(), postal_code.strip().lower()
        either = []
        if email:
            either.append(func.lower(_bare(arcust.c.EMAIL)) == email)
        if name and postal_code:
            # Compare what upsert_customer would have stored: descriptive text is cut to its column.
            company, zipcode = arcust.c.COMPANY, arcust.c.ZIP
            either.append(and_(func.lower(func.rtrim(company)) == name[:company.info["width"]].rstrip(),
                               func.lower(func.rtrim(zipcode)) == postal_code[:zipcode.info["width"]].rstrip()))
        if not either:
            return []
        with self.client.transaction("find customers") as conn:
            rows = self._rows(conn, select(arcust).where(or_(*either)).order_by(arcust.c.CUSTNO))
        return [mapping.customer_of(r) for r in rows]

    def customers_changed_since(self, since: datetime | None) -> Iterable[CustomerChange]:
        """Customers changed strictly after `since`, oldest first, on Sage Pro's clock (config.timezone [I]).

        The stamp is CHGDATE/CHGTIME [I], or ADDDATE/ADDTIME for a customer never changed. Stamps have
        whole seconds: a change in the very second of `since`, committed after the read that returned it,
        is not listed again (docs/sage-pro.md).
        """
        arcust, zone = self.tables["arcust"], ZoneInfo(self.config.timezone)
        was_changed = arcust.c.CHGDATE != mapping.EMPTY_DATE
        day = case((was_changed, arcust.c.CHGDATE), else_=arcust.c.ADDDATE)
        clock = case((was_changed, arcust.c.CHGTIME), else_=arcust.c.ADDTIME)
        stmt = select(arcust).order_by(day, clock, arcust.c.CUSTNO)
        if since is not None:
            on, at = mapping.local(since, zone)
            stmt = stmt.where(or_(day > on, and_(day == on, clock > at)))
        with self.client.transaction("customers changed") as conn:
            rows = self._rows(conn, stmt)
        return [mapping.customer_change(r, zone) for r in rows]

    def _rows(self, conn: Connection, stmt) -> list[dict]:
        """arcust rows by the columns' reference names (`key`), whatever the site calls them."""
        arcust = self.tables["arcust"]
        return [{c.key: r._mapping[c] for c in arcust.c} for r in conn.execute(stmt)]
