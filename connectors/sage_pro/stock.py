"""Sage Pro's stock: item levels from icitem, an order's stock allocated and released on its sotran rows.

Mixed into SageProConnector beside StockKeeper (docs/sage-pro.md "Stock" [I]).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from connectors.errors import ValidationError
from connectors.sage_pro import mapping
from connectors.sage_pro.client import SageProClient
from connectors.sage_pro.config import SYSTEM
from connectors.stock import StockLevel


class SageProStock:
    """Stock levels, allocation and release on Sage Pro's tables; needs `client` and `tables`."""

    client: SageProClient
    tables: dict

    def stock_levels(self, items) -> dict[str, StockLevel]:
        icitem = self.tables["icitem"]
        keys = {mapping.fit(icitem.c.ITEM, item) for item in items}
        if not keys:
            return {}
        with self.client.transaction("stock_levels") as conn:
            rows = conn.execute(select(icitem.c.ITEM, icitem.c.IONHAND, icitem.c.IALLOC, icitem.c.ITYPE)
                                .where(icitem.c.ITEM.in_(keys))).all()
        return {r.ITEM.strip(): StockLevel(r.ITEM.strip(), Decimal(str(r.IONHAND)), Decimal(str(r.IALLOC)),
                                           (r.ITYPE or "").strip() != "N") for r in rows}

    def allocate(self, order_key: str, lines) -> dict[str, Decimal]:
        """Each sotran row of the order for a stock item, not allocated yet, allocates its QTYORD (QTYALLOC)
        and adds it to icitem.IALLOC, in one transaction under the order's row lock: a second call finds
        every row allocated and writes nothing."""
        wanted = {line.item_id for line in lines}
        return self._allocation(order_key, "allocate", lambda row: row["ITEM"].strip() in wanted
                                and mapping.money(row["QTYALLOC"]) == 0, release=False)

    def release(self, order_key: str) -> dict[str, Decimal]:
        """The order's allocated rows give their QTYALLOC back to icitem.IALLOC; the order is marked
        cancelled (SOSTAT X [I]). A second call finds nothing allocated."""
        return self._allocation(order_key, "release", lambda row: mapping.money(row["QTYALLOC"]) > 0, release=True)

    def _allocation(self, order_key: str, op: str, chosen, *, release: bool) -> dict[str, Decimal]:
        somast, sotran, icitem = self.tables["somast"], self.tables["sotran"], self.tables["icitem"]
        sono = mapping.fit(somast.c.SONO, order_key)
        done: dict[str, Decimal] = {}
        with self.client.transaction(op) as conn:
            order = self.client.one(conn, "somast", for_update=True, SONO=sono)
            if order is None:
                raise ValidationError(f"sales order {order_key} does not exist", field="SONO", system=SYSTEM,
                                      operation=op)
            self.client.check_unlocked("somast", order, op)
            if not release and order["SOSTAT"].strip() == mapping.ORDER_CANCELLED:
                raise ValidationError(f"sales order {order_key} is cancelled: it holds no stock", field="SOSTAT",
                                      system=SYSTEM, operation=op)
            rows = [dict(r._mapping) for r in conn.execute(select(sotran).where(sotran.c.SONO == sono)).all()]
            types = {r.ITEM: (r.ITYPE or "").strip() for r in conn.execute(
                select(icitem.c.ITEM, icitem.c.ITYPE).where(icitem.c.ITEM.in_({r["ITEM"] for r in rows}))).all()}
            for row in rows:
                if types.get(row["ITEM"]) in (None, "N") or not chosen(row):
                    continue
                qty = Decimal(str(row["QTYALLOC"] if release else row["QTYORD"]))
                line = sotran.c.LINENO  # sotran's line number is `lineno` (docs/fidelity.md)
                conn.execute(update(sotran).where(sotran.c.SONO == sono, line == row[line.key])
                             .values(QTYALLOC=0 if release else qty))
                conn.execute(update(icitem).where(icitem.c.ITEM == row["ITEM"])
                             .values(IALLOC=icitem.c.IALLOC + (-qty if release else qty)))
                done[row["ITEM"].strip()] = done.get(row["ITEM"].strip(), Decimal("0")) + qty
            if not release:  # what the order holds now, rows allocated by an earlier call included
                done = {}
                for r in conn.execute(select(sotran.c.ITEM, sotran.c.QTYALLOC).where(sotran.c.SONO == sono)).all():
                    if mapping.money(r.QTYALLOC) > 0:
                        done[r.ITEM.strip()] = done.get(r.ITEM.strip(), Decimal("0")) + Decimal(str(r.QTYALLOC))
            elif order["SOSTAT"].strip() != mapping.ORDER_CANCELLED:
                conn.execute(update(somast).where(somast.c.SONO == sono).values(SOSTAT=mapping.ORDER_CANCELLED))
        return done
