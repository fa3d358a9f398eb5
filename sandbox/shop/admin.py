"""The slice of Shopify's GraphQL Admin API the store simulator serves, with its cost-based throttle.

Schema names and shapes are Shopify's (shopify.dev admin-graphql reference): `order(id:)`,
`productVariants(first:, query: "sku:...")`, and the mutations `orderMarkAsPaid(input: {id})`,
`tagsAdd(id:, tags:)`, `orderCancel(orderId:, reason:, refund:, restock:, notifyCustomer:)` and
`inventorySetQuantities(input: {name, reason, ignoreCompareQuantity, quantities: [{inventoryItemId,
locationId, quantity, compareQuantity}]})`, each answering `userErrors` (orderCancel:
`orderCancelUserErrors`) rather than failing the request. Every answer carries
`extensions.cost` (requestedQueryCost, actualQueryCost, throttleStatus{maximumAvailable,
currentlyAvailable, restoreRate}); a query the bucket cannot pay for answers HTTP 200 with
`errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]` and no data. The cost model
here is simplified [I]: a mutation costs 10, a query field 1 plus the `first` of a connection.
"""
from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, build_schema, graphql_sync, parse
from graphql.language import FieldNode, OperationDefinitionNode

from .state import LOCATION_ID, ShopError, ShopState, gid, gid_number, now_iso

SDL = """
type Query {
  order(id: ID!): Order
  productVariants(first: Int!, query: String): ProductVariantConnection!
}
type Mutation {
  orderMarkAsPaid(input: OrderMarkAsPaidInput!): OrderMarkAsPaidPayload
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, refund: Boolean!, restock: Boolean!,
              notifyCustomer: Boolean, staffNote: String): OrderCancelPayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
input OrderMarkAsPaidInput { id: ID! }
input InventoryQuantityInput { inventoryItemId: ID!, locationId: ID!, quantity: Int!, compareQuantity: Int }
input InventorySetQuantitiesInput {
  name: String!, reason: String!, referenceDocumentUri: String, ignoreCompareQuantity: Boolean,
  quantities: [InventoryQuantityInput!]!
}
type UserError { field: [String!], message: String! }
type OrderCancelUserError { code: String, field: [String!], message: String! }
type InventorySetQuantitiesUserError { code: String, field: [String!], message: String! }
type Order {
  id: ID!, name: String!, displayFinancialStatus: String, cancelledAt: String, tags: [String!]!,
  totalPrice: String!, updatedAt: String
}
type Node { id: ID! }
type Job { id: ID!, done: Boolean! }
type OrderMarkAsPaidPayload { order: Order, userErrors: [UserError!]! }
type TagsAddPayload { node: Node, userErrors: [UserError!]! }
type OrderCancelPayload { job: Job, orderCancelUserErrors: [OrderCancelUserError!]!, userErrors: [UserError!]! }
type InventoryChange { name: String!, delta: Int!, quantityAfterChange: Int }
type InventoryAdjustmentGroup { createdAt: String!, reason: String!, changes: [InventoryChange!]! }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup, userErrors: [InventorySetQuantitiesUserError!]!
}
type InventoryItem { id: ID! }
type ProductVariant { id: ID!, sku: String, inventoryItem: InventoryItem! }
type ProductVariantEdge { node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! }
"""
SCHEMA = build_schema(SDL)
#: Shopify's reasons for inventorySetQuantities (the docs' list, abridged to the common ones).
REASONS = frozenset({"correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
                     "movement_received", "movement_canceled", "other", "promotion", "quality_control",
                     "received", "reservation_created", "reservation_deleted", "reservation_updated", "restock",
                     "safety_stock", "shrinkage"})
MUTATION_COST = 10


def _order_view(order: dict[str, Any]) -> dict[str, Any]:
    status = order["financial_status"].upper()
    return {"id": order["admin_graphql_api_id"], "name": order["name"], "displayFinancialStatus": status,
            "cancelledAt": order["cancelled_at"], "tags": [t for t in (order["tags"] or "").split(", ") if t],
            "totalPrice": order["total_price"], "updatedAt": order["updated_at"]}


def _errors(exc: ShopError) -> list[dict[str, Any]]:
    return [{"field": exc.field, "message": exc.message, "code": exc.code}]


class Resolvers:
    """The root value: graphql-core calls these with (info, **arguments)."""

    def __init__(self, state: ShopState, on_change) -> None:
        self.state = state
        self.on_change = on_change  # (topic, payload) -> None: the webhook a change triggers

    # queries
    def order(self, info, id: str):
        try:
            return _order_view(self.state.order(gid_number(id, "Order")))
        except ShopError:
            return None

    def productVariants(self, info, first: int, query: str | None = None):
        wanted = (query or "").removeprefix("sku:").strip().strip('"') if query else None
        with self.state.lock:
            found = [v for v in self.state.variants.values() if wanted is None or v["sku"] == wanted][:first]
            return {"edges": [{"node": {"id": gid("ProductVariant", v["id"]), "sku": v["sku"],
                                        "inventoryItem": {"id": gid("InventoryItem", v["inventory_item_id"])}}}
                              for v in found]}

    # mutations
    def orderMarkAsPaid(self, info, input: dict):
        try:
            order = self.state.mark_paid(gid_number(input["id"], "Order"))
        except ShopError as exc:
            return {"order": None, "userErrors": _errors(exc)}
        self.on_change("orders/paid", order)
        return {"order": _order_view(order), "userErrors": []}

    def tagsAdd(self, info, id: str, tags: list[str]):
        try:
            order = self.state.add_tags(gid_number(id, "Order"), tags)
        except ShopError as exc:
            return {"node": None, "userErrors": _errors(exc)}
        self.on_change("orders/updated", order)
        return {"node": {"id": order["admin_graphql_api_id"]}, "userErrors": []}

    def orderCancel(self, info, orderId: str, reason: str, refund: bool, restock: bool, notifyCustomer=None,
                    staffNote=None):
        try:
            order = self.state.cancel(gid_number(orderId, "Order"), reason, restock)
        except ShopError as exc:
            return {"job": None, "orderCancelUserErrors": _errors(exc), "userErrors": []}
        self.on_change("orders/cancelled", order)
        return {"job": {"id": gid("Job", self.state.next_id()), "done": True}, "orderCancelUserErrors": [],
                "userErrors": []}

    def inventorySetQuantities(self, info, input: dict):
        name, reason = input["name"], input["reason"]
        if name not in ("available", "on_hand"):
            return {"inventoryAdjustmentGroup": None, "userErrors": [
                {"code": "INVALID_NAME", "field": ["input", "name"],
                 "message": "The quantity name must be either 'available' or 'on_hand'."}]}
        if reason not in REASONS:
            return {"inventoryAdjustmentGroup": None, "userErrors": [
                {"code": "INVALID_REASON", "field": ["input", "reason"], "message": "The reason is invalid."}]}
        errors, planned = [], []
        with self.state.lock:
            for i, q in enumerate(input["quantities"]):
                where = ["input", "quantities", str(i)]
                try:
                    item = gid_number(q["inventoryItemId"], "InventoryItem")
                    location = gid_number(q["locationId"], "Location")
                    level = self.state.level(item, location)
                except ShopError as exc:
                    errors.append({"code": exc.code if exc.code != "INVALID" else "INVALID_INVENTORY_ITEM",
                                   "field": where + ["inventoryItemId"], "message": exc.message})
                    continue
                if location != LOCATION_ID:
                    errors.append({"code": "INVALID_LOCATION", "field": where + ["locationId"],
                                   "message": "The specified location could not be found."})
                elif q["quantity"] > 1_000_000_000:
                    errors.append({"code": "INVALID_QUANTITY_TOO_HIGH", "field": where + ["quantity"],
                                   "message": "The total quantity can't be higher than 1,000,000,000."})
                elif not input.get("ignoreCompareQuantity") and q.get("compareQuantity") is None:
                    errors.append({"code": "COMPARE_QUANTITY_REQUIRED", "field": where + ["compareQuantity"],
                                   "message": "The compareQuantity argument must be given to each quantity or "
                                              "ignored using ignoreCompareQuantity."})
                elif not input.get("ignoreCompareQuantity") and q["compareQuantity"] != level[name]:
                    errors.append({"code": "COMPARE_QUANTITY_STALE", "field": where + ["compareQuantity"],
                                   "message": "The compareQuantity value does not match persisted value."})
                else:
                    planned.append((item, location, q["quantity"]))
            if errors:  # all or nothing, as Shopify answers a request with user errors
                return {"inventoryAdjustmentGroup": None, "userErrors": errors}
            changes = [self.state.set_quantity(item, location, name, quantity) for item, location, quantity in planned]
            group = {"createdAt": now_iso(), "reason": reason, "changes": changes,
                     "referenceDocumentUri": input.get("referenceDocumentUri")}
            self.state.adjustments.append(group)
        return {"inventoryAdjustmentGroup": group, "userErrors": []}


class CostBucket:
    """A leaky bucket of query-cost points per app and store: it refills at `restore_rate` a second."""

    def __init__(self, maximum: float = 2000.0, restore_rate: float = 100.0) -> None:
        self.lock = threading.Lock()
        self.maximum, self.restore_rate = maximum, restore_rate
        self.available, self.at = maximum, time.monotonic()

    def configure(self, maximum: float, restore_rate: float) -> None:
        with self.lock:
            self.maximum, self.restore_rate = maximum, restore_rate
            self.available, self.at = maximum, time.monotonic()

    def take(self, cost: int) -> tuple[bool, dict[str, float]]:
        with self.lock:
            now = time.monotonic()
            self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
            self.at = now
            ok = self.available >= cost
            if ok:
                self.available -= cost
            return ok, {"maximumAvailable": self.maximum, "currentlyAvailable": int(self.available),
                        "restoreRate": self.restore_rate}


def requested_cost(query: str) -> tuple[int, str]:
    """(the simplified requested cost, the operation's first field name) of a GraphQL document."""
    document = parse(query)
    cost, name = 0, ""
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            name = name or selection.name.value
            if definition.operation.value == "mutation":
                cost += MUTATION_COST
            else:
                first = next((int(a.value.value) for a in selection.arguments
                              if a.name.value == "first" and hasattr(a.value, "value")), 0)
                cost += 1 + first
    return max(cost, 1), name


def execute(resolvers: Resolvers, bucket: CostBucket, body: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL request: throttle, then run it; answers Shopify's JSON shape (always HTTP 200)."""
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return {"errors": [{"message": "Parameter Missing or Invalid", "extensions": {"code": "BAD_REQUEST"}}]}
    try:
        cost, _ = requested_cost(query)
    except GraphQLError as exc:
        return {"errors": [{"message": exc.message, "extensions": {"code": "PARSE_ERROR"}}]}
    ok, status = bucket.take(cost)
    if not ok:
        return {"errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None, "throttleStatus": status}}}
    result = graphql_sync(SCHEMA, query, root_value=resolvers, variable_values=body.get("variables") or {},
                          operation_name=body.get("operationName"))
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [{"message": e.message, "locations": [{"line": l.line, "column": l.column}
                                                                   for l in (e.locations or [])]}
                            for e in result.errors]
    if result.data is not None:
        answer["data"] = result.data
    answer["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": status}}
    return answer


def money_decimal(value: str) -> Decimal:
    return Decimal(value)
