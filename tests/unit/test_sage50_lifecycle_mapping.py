"""Unit tests of the Sage 50 lifecycle mapping: domain documents -> bridge bodies, statuses."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from config.settings import Secret
from connectors.errors import ValidationError
from connectors.sage50 import Sage50Config, mapping
from schemas.domain import CreditMemo, OrderLine, Refund, Reversal

DAY = date(2026, 11, 20)


def test_credit_memo_body_applies_to_the_invoice_with_string_money() -> None:
    memo = CreditMemo("CM-1", "C1", DAY, "inv-key", (OrderLine("PAYMENT", Decimal("2"), Decimal("15")),))
    body = mapping.credit_memo_body(memo)
    assert body == {"CustomerID": "C1", "ReferenceNumber": "CM-1", "Date": "2026-11-20",
                    "ApplyToInvoiceKey": "inv-key",
                    "Lines": [{"ItemID": "PAYMENT", "Quantity": "2", "UnitPrice": "15.00", "Description": ""}]}


def test_refund_and_reversal_bodies() -> None:
    refund = Refund("RF-1", "C1", DAY, Decimal("30"), "memo-key", "1200", "Card")
    assert mapping.refund_body(refund) == {"CustomerID": "C1", "ReferenceNumber": "RF-1", "Date": "2026-11-20",
                                           "AccountReference": "1200", "PaymentMethod": "Card",
                                           "CreditMemoKey": "memo-key", "Amount": "30.00"}
    reversal = Reversal("V-1", "C1", DAY, Decimal("75.5"), "receipt-key")
    assert mapping.reversal_body(reversal) == {"ReceiptKey": "receipt-key", "ReferenceNumber": "V-1",
                                               "Date": "2026-11-20", "CustomerID": "C1", "Amount": "75.50"}


def test_lifecycle_documents_read_back_with_decimal_amounts() -> None:
    doc = mapping.document("credit_memo", {"Key": "k", "ReferenceNumber": "CM-1", "Amount": "30.00",
                                           "AmountDue": "30.00", "CustomerID": "C1"})
    assert (doc.kind, doc.amount, doc.amount_due, doc.customer_id) == ("credit_memo", Decimal("30.00"),
                                                                        Decimal("30.00"), "C1")
    assert mapping.document("reversal", {"Key": "v", "ReferenceNumber": "V", "Amount": "1.00"}).amount \
        == Decimal("1.00")


def test_status_goes_to_the_configured_note_field() -> None:
    assert mapping.status_body("Payment Failed", "InternalNote") == {"InternalNote": "Payment Failed"}
    assert mapping.status_body("Open", "StatementNote") == {"StatementNote": "Open"}
    assert mapping.status_from({"InternalNote": "Disputed"}, "InternalNote") == "Disputed"
    assert mapping.status_from({"InternalNote": None}, "InternalNote") == ""
    assert mapping.status_collection("invoice") == "invoices"
    assert mapping.status_collection("sales_order") == "sales_orders"


@pytest.mark.parametrize("status", ["", "   ", "x" * 21])
def test_a_status_outside_1_to_20_characters_is_refused(status: str) -> None:
    with pytest.raises(ValidationError) as err:
        mapping.status_body(status, "InternalNote")
    assert err.value.field == "status"


def test_only_orders_and_invoices_carry_a_status() -> None:
    with pytest.raises(ValidationError) as err:
        mapping.status_collection("payment")
    assert err.value.field == "kind"


def test_status_field_defaults_to_internal_note() -> None:
    config = Sage50Config(base_url="http://x", api_key=Secret("k"))
    assert (config.status_field, config.status_max_length) == ("InternalNote", 20)
