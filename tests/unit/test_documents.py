"""The document builder (flows/documents.py): the one place that decides accounts, references and amounts."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from config.mapping import load_mapping, parse_mapping_text
from flows import documents
from flows.decision import APPLY, DUPLICATE, PARTIAL, UNMATCHED, Decision
from schemas.domain import Address, GatewayTransaction
from schemas.mapping import DEFAULT_CODES

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"
SAGE50 = load_mapping(MAPPINGS / "paytrace-sage50.yaml")


def txn(transaction_id=125391271, amount=Decimal("51.88"), customer_id="", name="Ada", email="ada@example.com",
        masked="401200xxxxxx5439", brand="VISA", payment_type="CARD"):
    return GatewayTransaction(transaction_id, "SALE", amount, "Y", "Pending Settlement",
                              datetime(2026, 11, 21, 7, 30, tzinfo=timezone.utc), None, masked, brand,
                              "INV-1", "PO-1", "", customer_id, email, Decimal("0"),
                              Address(name, "1 Main", "", "Spokane", "WA", "99201", "US"), "TAS123",
                              payment_type=payment_type)


def with_rules(extra: str):
    """The shipped Sage 50 mapping with some rules changed (a later key of the same section wins here)."""
    text = (MAPPINGS / "paytrace-sage50.yaml").read_text()
    for old, new in extra:
        assert old in text, old
        text = text.replace(old, new)
    return parse_mapping_text(text)


@given(st.integers(1, 9_999_999_999), st.decimals(min_value="0.01", max_value="99999999.99", places=2))
def test_references_fit_twenty_characters_and_journals_balance(tid, amount):
    t = txn(tid, amount)
    for step in DEFAULT_CODES:
        assert len(documents.reference(SAGE50, tid, step)) <= 20
        assert len(documents.reference(SAGE50, tid, step, "ACH")) <= 20
    entry = documents.sale(SAGE50, t, documents.Held()).journal
    assert entry.is_balanced and sum(l.amount for l in entry.lines if l.amount > 0) == amount


def test_card_and_check_references_differ_and_are_recognised_as_ours():
    assert documents.reference(SAGE50, 123, "invoice") == "PT123-INV"
    assert documents.reference(SAGE50, 123, "invoice", "ACH") == "PTA123-INV"
    assert documents.is_ours(SAGE50, "PT123-INV") and documents.is_ours(SAGE50, "pta9-rcp")
    assert not documents.is_ours(SAGE50, "INV-1001") and not documents.is_ours(SAGE50, "PT123-XYZ")
    assert documents.transaction_of(SAGE50, "PT123-RCP", "payment") == 123
    assert documents.transaction_of(SAGE50, "PTA123-RCP", "payment") is None  # a check's, not a card's
    assert documents.transaction_of(SAGE50, "PTA123-RCP", "payment", "ACH") == 123


def test_the_mappings_pattern_and_codes_are_what_every_document_carries():
    m = with_rules([('pattern: "PT{transaction_id}-{code}"', 'pattern: "SALE{transaction_id}/{code}"'),
                    ("    invoice: INV\n", "    invoice: IV\n"), ("    payment: RCP ", "    payment: RC ")])
    docs = documents.sale(m, txn(tid := 77), documents.Held(customer="C1", sales_order="SO-KEY", invoice="IV-KEY"))
    assert (docs.sales_order.reference, docs.invoice.reference, docs.receipt.reference, docs.journal.reference) == \
        (f"SALE{tid}/SO", f"SALE{tid}/IV", f"SALE{tid}/RC", f"SALE{tid}/JE")
    assert docs.invoice.order_ref == "SO-KEY" and docs.receipt.invoice_ref == "IV-KEY"
    assert documents.is_ours(m, f"SALE{tid}/IV") and not documents.is_ours(m, f"PT{tid}-INV")


def test_by_brand_clearing_and_ach_accounts_and_methods_are_applied():
    m = with_rules([('  clearing: "1205"    #', '  clearing: {default: "1205", by_brand: {AMEX: "1215", ACH: "1250"}}  #')])
    amex = documents.sale(m, txn(masked="371449xxxxx8431", brand="AMEX"), documents.Held())
    assert [l.account for l in amex.journal.lines] == ["1215", "1200"]
    visa = documents.sale(m, txn(), documents.Held())
    assert [l.account for l in visa.journal.lines] == ["1205", "1200"]
    check = documents.sale(m, txn(masked="xxxxxx6789", brand="ACH", payment_type="ACH"), documents.Held())
    assert [l.account for l in check.journal.lines] == ["1250", "1200"]
    assert check.receipt.method == "ACH" and check.receipt.reference == "PTA125391271-RCP"
    assert visa.receipt.method == "Credit Card"


def test_customer_ids_are_stable_short_and_prefer_the_vault_id():
    assert documents.customer_id_for(txn(customer_id="cust42")) == "PT-cust42"
    long_vault = documents.customer_id_for(txn(customer_id="x" * 40))
    assert len(long_vault) <= 20 and long_vault == documents.customer_id_for(txn(customer_id="x" * 40))
    a, b = documents.customer_id_for(txn(name="Ada")), documents.customer_id_for(txn(name=" ada "))
    assert a == b and len(a) <= 20 and a != documents.customer_id_for(txn(name="Grace"))


def test_documents_are_dated_in_the_merchant_zone_and_addresses_normalized():
    # 07:30 UTC on the 21st is still the 20th in Los Angeles
    docs = documents.sale(SAGE50, replace(txn(), billing=Address("Ada", "1 Main", "", "Spokane", "Washington",
                                                                  "99201", "United States")), documents.Held())
    assert str(docs.sales_order.date) == "2026-11-20" and str(docs.journal.date) == "2026-11-20"
    assert (docs.customer.address.state, docs.customer.address.country) == ("WA", "US")


@pytest.mark.parametrize("decision, receipt, on_account", [
    (Decision(APPLY, "K1", Decimal("51.88"), "invoice_id", "CUST9", "INV-1"), Decimal("51.88"), None),
    (Decision(PARTIAL, "K1", Decimal("40.00"), "invoice_id", "CUST9", "INV-1"), Decimal("40.00"), Decimal("11.88")),
    (Decision(DUPLICATE, "K1", Decimal("0.00"), "invoice_id", "CUST9", "INV-1"), None, Decimal("51.88")),
])
def test_a_payment_for_an_erp_invoice_is_its_customers_receipt_never_above_what_is_due(decision, receipt,
                                                                                       on_account):
    docs = documents.sale(SAGE50, txn(), documents.Held(customer="CUST9"), decision)
    assert docs.sales_order is None and docs.invoice is None and docs.customer is None
    assert (docs.receipt.amount if docs.receipt else None) == receipt
    assert (docs.on_account.amount if docs.on_account else None) == on_account
    if docs.receipt:
        assert (docs.receipt.invoice_ref, docs.receipt.customer_id) == ("K1", "CUST9")
    if docs.on_account:
        assert docs.on_account.invoice_ref is None and docs.on_account.reference == "PT125391271-OA"
    assert docs.journal.lines[0].amount == Decimal("51.88")  # clearing takes what PayTrace settles


def test_an_unmatched_payment_is_a_sale_of_its_own_or_cash_on_account_as_the_mapping_says():
    own = documents.sale(SAGE50, txn(), documents.Held(), Decision(UNMATCHED))
    assert own.sales_order is not None and own.receipt is not None and own.on_account is None
    on_account = with_rules([("  unmatched: create", "  unmatched: on_account")])
    cash = documents.sale(on_account, txn(), documents.Held(), Decision(UNMATCHED))
    assert cash.sales_order is None and cash.receipt is None and cash.on_account.amount == Decimal("51.88")
    assert Decision(UNMATCHED).parks(with_rules([("  unmatched: create", "  unmatched: review")]), Decimal("1"))


def test_a_refund_credits_the_sales_invoice_or_goes_on_account_when_no_sale_links_it():
    sale, refund = txn(), replace(txn(transaction_id=900), transaction_type="REFUND", amount=Decimal("10.00"))
    linked = documents.refund(SAGE50, refund, sale, documents.Held(customer="C1", invoice="INVK", credit_memo="CMK"))
    assert (linked.credit_memo.invoice_ref, linked.credit_memo.amount, linked.refund.credit_memo_ref) == \
        ("INVK", Decimal("10.00"), "CMK")
    assert [(l.account, l.amount) for l in linked.journal.lines] == [("1200", Decimal("10.00")),
                                                                       ("1205", Decimal("-10.00"))]
    loose = documents.refund(SAGE50, refund, None, documents.Held(customer="C1"))
    assert loose.credit_memo.invoice_ref is None and "on account" in loose.journal.description


def test_a_chargeback_debits_the_chargeback_account_and_credits_the_sales_clearing():
    entry = documents.chargeback(SAGE50, txn(), "CB-1", "fraud", Decimal("20.00"), None)
    assert [(l.account, l.amount) for l in entry.lines] == [("6150", Decimal("20.00")), ("1205", Decimal("-20.00"))]
    assert entry.reference == "PT125391271-CB" and entry.is_balanced
