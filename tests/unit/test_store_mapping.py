"""The mapping's store section: validated with the rest; the join rule reads order numbers strictly."""
from __future__ import annotations

import pytest

from config.mapping import DEFAULT_MAPPINGS_DIR, MappingError, parse_mapping_text
from schemas.store_mapping import JoinRule


def _with_store(section: str, **replace: str) -> str:
    text = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    text = text[:text.index("\nstore:")] + "\n" + section
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def test_given_the_shipped_files_then_each_has_a_valid_store_section():
    for erp in ("sage50", "sage_x3", "sage_pro"):
        m = parse_mapping_text((DEFAULT_MAPPINGS_DIR / f"paytrace-{erp}.yaml").read_text())
        assert m.store.tax_item == "SALESTAX" and m.store.statuses["paid"].mark_paid


def test_given_a_fallback_rule_without_an_item_then_the_file_is_refused_with_the_path():
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(_with_store("store:\n  unknown_sku: fallback\n  tax_item: T\n  shipping_item: F\n"))
    assert any("store.fallback_item" in e for e in caught.value.errors)


def test_given_a_store_and_another_unmatched_policy_then_the_file_is_valid():
    text = _with_store("store:\n  tax_item: T\n  shipping_item: F\n", **{"unmatched: create": "unmatched: review"})
    assert parse_mapping_text(text).policies.unmatched == "review"


def test_given_unknown_keys_and_bad_statuses_then_every_mistake_is_listed():
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(_with_store("store:\n  tax_item: T\n  shipping_item: F\n  skuz: {}\n"
                                       "  statuses: {refunded: {mark_paid: true}, shipped: {tag: x}}\n"))
    text = " ".join(caught.value.errors)
    assert "skuz" in text and "shipped" in text and "mark_paid" in text


def test_join_rule_reads_only_what_it_is_told_to():
    rule = JoinRule(prefix="#")
    assert rule.order_number("#1001") == "1001" and rule.order_number(" #a-7 ") == "a-7"
    assert rule.order_number("1001") is None and rule.order_number("INV-7781") is None
    assert JoinRule(prefix="").order_number("1001") == "1001"
    assert JoinRule(prefix="").order_number("INV-1") is None
