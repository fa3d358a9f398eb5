"""A store order -> the lines of its ERP sales order and invoice, and the stock it reserves (pure).

Each bought line becomes a line of its ERP item (the mapping's SKU map, else the SKU itself) at
its price less its discount; the order's tax and its shipping are lines of the mapping's tax and
shipping items. The lines add up to the order's total exactly: a discount that does not divide
evenly over the quantity splits the line in two (n-1 at the lower unit price, 1 carrying the
cents left), so no ERP needs a negative or sub-cent price. An unknown SKU is refused with a
reason a person can act on, or falls back to the mapping's fallback item.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Iterable

from schemas.domain import OrderLine
from schemas.store import StoreOrderData
from schemas.store_mapping import StoreRules

CENT = Decimal("0.01")


class UnknownSku(ValueError):
    """A line's SKU is no ERP item and the mapping gives no fallback: a person must map it."""


class TotalMismatch(ValueError):
    """The order's lines, tax and shipping do not add up to the money paid for it."""


@dataclass(frozen=True)
class StockLine:
    """Stock one order reserves: an ERP item and how many."""

    item_id: str
    quantity: Decimal


def _split(item: str, quantity: Decimal, amount: Decimal, text: str) -> list[OrderLine]:
    """`quantity` of `item` for exactly `amount`, in one line or two."""
    if quantity <= 0:
        return []
    unit = (amount / quantity).quantize(CENT, rounding=ROUND_DOWN)
    if unit * quantity == amount:
        return [OrderLine(item, quantity, unit, text)]
    if quantity == quantity.to_integral_value() and quantity > 1:
        rest = amount - unit * (quantity - 1)
        return [OrderLine(item, quantity - 1, unit, text), OrderLine(item, Decimal("1"), rest, text)]
    # a fractional quantity (a weight): one line at the rounded-down price, the cents left on one unit of it
    return [OrderLine(item, quantity, unit, text), OrderLine(item, Decimal("1"), amount - (unit * quantity)
                                                             .quantize(CENT), f"{text} (rounding)")]


def item_of(rules: StoreRules, sku: str, known: Iterable[str] | None, where: str, erp_name: str) -> str:
    """The ERP item of a SKU, or the fallback, or UnknownSku saying what to change."""
    item = rules.item_for(sku) if sku else ""
    known_items = None if known is None else set(known)
    if item and (known_items is None or item in known_items):
        return item
    if rules.unknown_sku == "fallback" and rules.fallback_item:
        return rules.fallback_item
    what = f"SKU {sku!r}" if sku else "a line without a SKU"
    mapped = f" (store.skus maps it to {item!r})" if sku and item != sku else ""
    raise UnknownSku(f"{where}: {what}{mapped} is not an item in {erp_name}; add the item to {erp_name}, map the SKU "
                     f"under store.skus in the mapping file, or set store.unknown_sku: fallback with a "
                     f"store.fallback_item, then replay")


def sales_lines(order: StoreOrderData, rules: StoreRules, known: Iterable[str] | None = None,
                erp_name: str = "the ERP") -> tuple[OrderLine, ...]:
    """The order's ERP lines: its goods, then tax and shipping; they add up to its total."""
    known = None if known is None else set(known)
    out: list[OrderLine] = []
    for n, line in enumerate(order.lines, 1):
        item = item_of(rules, line.sku, known, f"order {order.name} line {n}", erp_name)
        text = f"{line.title or line.sku} ({line.sku})" if line.sku else (line.title or "store item")
        out.extend(_split(item, line.quantity, line.net, text[:40]))
    if order.total_tax > 0:
        out.append(OrderLine(rules.tax_item, Decimal("1"), order.total_tax, "Sales tax"))
    if order.total_shipping > 0:
        out.append(OrderLine(rules.shipping_item, Decimal("1"), order.total_shipping, "Shipping"))
    total = sum((l.amount for l in out), Decimal("0.00"))
    if total != order.total_price:
        raise TotalMismatch(f"order {order.name}: its lines, tax and shipping add up to {total}, "
                            f"not its total {order.total_price}")
    return tuple(out)


def stock_lines(order: StoreOrderData, rules: StoreRules, known: Iterable[str] | None = None) -> tuple[StockLine, ...]:
    """What the order reserves, per ERP item (SKUs that fall back to the fallback item reserve nothing)."""
    known = None if known is None else set(known)
    wanted: OrderedDict[str, Decimal] = OrderedDict()
    for line in order.lines:
        item = rules.item_for(line.sku) if line.sku else ""
        if not item or (known is not None and item not in known):
            continue
        wanted[item] = wanted.get(item, Decimal("0")) + line.quantity
    return tuple(StockLine(item, qty) for item, qty in wanted.items())
