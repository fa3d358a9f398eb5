"""The stock part of the connector contract: item quantities, and an order's stock reserved and released.

A connector that keeps stock mixes `StockKeeper` in beside ErpConnector (docs/connectors.md "Stock").
Every write is idempotent on the sales order it concerns: reserving an order's stock a second
time, or releasing it twice, changes nothing, whoever asks (a retry, a second delivery).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence


@dataclass(frozen=True)
class StockLevel:
    """One item's quantities as the ERP has them now."""

    item_id: str
    on_hand: Decimal
    allocated: Decimal
    stocked: bool = True  # False: a non-stock item (a charge, a service): no quantities to keep

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.allocated


class StockKeeper:
    """Stock reads and reservations; each ERP says how (must be overridden)."""

    def stock_levels(self, items: Iterable[str]) -> dict[str, StockLevel]:
        """The levels of the items given that the ERP knows (an unknown item is simply absent)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read stock")

    def allocate(self, order_key: str, lines: Sequence) -> dict[str, Decimal]:
        """Reserve the stock of sales order `order_key` (lines: item_id, quantity); what is reserved per item."""
        raise NotImplementedError(f"{type(self).__name__} cannot allocate stock")

    def release(self, order_key: str) -> dict[str, Decimal]:
        """Give back whatever sales order `order_key` still reserves (a cancelled order); what was released."""
        raise NotImplementedError(f"{type(self).__name__} cannot release stock")
