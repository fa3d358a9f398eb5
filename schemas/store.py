"""Store orders and refunds: Shopify's webhook JSON and a generic signed format, loaded into one shape.

Shopify's order JSON (shopify.dev, REST Order resource, what order webhooks carry): `id`,
`name` ("#1001"), `order_number`, money as strings (`total_price`, `subtotal_price`,
`total_tax`, `total_discounts`), `line_items` with `sku`, `quantity`, `price`,
`discount_allocations[].amount` and `tax_lines[].price`, `shipping_lines[].price`
(`discounted_price` after discounts), `customer`, `billing_address`, `shipping_address`,
`financial_status`, `cancelled_at`. A refund (refunds/create) names its `order_id` and moves
money in `transactions` (`kind` refund, `status` success). Unknown keys are kept (Shopify adds
fields); what paysync uses must be there and well-formed, or the push is refused with a 400.

The generic format is for other stores (Magento, WooCommerce through a small plugin): a Standard
Webhooks envelope `{"type": "order.created" | "order.paid" | "order.cancelled" | "order.refunded",
"data": {...}}` described in docs/store.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.domain import Address

SHOPIFY_TOPICS = ("orders/create", "orders/paid", "orders/cancelled", "orders/updated", "refunds/create")
GENERIC_TYPES = ("order.created", "order.paid", "order.cancelled", "order.refunded")
_MONEY = dict(places=2, as_string=True, allow_nan=False)
_NUMBER = validate.Regexp(r"^[A-Za-z0-9-]{1,14}$", error="An order number is 1 to 14 letters, digits or dashes.")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class ShopifyMoneyLine(_Open):
    amount = fields.Decimal(load_default=None, allow_none=True, **_MONEY)
    price = fields.Decimal(load_default=None, allow_none=True, **_MONEY)


class ShopifyLineItem(_Open):
    sku = fields.Str(load_default="", allow_none=True, validate=validate.Length(max=64))
    title = fields.Str(load_default="", allow_none=True, validate=validate.Length(max=255))
    quantity = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    price = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)
    discount_allocations = fields.List(fields.Nested(ShopifyMoneyLine), load_default=list)
    tax_lines = fields.List(fields.Nested(ShopifyMoneyLine), load_default=list)


class ShopifyShippingLine(_Open):
    price = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)
    discounted_price = fields.Decimal(load_default=None, allow_none=True, **_MONEY)


class ShopifyAddress(_Open):
    name = fields.Str(load_default="", allow_none=True)
    first_name = fields.Str(load_default="", allow_none=True)
    last_name = fields.Str(load_default="", allow_none=True)
    address1 = fields.Str(load_default="", allow_none=True)
    address2 = fields.Str(load_default="", allow_none=True)
    city = fields.Str(load_default="", allow_none=True)
    province = fields.Str(load_default="", allow_none=True)
    province_code = fields.Str(load_default="", allow_none=True)
    country = fields.Str(load_default="", allow_none=True)
    country_code = fields.Str(load_default="", allow_none=True)
    zip = fields.Str(load_default="", allow_none=True)
    phone = fields.Str(load_default="", allow_none=True)


class ShopifyCustomer(_Open):
    first_name = fields.Str(load_default="", allow_none=True)
    last_name = fields.Str(load_default="", allow_none=True)
    email = fields.Str(load_default="", allow_none=True)
    phone = fields.Str(load_default="", allow_none=True)


class ShopifyOrderSchema(_Open):
    """An order as Shopify's order webhooks send it."""

    id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    order_number = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=10**13))
    email = fields.Str(load_default="", allow_none=True, validate=validate.Length(max=200))
    currency = fields.Str(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    cancelled_at = fields.AwareDateTime(load_default=None, allow_none=True)
    financial_status = fields.Str(load_default="", allow_none=True)
    taxes_included = fields.Bool(load_default=False)
    subtotal_price = fields.Decimal(required=True, **_MONEY)
    total_price = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)
    total_tax = fields.Decimal(load_default=Decimal("0.00"), **_MONEY)
    total_discounts = fields.Decimal(load_default=Decimal("0.00"), **_MONEY)
    line_items = fields.List(fields.Nested(ShopifyLineItem), required=True, validate=validate.Length(min=1, max=500))
    shipping_lines = fields.List(fields.Nested(ShopifyShippingLine), load_default=list)
    customer = fields.Nested(ShopifyCustomer, load_default=None, allow_none=True)
    billing_address = fields.Nested(ShopifyAddress, load_default=None, allow_none=True)
    shipping_address = fields.Nested(ShopifyAddress, load_default=None, allow_none=True)

    @validates_schema
    def _taxes_excluded(self, data, **kwargs):
        if data.get("taxes_included"):
            # Prices that include tax would need the tax taken out of every line [I: not modelled].
            raise ValidationError("orders with taxes included in prices are not supported yet", "taxes_included")


class ShopifyTransaction(_Open):
    kind = fields.Str(required=True)
    status = fields.Str(load_default="success", allow_none=True)
    amount = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)


class ShopifyRefundSchema(_Open):
    """A refund as refunds/create sends it; only successful refund transactions moved money."""

    id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1))
    order_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1))
    created_at = fields.AwareDateTime(required=True)
    transactions = fields.List(fields.Nested(ShopifyTransaction), load_default=list)


# -- the generic format ---------------------------------------------------------------------------
class GenericAddress(_Open):
    name = fields.Str(load_default="")
    line1 = fields.Str(load_default="")
    line2 = fields.Str(load_default="")
    city = fields.Str(load_default="")
    state = fields.Str(load_default="")
    postal_code = fields.Str(load_default="")
    country = fields.Str(load_default="")


class GenericLine(_Open):
    sku = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    title = fields.Str(load_default="", validate=validate.Length(max=255))
    quantity = fields.Decimal(required=True, places=3, as_string=True, validate=validate.Range(min=0.001))
    unit_price = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)
    discount = fields.Decimal(load_default=Decimal("0.00"), validate=validate.Range(min=0), **_MONEY)
    tax = fields.Decimal(load_default=Decimal("0.00"), validate=validate.Range(min=0), **_MONEY)


class GenericOrderSchema(_Open):
    store = fields.Str(load_default="store", validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,30}$"))
    order_id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    number = fields.Str(required=True, validate=_NUMBER)
    currency = fields.Str(load_default="USD", validate=validate.Regexp(r"^[A-Z]{3}$"))
    placed_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    email = fields.Str(load_default="", validate=validate.Length(max=200))
    phone = fields.Str(load_default="", validate=validate.Length(max=40))
    billing = fields.Nested(GenericAddress, load_default=dict)
    shipping = fields.Nested(GenericAddress, load_default=dict)
    lines = fields.List(fields.Nested(GenericLine), required=True, validate=validate.Length(min=1, max=500))
    shipping_total = fields.Decimal(load_default=Decimal("0.00"), validate=validate.Range(min=0), **_MONEY)
    total = fields.Decimal(required=True, validate=validate.Range(min=0), **_MONEY)
    cancelled_at = fields.AwareDateTime(load_default=None, allow_none=True)
    refund = fields.Dict(load_default=None, allow_none=True)


class GenericEventSchema(Schema):
    """`{"type": "order.created", "data": {...}}`, signed like the payment hints (Standard Webhooks)."""

    type = fields.Str(required=True, validate=validate.OneOf(GENERIC_TYPES))
    data = fields.Nested(GenericOrderSchema, required=True)

    @validates_schema
    def _refund(self, data, **kwargs):
        refund = (data.get("data") or {}).get("refund")
        if data.get("type") == "order.refunded":
            try:
                RefundPart().load(refund or {})
            except ValidationError as exc:
                raise ValidationError({"data": {"refund": exc.messages}}) from None


class RefundPart(Schema):
    id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    amount = fields.Decimal(required=True, validate=validate.Range(min=0.01), **_MONEY)


# -- one shape for both -------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreLine:
    """One line as bought: quantity at unit price, less its discount, plus its tax."""

    sku: str
    title: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return (self.quantity * self.unit_price - self.discount).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class StoreOrderData:
    """A store order as paysync keeps it, whichever store sent it."""

    store: str
    store_order_id: str
    order_number: str
    name: str
    financial_status: str
    currency: str
    email: str
    customer_name: str
    phone: str
    billing: Address
    shipping: Address
    placed_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    lines: tuple[StoreLine, ...]
    total_shipping: Decimal
    total_tax: Decimal
    total_discounts: Decimal
    total_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class StoreRefundData:
    """Money a store says it gave back for an order."""

    store: str
    store_refund_id: str
    store_order_id: str
    amount: Decimal
    created_at: datetime


def _text(value) -> str:
    return str(value or "").strip()


def _shopify_address(a: dict | None, fallback_name: str = "") -> Address:
    a = a or {}
    name = _text(a.get("name")) or " ".join(p for p in (_text(a.get("first_name")), _text(a.get("last_name"))) if p)
    return Address(name=name or fallback_name, line1=_text(a.get("address1")), line2=_text(a.get("address2")),
                   city=_text(a.get("city")), state=_text(a.get("province_code")) or _text(a.get("province")),
                   postal_code=_text(a.get("zip")), country=_text(a.get("country_code")) or _text(a.get("country")))


def shopify_order(payload: dict) -> StoreOrderData:
    """A Shopify order webhook body in paysync's shape (raises ValidationError listing every fault)."""
    o = ShopifyOrderSchema().load(payload)
    customer = o["customer"] or {}
    person = " ".join(p for p in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if p)
    billing = _shopify_address(o["billing_address"], person)
    lines = tuple(StoreLine(
        sku=_text(li.get("sku")), title=_text(li.get("title"))[:200], quantity=Decimal(li["quantity"]),
        unit_price=li["price"], discount=sum((d["amount"] or Decimal("0")) for d in li["discount_allocations"]),
        tax=sum((t["price"] or Decimal("0")) for t in li["tax_lines"])) for li in o["line_items"])
    shipping = sum(((s["discounted_price"] if s["discounted_price"] is not None else s["price"])
                    for s in o["shipping_lines"]), Decimal("0.00"))
    return StoreOrderData(
        store="shopify", store_order_id=str(o["id"]), order_number=str(o["order_number"]), name=o["name"],
        financial_status=_text(o["financial_status"]), currency=o["currency"],
        email=_text(o["email"]) or _text(customer.get("email")), customer_name=person or billing.name,
        phone=_text(customer.get("phone")) or _text((o["billing_address"] or {}).get("phone")),
        billing=billing, shipping=_shopify_address(o["shipping_address"]), placed_at=o["created_at"],
        updated_at=o["updated_at"], cancelled_at=o["cancelled_at"], lines=lines, total_shipping=shipping,
        total_tax=o["total_tax"], total_discounts=o["total_discounts"], total_price=o["total_price"])


def shopify_refund(payload: dict) -> StoreRefundData:
    r = ShopifyRefundSchema().load(payload)
    amount = sum((t["amount"] for t in r["transactions"]
                  if t["kind"] == "refund" and (t["status"] or "success") == "success"), Decimal("0.00"))
    return StoreRefundData("shopify", str(r["id"]), str(r["order_id"]), amount, r["created_at"])


def _generic_address(a: dict) -> Address:
    return Address(**{k: _text(a.get(k)) for k in ("name", "line1", "line2", "city", "state", "postal_code",
                                                     "country")})


def generic_order(payload: dict) -> StoreOrderData:
    """The `data` of a generic order event in paysync's shape."""
    d = GenericOrderSchema().load(payload)
    billing = _generic_address(d["billing"])
    lines = tuple(StoreLine(l["sku"].strip(), l["title"][:200], l["quantity"], l["unit_price"], l["discount"],
                            l["tax"]) for l in d["lines"])
    return StoreOrderData(
        store=d["store"], store_order_id=d["order_id"], order_number=d["number"], name=d["number"],
        financial_status="", currency=d["currency"], email=d["email"], customer_name=billing.name, phone=d["phone"],
        billing=billing, shipping=_generic_address(d["shipping"]), placed_at=d["placed_at"],
        updated_at=d["updated_at"], cancelled_at=d["cancelled_at"], lines=lines, total_shipping=d["shipping_total"],
        total_tax=sum((l.tax for l in lines), Decimal("0.00")),
        total_discounts=sum((l.discount for l in lines), Decimal("0.00")), total_price=d["total"])


def generic_refund(payload: dict) -> StoreRefundData:
    d = GenericOrderSchema().load(payload)
    refund = RefundPart().load(d["refund"] or {})
    return StoreRefundData(d["store"], refund["id"], d["order_id"], refund["amount"],
                           d["updated_at"] or datetime.now(timezone.utc))
