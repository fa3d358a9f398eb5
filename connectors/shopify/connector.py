"""Shopify as the store paysync answers: mark an order paid, tag it, cancel it, set inventory levels.

Each write is idempotent the way an ERP write is: the order is read first (paid already, the tag
there already, cancelled already: nothing is sent), so a retry after a lost answer changes
nothing. A refusal Shopify explains (`userErrors`) is a ValidationError: a dead letter with the
shop's words.
"""
from __future__ import annotations

from connectors.errors import NotFoundError, ValidationError
from connectors.shopify import mapping
from connectors.shopify.client import SYSTEM, ShopifyClient
from connectors.shopify.config import ShopifyConfig


class ShopifyConnector:
    """One shop's orders and inventory, through the GraphQL Admin API."""

    kind = SYSTEM

    def __init__(self, config: ShopifyConfig, client: ShopifyClient | None = None) -> None:
        self.config = config
        self.client = client or ShopifyClient(config)

    def order(self, store_order_id: str) -> dict:
        gid = mapping.order_gid(store_order_id)
        data = self.client.execute(mapping.ORDER, {"id": gid}, operation="order", idempotent=True)
        if not data.get("order"):
            raise NotFoundError(f"the shop has no order {gid}", system=SYSTEM, operation="order")
        return data["order"]

    def mark_paid(self, store_order_id: str) -> bool:
        """orderMarkAsPaid unless the shop has it paid already; True when this call marked it."""
        order = self.order(store_order_id)
        if order.get("displayFinancialStatus") in mapping.PAID_STATUSES:
            return False
        data = self.client.execute(mapping.MARK_PAID, {"input": {"id": order["id"]}}, operation="orderMarkAsPaid")
        errors = mapping.user_errors(data, "orderMarkAsPaid")
        if errors:
            if self.order(store_order_id).get("displayFinancialStatus") in mapping.PAID_STATUSES:
                return False  # paid meanwhile (our own earlier call whose answer was lost, or the shop)
            raise ValidationError(f"the shop refused to mark {order['name']} paid: {mapping.describe(errors)}",
                                  field="orderMarkAsPaid", system=SYSTEM, operation="orderMarkAsPaid")
        return True

    def add_tag(self, store_order_id: str, tag: str) -> bool:
        order = self.order(store_order_id)
        if tag in (order.get("tags") or []):
            return False
        data = self.client.execute(mapping.TAGS_ADD, {"id": order["id"], "tags": [tag]}, operation="tagsAdd",
                                   idempotent=True)  # adding a tag twice leaves one tag
        errors = mapping.user_errors(data, "tagsAdd")
        if errors:
            raise ValidationError(f"the shop refused tag {tag!r} on {order['name']}: {mapping.describe(errors)}",
                                  field="tags", system=SYSTEM, operation="tagsAdd")
        return True

    def cancel(self, store_order_id: str, reason: str = "OTHER") -> bool:
        order = self.order(store_order_id)
        if order.get("cancelledAt"):
            return False
        data = self.client.execute(mapping.CANCEL, {"orderId": order["id"], "reason": reason, "refund": False,
                                                    "restock": True}, operation="orderCancel")
        errors = mapping.user_errors(data, "orderCancel")
        if errors:
            if self.order(store_order_id).get("cancelledAt"):
                return False
            raise ValidationError(f"the shop refused to cancel {order['name']}: {mapping.describe(errors)}",
                                  field="orderCancel", system=SYSTEM, operation="orderCancel")
        return True

    def inventory_item(self, sku: str) -> str | None:
        """The InventoryItem global id of the variant with this SKU, or None if the shop sells none."""
        data = self.client.execute(mapping.VARIANT_BY_SKU, {"query": f"sku:{sku}"}, operation="productVariants",
                                   idempotent=True)
        for edge in (data.get("productVariants") or {}).get("edges") or []:
            node = edge.get("node") or {}
            if node.get("sku") == sku:
                return (node.get("inventoryItem") or {}).get("id")
        return None

    def set_available(self, quantities: list[tuple[str, int]], reason: str, reference: str) -> None:
        """Absolute `available` quantities at the configured location, in one call (all or nothing)."""
        if not self.config.location_id:
            raise ValidationError("SHOPIFY_LOCATION_ID is not set: no location to set quantities at",
                                  field="SHOPIFY_LOCATION_ID", system=SYSTEM, operation="inventorySetQuantities")
        data = self.client.execute(mapping.SET_QUANTITIES, mapping.set_quantities_input(
            quantities, self.config.location_id, reason, reference), operation="inventorySetQuantities",
            idempotent=True)  # absolute values: sending them twice sets the same numbers
        errors = mapping.user_errors(data, "inventorySetQuantities")
        if errors:
            raise ValidationError(f"the shop refused the quantities: {mapping.describe(errors)}", field="quantities",
                                  system=SYSTEM, operation="inventorySetQuantities")

    def close(self) -> None:
        self.client.close()
