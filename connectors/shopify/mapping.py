"""The GraphQL documents paysync sends a shop, and pure readings of their answers (the unit-test target)."""
from __future__ import annotations

from typing import Any

ORDER = "query order($id: ID!) { order(id: $id) { id name displayFinancialStatus cancelledAt tags } }"
MARK_PAID = ("mutation orderMarkAsPaid($input: OrderMarkAsPaidInput!) { orderMarkAsPaid(input: $input) "
             "{ order { id displayFinancialStatus } userErrors { field message } } }")
TAGS_ADD = "mutation tagsAdd($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } " \
           "userErrors { field message } } }"
CANCEL = ("mutation orderCancel($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!) "
          "{ orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock, notifyCustomer: false) "
          "{ job { id done } orderCancelUserErrors { code field message } userErrors { field message } } }")
VARIANT_BY_SKU = "query variant($query: String!) { productVariants(first: 1, query: $query) " \
                 "{ edges { node { sku inventoryItem { id } } } } }"
SET_QUANTITIES = ("mutation inventorySetQuantities($input: InventorySetQuantitiesInput!) { inventorySetQuantities("
                  "input: $input) { inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } } "
                  "userErrors { code field message } } }")
#: Financial statuses in which an order has been paid (orderMarkAsPaid would refuse it).
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})


def order_gid(store_order_id: str) -> str:
    return store_order_id if store_order_id.startswith("gid://") else f"gid://shopify/Order/{store_order_id}"


def user_errors(data: dict[str, Any], field: str) -> list[dict[str, Any]]:
    payload = data.get(field) or {}
    return list(payload.get("userErrors") or []) + list(payload.get("orderCancelUserErrors") or [])


def describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{'.'.join(e.get('field') or []) or 'order'}: {e.get('message')}" for e in errors)


def set_quantities_input(quantities: list[tuple[str, int]], location_id: str, reason: str,
                         reference: str) -> dict[str, Any]:
    """Absolute `available` quantities; the ERP is the source of truth, so no compare-and-set."""
    return {"input": {"name": "available", "reason": reason, "ignoreCompareQuantity": True,
                      "referenceDocumentUri": reference,
                      "quantities": [{"inventoryItemId": item, "locationId": location_id, "quantity": qty}
                                     for item, qty in quantities]}}
