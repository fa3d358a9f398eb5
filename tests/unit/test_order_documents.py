"""The pure builder: a store order's ERP lines add up to its total, an unknown SKU says what to change."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from flows.order_documents import TotalMismatch, UnknownSku, sales_lines, stock_lines
from schemas.domain import Address
from schemas.store import StoreLine, StoreOrderData
from schemas.store_mapping import StoreRules

RULES = StoreRules(tax_item="SALESTAX", shipping_item="FREIGHT", skus={"TSHIRT-RED-M": "TSHIRT-M"})
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def order(*lines: StoreLine, tax="0.00", shipping="0.00", total=None) -> StoreOrderData:
    subtotal = sum((l.net for l in lines), Decimal("0.00"))
    total = Decimal(total) if total is not None else subtotal + Decimal(tax) + Decimal(shipping)
    return StoreOrderData("shopify", "1", "1001", "#1001", "paid", "USD", "a@b.c", "Ada", "", Address(), Address(),
                          NOW, NOW, None, lines, Decimal(shipping), Decimal(tax), Decimal("0"), total)


def test_given_a_discount_that_does_not_divide_when_built_then_two_lines_carry_it_to_the_cent():
    lines = sales_lines(order(StoreLine("W", "Widget", Decimal(3), Decimal("25.00"), Decimal("1.00"))), RULES)
    assert [(l.item_id, l.quantity, l.unit_price) for l in lines] == [
        ("W", Decimal(2), Decimal("24.66")), ("W", Decimal(1), Decimal("24.68"))]
    assert sum(l.amount for l in lines) == Decimal("74.00")


def test_given_tax_and_shipping_when_built_then_each_is_a_line_of_its_mapped_item_and_skus_are_mapped():
    lines = sales_lines(order(StoreLine("TSHIRT-RED-M", "Tee", Decimal(1), Decimal("20.00")), tax="1.60",
                              shipping="5.00"), RULES, known={"TSHIRT-M", "SALESTAX", "FREIGHT"})
    assert [(l.item_id, l.unit_price) for l in lines] == [("TSHIRT-M", Decimal("20.00")),
                                                           ("SALESTAX", Decimal("1.60")), ("FREIGHT", Decimal("5.00"))]


def test_given_an_unknown_sku_when_built_then_the_reason_names_it_and_what_to_change():
    with pytest.raises(UnknownSku) as caught:
        sales_lines(order(StoreLine("NOPE", "?", Decimal(1), Decimal("5.00"))), RULES, known={"W"}, erp_name="Sage 50")
    text = str(caught.value)
    assert "SKU 'NOPE'" in text and "#1001 line 1" in text and "store.skus" in text and "fallback" in text


def test_given_a_fallback_item_when_a_sku_is_unknown_then_it_is_used_and_reserves_no_stock():
    rules = StoreRules(tax_item="T", shipping_item="F", unknown_sku="fallback", fallback_item="MISC")
    o = order(StoreLine("NOPE", "?", Decimal(2), Decimal("5.00")), StoreLine("W", "w", Decimal(1), Decimal("1.00")))
    assert [l.item_id for l in sales_lines(o, rules, known={"MISC", "W"})] == ["MISC", "W"]
    assert [(s.item_id, s.quantity) for s in stock_lines(o, rules, known={"W"})] == [("W", Decimal(1))]


def test_given_a_total_that_is_not_the_lines_when_built_then_it_is_refused():
    with pytest.raises(TotalMismatch):
        sales_lines(order(StoreLine("W", "w", Decimal(1), Decimal("5.00")), total="6.00"), RULES)


@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 100_000), st.integers(0, 100)), min_size=1, max_size=6),
       st.integers(0, 5000), st.integers(0, 5000))
def test_property_any_order_adds_up_exactly_and_no_price_is_negative(raw, tax, shipping):
    lines = []
    for qty, cents, off in raw:
        price = Decimal(cents) / 100
        discount = (price * qty * Decimal(off) / 100).quantize(Decimal("0.01"))
        lines.append(StoreLine("W", "w", Decimal(qty), price, discount))
    o = order(*lines, tax=str(Decimal(tax) / 100), shipping=str(Decimal(shipping) / 100))
    built = sales_lines(o, RULES)
    assert sum(l.amount for l in built) == o.total_price
    assert all(l.unit_price >= 0 and l.quantity > 0 for l in built)
