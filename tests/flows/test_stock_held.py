"""What a store order holds of the store's stock once its sales order is in the ERP (fast tier, SQLite).

The stock tick reads only the live orders still marked unallocated (flows/stock.py, through a
partial index): an order must leave that mark when the ERP reserved its stocked lines, or when it
had no stocked line to reserve, and keep it when its lines never reached the ERP (its total was not
the money paid: posted as one line, on the review list).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from connectors.stock import StockLevel
from db.migrate import upgrade
from db.session import session_scope
from db.store_models import StoreOrder
from flows import orders
from flows.review import list_items
from flows.stock import _held_by_store
from schemas.domain import Address, ErpDocument
from schemas.store import StoreLine, StoreOrderData
from schemas.store_mapping import StoreRules

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
ADDRESS = Address("Ada", "1 Main St", "", "Springfield", "IL", "62701", "US")


class Erp:
    """The ERP's side of posting a store order: its stock levels, its sales order, what it reserved."""

    kind = "sage50"

    def __init__(self, stocked: bool) -> None:
        self.stocked, self.reserved = stocked, []

    def stock_levels(self, items):
        return {i: StockLevel(i, Decimal("10"), Decimal("0"), self.stocked and i == "WIDGET") for i in items}

    def ensure_sales_order(self, order):
        return ErpDocument("sales_order", "SO-1", "PT1-SO")

    def allocate(self, key, lines):
        self.reserved.append((key, lines))


@pytest.mark.parametrize("stocked, paid, allocation, held", [
    (True, "30.00", "allocated", {}),  # the ERP reserved the widgets: they are its to count now
    (False, "30.00", "nothing", {}),  # nothing the ERP stocks: nothing to hold
    (True, "25.00", "none", {"WIDGET": Decimal("3")}),  # lines never reached the ERP: still held
])
def test_a_posted_order_holds_stock_only_while_the_erp_has_not_reserved_it(tmp_path, stocked, paid, allocation,
                                                                           held):
    url = f"sqlite:///{tmp_path / 'stock.sqlite3'}"
    upgrade(url)
    data = StoreOrderData("shopify", "gid1", "1001", "#1001", "paid", "USD", "", "Ada", "", ADDRESS, ADDRESS, NOW,
                          NOW, None, (StoreLine("WIDGET", "Widget", Decimal("3"), Decimal("10.00")),),
                          Decimal("0"), Decimal("0"), Decimal("0"), Decimal("30.00"))
    order_id, _ = orders.record_order(url, "default", data, 60)
    with session_scope(url) as s:
        s.execute(update(StoreOrder).where(StoreOrder.id == order_id).values(status="joined"))
    assert _held_by_store(url, "default") == {"WIDGET": Decimal("3")}  # paid in the store, not posted yet
    erp = Erp(stocked)
    ctx = SimpleNamespace(db_url=url, erp=erp, pair="default",
                          mapping=SimpleNamespace(store=StoreRules("TAX", "SHIPPING")))
    orders.ensure_order(ctx, order_id, SimpleNamespace(amount=Decimal(paid), transaction_id=1), None)
    with session_scope(url) as s:
        row = s.get(StoreOrder, order_id)
        assert (row.sales_order_key, row.allocation) == ("SO-1", allocation)
    assert bool(erp.reserved) == (allocation == "allocated")
    assert _held_by_store(url, "default") == held
    if paid != "30.00":
        assert [i.kind for i in list_items(url)] == ["store_total"]
