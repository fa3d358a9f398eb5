"""One simulated Shopify store: its catalogue, inventory, orders and refunds, under one lock.

Orders and refunds are kept in the REST JSON shape Shopify's webhooks carry (the GraphQL Admin
API reads and changes them through sandbox/shop/admin.py). Money is Decimal and leaves as
two-decimal strings, as Shopify's JSON does. Every fact here is from Shopify's public docs:
`financial_status` pending -> paid -> partially_refunded / refunded, `cancelled_at` and
`cancel_reason` on a cancelled order, tracked inventory lowered by an order and restocked by a
cancellation, an order `name` of "#" + `order_number` (1001 upward).
"""
from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
LOCATION_ID = 7000001
#: sku -> (title, price, tracked quantity available at the one location)
CATALOGUE = (
    ("WIDGET-1", "Widget, standard", "25.00", 40),
    ("WIDGET-2", "Widget, deluxe", "40.00", 25),
    ("GADGET-1", "Gadget", "12.50", 100),
)


class ShopError(Exception):
    """A refusal the Admin API or the sandbox endpoints answer with; `code` is Shopify's error code."""

    def __init__(self, message: str, code: str = "INVALID", field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return str(cents(value))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str, kind: str) -> int:
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix) or not value[len(prefix):].isdigit():
        raise ShopError(f"Invalid global id '{value}'", "INVALID", ["id"])
    return int(value[len(prefix):])


class ShopState:
    """The store's records; every check-and-write happens under `self.lock`."""

    def __init__(self, domain: str = "paysync-demo.myshopify.com") -> None:
        self.lock = threading.RLock()
        self.domain = domain
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._ids = itertools.count(5_000_000_001)
            self._numbers = itertools.count(1001)
            self.variants: dict[str, dict[str, Any]] = {}  # by sku
            self.inventory: dict[tuple[int, int], dict[str, int]] = {}  # (item, location) -> quantities
            self.orders: dict[int, dict[str, Any]] = {}
            self.refunds: dict[int, dict[str, Any]] = {}
            self.adjustments: list[dict[str, Any]] = []
            for sku, title, price, available in CATALOGUE:
                self.add_variant(sku, title, Decimal(price), available)

    def next_id(self) -> int:
        return next(self._ids)

    # -- catalogue and inventory ---------------------------------------------------------------
    def add_variant(self, sku: str, title: str, price: Decimal, available: int) -> dict[str, Any]:
        with self.lock:
            variant = {"id": self.next_id(), "product_id": self.next_id(), "sku": sku, "title": title,
                       "price": cents(price), "inventory_item_id": self.next_id()}
            self.variants[sku] = variant
            self.inventory[(variant["inventory_item_id"], LOCATION_ID)] = {"available": available,
                                                                           "on_hand": available}
            return variant

    def level(self, item_id: int, location_id: int = LOCATION_ID) -> dict[str, int]:
        with self.lock:
            found = self.inventory.get((item_id, location_id))
            if found is None:
                raise ShopError("The specified inventory item could not be found.", "INVALID_INVENTORY_ITEM")
            return found

    def set_quantity(self, item_id: int, location_id: int, name: str, quantity: int) -> dict[str, Any]:
        """inventorySetQuantities for one item: absolute value of `available` (or `on_hand`)."""
        with self.lock:
            if location_id != LOCATION_ID:
                raise ShopError("The specified location could not be found.", "INVALID_LOCATION")
            level = self.level(item_id, location_id)
            delta = quantity - level[name]
            level[name] = quantity
            other = "on_hand" if name == "available" else "available"
            level[other] += delta  # committed quantities stay as they are: both move together
            return {"name": name, "delta": delta, "quantityAfterChange": quantity,
                    "item": {"id": gid("InventoryItem", item_id)}, "location": {"id": gid("Location", location_id)}}

    # -- orders ------------------------------------------------------------------------------
    def place_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """A checkout completed: the order with Shopify's totals; tracked stock goes down."""
        lines_in = body.get("line_items") or []
        if not lines_in:
            raise ShopError("An order needs at least one line item", field=["line_items"])
        tax_rate = Decimal(str(body.get("tax_rate", "0")))
        with self.lock:
            lines, subtotal, discounts, tax = [], Decimal("0"), Decimal("0"), Decimal("0")
            for i, line in enumerate(lines_in):
                sku = line.get("sku")
                variant = self.variants.get(sku) if sku else None
                price = cents(Decimal(str(line["price"]))) if line.get("price") is not None else (
                    variant["price"] if variant else None)
                if price is None:
                    raise ShopError(f"line {i}: a SKU the store does not sell needs a price", field=["line_items"])
                quantity = int(line.get("quantity", 1))
                if quantity < 1:
                    raise ShopError(f"line {i}: quantity must be at least 1", field=["line_items"])
                discount = cents(Decimal(str(line.get("discount", "0"))))
                line_tax = cents((price * quantity - discount) * tax_rate)
                lines.append({
                    "id": self.next_id(), "variant_id": variant["id"] if variant else None,
                    "product_id": variant["product_id"] if variant else None, "sku": sku,
                    "title": line.get("title") or (variant["title"] if variant else sku or "Custom item"),
                    "name": line.get("title") or (variant["title"] if variant else sku or "Custom item"),
                    "quantity": quantity, "price": money(price), "total_discount": money(discount),
                    "discount_allocations": [{"amount": money(discount), "discount_application_index": 0}]
                    if discount else [],
                    "tax_lines": [{"title": "Sales tax", "price": money(line_tax), "rate": float(tax_rate)}]
                    if line_tax else [],
                    "taxable": bool(tax_rate), "requires_shipping": True, "fulfillable_quantity": quantity})
                subtotal += price * quantity - discount
                discounts += discount
                tax += line_tax
            shipping = body.get("shipping")
            shipping_lines = []
            if shipping:
                ship_price = cents(Decimal(str(shipping.get("price", "0"))))
                shipping_lines.append({"id": self.next_id(), "title": shipping.get("title") or "Standard",
                                       "code": shipping.get("title") or "Standard", "price": money(ship_price),
                                       "discounted_price": money(ship_price), "tax_lines": []})
            shipping_total = sum((Decimal(s["price"]) for s in shipping_lines), Decimal("0"))
            order_id, number = self.next_id(), next(self._numbers)
            customer = body.get("customer") or {}
            stamp = now_iso()
            order = {
                "id": order_id, "admin_graphql_api_id": gid("Order", order_id), "name": f"#{number}",
                "order_number": number, "number": number - 1000, "email": body.get("email") or customer.get("email"),
                "created_at": stamp, "updated_at": stamp, "processed_at": stamp, "currency": body.get("currency", "USD"),
                "presentment_currency": body.get("currency", "USD"),
                "financial_status": "pending", "fulfillment_status": None, "cancelled_at": None, "cancel_reason": None,
                "taxes_included": False, "test": True, "tags": "",
                "subtotal_price": money(subtotal), "total_discounts": money(discounts), "total_tax": money(tax),
                "total_shipping_price_set": {"shop_money": {"amount": money(shipping_total),
                                                            "currency_code": body.get("currency", "USD")}},
                "total_price": money(subtotal + shipping_total + tax),
                "customer": {"id": self.next_id(), "email": body.get("email") or customer.get("email"),
                             "first_name": customer.get("first_name"), "last_name": customer.get("last_name"),
                             "phone": customer.get("phone")},
                "billing_address": body.get("billing_address"), "shipping_address": body.get("shipping_address")
                or body.get("billing_address"),
                "line_items": lines, "shipping_lines": shipping_lines,
                "payment_gateway_names": [body.get("gateway", "paytrace")], "note": body.get("note"),
                "refunds": [],
            }
            for line in lines:  # a tracked item is committed by the order: available goes down
                variant = self.variants.get(line["sku"]) if line["sku"] else None
                if variant:
                    self.inventory[(variant["inventory_item_id"], LOCATION_ID)]["available"] -= line["quantity"]
            self.orders[order_id] = order
            return order

    def order(self, order_id: int) -> dict[str, Any]:
        with self.lock:
            found = self.orders.get(order_id)
            if found is None:
                raise ShopError("Order does not exist", "NOT_FOUND", ["id"])
            return found

    def outstanding(self, order: dict[str, Any]) -> Decimal:
        refunded = sum((Decimal(t["amount"]) for r in order["refunds"] for t in r["transactions"]), Decimal("0"))
        return Decimal(order["total_price"]) - refunded

    def mark_paid(self, order_id: int) -> dict[str, Any]:
        """orderMarkAsPaid: only an order with something outstanding that is not paid already."""
        with self.lock:
            order = self.order(order_id)
            if order["financial_status"] in ("paid", "partially_refunded", "refunded"):
                raise ShopError("Order cannot be marked as paid.", field=["id"])
            if order["cancelled_at"] is not None:
                raise ShopError("Order is cancelled and cannot be marked as paid.", field=["id"])
            order["financial_status"] = "paid"
            order["updated_at"] = now_iso()
            return order

    def add_tags(self, order_id: int, tags: list[str]) -> dict[str, Any]:
        with self.lock:
            order = self.order(order_id)
            have = [t for t in (order["tags"] or "").split(", ") if t]
            for tag in tags:
                tag = tag.strip()
                if not tag or len(tag) > 255:
                    raise ShopError("Tags must be 1 to 255 characters", field=["tags"])
                if tag not in have:
                    have.append(tag)
            order["tags"] = ", ".join(have)
            order["updated_at"] = now_iso()
            return order

    def cancel(self, order_id: int, reason: str, restock: bool = True) -> dict[str, Any]:
        with self.lock:
            order = self.order(order_id)
            if order["cancelled_at"] is not None:
                raise ShopError("Order has already been cancelled", "INVALID", ["orderId"])
            order["cancelled_at"] = now_iso()
            order["cancel_reason"] = reason.lower()
            order["updated_at"] = order["cancelled_at"]
            if restock:
                for line in order["line_items"]:
                    variant = self.variants.get(line["sku"]) if line["sku"] else None
                    if variant:
                        self.inventory[(variant["inventory_item_id"], LOCATION_ID)]["available"] += line["quantity"]
            return order

    def refund(self, order_id: int, amount: Decimal, note: str = "") -> dict[str, Any]:
        """A refund of `amount` through the order's gateway; never more than was paid."""
        with self.lock:
            order = self.order(order_id)
            if order["financial_status"] not in ("paid", "partially_refunded"):
                raise ShopError("Only a paid order can be refunded", field=["order_id"])
            amount = cents(amount)
            left = self.outstanding(order)
            if amount <= 0 or amount > left:
                raise ShopError(f"Refund amount {amount} must be above 0 and at most {left}", field=["amount"])
            refund_id = self.next_id()
            refund = {"id": refund_id, "order_id": order_id, "admin_graphql_api_id": gid("Refund", refund_id),
                      "created_at": now_iso(), "note": note, "restock": False, "refund_line_items": [],
                      "order_adjustments": [],
                      "transactions": [{"id": self.next_id(), "order_id": order_id, "kind": "refund",
                                        "gateway": order["payment_gateway_names"][0], "status": "success",
                                        "amount": money(amount), "currency": order["currency"]}]}
            order["refunds"].append(refund)
            order["financial_status"] = "refunded" if self.outstanding(order) == 0 else "partially_refunded"
            order["updated_at"] = refund["created_at"]
            self.refunds[refund_id] = refund
            return refund

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            levels = []
            for (item, location), q in self.inventory.items():
                sku = next((v["sku"] for v in self.variants.values() if v["inventory_item_id"] == item), None)
                levels.append({"sku": sku, "inventory_item_id": gid("InventoryItem", item),
                               "location_id": gid("Location", location), **q})
            return {"orders": list(self.orders.values()), "refunds": list(self.refunds.values()),
                    "inventory": levels, "adjustments": list(self.adjustments),
                    "variants": [{**v, "price": money(v["price"])} for v in self.variants.values()]}
