"""Sale -> ERP documents: references fit Sage 50, journals balance, customers are stable."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, strategies as st

from flows import transform
from schemas.domain import Address, GatewayTransaction

RULES = transform.PostingRules("1200", "1205", "PAYMENT", "Credit Card")


def txn(transaction_id=125391271, amount=Decimal("51.88"), customer_id="", name="Ada", email="ada@example.com"):
    return GatewayTransaction(transaction_id, "SALE", amount, "Y", "Pending Settlement",
                              datetime(2026, 11, 21, 7, 30, tzinfo=timezone.utc), None, "401200xxxxxx5439", "VISA",
                              "INV-1", "PO-1", "", customer_id, email, Decimal("0"),
                              Address(name, "1 Main", "", "Spokane", "WA", "99201", "US"), "TAS123")


@given(st.integers(1, 9_999_999_999), st.decimals(min_value="0.01", max_value="99999999.99", places=2))
def test_references_fit_twenty_characters_and_journals_balance(tid, amount):
    t = txn(tid, amount)
    for step in transform.STEP_CODES:
        assert len(transform.reference(tid, step)) <= 20
    entry = transform.journal_for(t, RULES)
    assert entry.is_balanced and sum(l.amount for l in entry.lines if l.amount > 0) == amount


def test_customer_ids_are_stable_short_and_prefer_the_vault_id():
    assert transform.customer_id_for(txn(customer_id="cust42")) == "PT-cust42"
    long_vault = transform.customer_id_for(txn(customer_id="x" * 40))
    assert len(long_vault) <= 20 and long_vault == transform.customer_id_for(txn(customer_id="x" * 40))
    a, b = transform.customer_id_for(txn(name="Ada")), transform.customer_id_for(txn(name=" ada "))
    assert a == b and len(a) <= 20 and a != transform.customer_id_for(txn(name="Grace"))


def test_documents_are_dated_in_the_merchant_zone():
    # 07:30 UTC on the 21st is still the 20th in Los Angeles
    order = transform.sales_order_for(txn(), "C1", RULES)
    assert str(order.date) == "2026-11-20"
