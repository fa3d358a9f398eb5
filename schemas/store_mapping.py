"""The `store:` section of a mapping file: how an online store's orders become ERP orders (docs/mapping.md).

    store:
      skus: {TSHIRT-RED-M: TSHIRT-M}     # store SKU -> ERP item; a SKU not listed is its own item
      unknown_sku: error                 # or fallback (then fallback_item is the item used)
      fallback_item: MISC
      tax_item: SALESTAX                 # the line that carries the order's tax
      shipping_item: FREIGHT             # the line that carries its shipping
      statuses:                          # what the store is told, per event (leave one out: nothing)
        paid: {mark_paid: true, tag: paid-in-erp}
        failed: {tag: payment-failed}
        refunded: {tag: refunded}
        cancelled: {tag: payment-voided}  # or {cancel: true}
      join: {field: invoice_id, prefix: "#", window_minutes: 30, recheck_seconds: 15}
      stock: {push: true, reason: correction}
"""
from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from types import MappingProxyType

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

STORE_STATUSES = ("paid", "failed", "refunded", "cancelled")
JOIN_FIELDS = ("invoice_id", "customer_reference_id", "description")
#: Shopify's inventorySetQuantities reasons paysync may give (the ERP is the source of truth).
STOCK_REASONS = ("correction", "cycle_count_available", "received", "restock", "other")
_ITEM = validate.Regexp(r"^[A-Za-z0-9._/#-]{1,20}$", error="An ERP item is 1 to 20 letters, digits or . _ / # -.")
_TAG = validate.Regexp(r"^[^,]{1,40}$", error="A tag is 1 to 40 characters, no comma.")


@dataclass(frozen=True)
class StatusAction:
    """What the store is told for one event: mark the order paid, cancel it, and/or add a tag."""

    mark_paid: bool = False
    cancel: bool = False
    tag: str = ""

    def describe(self) -> str:
        parts = (["mark paid"] if self.mark_paid else []) + (["cancel"] if self.cancel else []) + \
                ([f"tag {self.tag!r}"] if self.tag else [])
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class JoinRule:
    """Which PayTrace field names the store order a payment pays, and how long either side waits."""

    field: str = "invoice_id"
    prefix: str = ""
    window_minutes: int = 30
    recheck_seconds: int = 15

    def order_number(self, value: str) -> str | None:
        """The order number a transaction's field names, or None when it names none.

        With a prefix the value must start with it (any case) and go on with letters, digits or
        dashes; without one it must be all digits (Shopify's order_number). Anything else is a
        payment of no store order, posted as it always was.
        """
        text = (value or "").strip()
        if self.prefix:
            if not text.upper().startswith(self.prefix.upper()):
                return None
            rest = text[len(self.prefix):].strip()
            ok = all(c.isalnum() or c == "-" for c in rest)
        else:
            rest = text
            ok = rest.isdigit()
        return rest if ok and 0 < len(rest) <= 14 else None


@dataclass(frozen=True)
class StoreRules:
    """The `store:` section, loaded."""

    tax_item: str
    shipping_item: str
    skus: AbcMapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    unknown_sku: str = "error"
    fallback_item: str = ""
    statuses: AbcMapping[str, StatusAction] = field(default_factory=lambda: MappingProxyType({}))
    join: JoinRule = JoinRule()
    push_stock: bool = True
    stock_reason: str = "correction"

    def item_for(self, sku: str) -> str:
        return self.skus.get(sku, sku)


class _Part(Schema):
    """Unknown keys are refused, as everywhere in a mapping file."""


class StatusActionSchema(_Part):
    mark_paid = fields.Boolean(load_default=False)
    cancel = fields.Boolean(load_default=False)
    tag = fields.String(load_default="", validate=_TAG)

    @post_load
    def _build(self, data, **kwargs):
        return StatusAction(**data)


class JoinSchema(_Part):
    field = fields.String(load_default="invoice_id", validate=validate.OneOf(JOIN_FIELDS))
    prefix = fields.String(load_default="", validate=validate.Length(max=10))
    window_minutes = fields.Integer(load_default=30, validate=validate.Range(min=1, max=7 * 24 * 60))
    recheck_seconds = fields.Integer(load_default=15, validate=validate.Range(min=1, max=3600))

    @post_load
    def _build(self, data, **kwargs):
        return JoinRule(**data)


class StockSchema(_Part):
    push = fields.Boolean(load_default=True)
    reason = fields.String(load_default="correction", validate=validate.OneOf(STOCK_REASONS))


class StoreSchema(_Part):
    skus = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                       values=fields.String(validate=_ITEM), load_default=dict)
    unknown_sku = fields.String(load_default="error", validate=validate.OneOf(("error", "fallback")))
    fallback_item = fields.String(load_default="", validate=validate.Regexp(r"^([A-Za-z0-9._/#-]{1,20})?$"))
    tax_item = fields.String(required=True, validate=_ITEM)
    shipping_item = fields.String(required=True, validate=_ITEM)
    statuses = fields.Dict(keys=fields.String(validate=validate.OneOf(STORE_STATUSES)),
                           values=fields.Nested(StatusActionSchema), load_default=dict)
    join = fields.Nested(JoinSchema, load_default=lambda: JoinRule())
    stock = fields.Nested(StockSchema, load_default=lambda: {"push": True, "reason": "correction"})

    @validates_schema(skip_on_field_errors=False)
    def _rules(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if data.get("unknown_sku") == "fallback" and not data.get("fallback_item"):
            errors["fallback_item"] = ["unknown_sku: fallback needs the item to fall back to."]
        statuses = data.get("statuses") if isinstance(data.get("statuses"), dict) else {}
        for name, action in statuses.items():
            if isinstance(action, StatusAction):
                if action.mark_paid and name != "paid":
                    errors.setdefault(f"statuses.{name}.mark_paid", []).append("Only paid can mark an order paid.")
                if action.cancel and name not in ("cancelled", "failed"):
                    errors.setdefault(f"statuses.{name}.cancel", []).append(
                        "Only cancelled or failed can cancel the store's order.")
        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data, **kwargs):
        stock = data["stock"]
        return StoreRules(tax_item=data["tax_item"], shipping_item=data["shipping_item"],
                          skus=MappingProxyType(dict(data["skus"])), unknown_sku=data["unknown_sku"],
                          fallback_item=data["fallback_item"], statuses=MappingProxyType(dict(data["statuses"])),
                          join=data["join"], push_stock=stock["push"], stock_reason=stock["reason"])
