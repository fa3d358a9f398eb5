"""The export record of paytrace.md §3 loads into the domain; broken records name every bad field."""
from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import ValidationError

from schemas.paytrace import load_check, load_transaction

REFERENCE_RECORD = {
    "transaction_id": 79388123,
    "credit_card": {"masked_number": "************5454", "expiration_month": 12, "expiration_year": 20},
    "transaction_type": "SALE", "description": "", "amount": 110, "invoice_id": "inv1234",
    "billing_address": {"name": "Kevin", "street_address": "x", "street_address2": "", "city": "Spokane",
                        "state": "WA", "zip": "85284", "country": "US"},
    "receipt_emailed_to": "", "tax_amount": "8.10", "customer_reference_id": "PO123456",
    "approval_code": "VTLMC1", "status_code": "GB571", "status_message": "GB571",
    "created": {"through": "API", "at": "4/10/2015 4:06:30 PM", "by": "sandbox123", "from_ip": "64.106.246.164"},
    "settled": "4/10/2015 8:13:45 PM", "customer_id": "",
}


def test_the_reference_record_loads():
    t = load_transaction(REFERENCE_RECORD)
    assert t.amount == Decimal("110.00") and t.tax_amount == Decimal("8.10")
    assert t.batch_number == 571 and t.created_at.isoformat() == "2015-04-10T23:06:30+00:00"
    assert t.settled_at is not None and t.billing.postal_code == "85284"


def test_float_amounts_become_exact_decimals():
    assert load_transaction({**REFERENCE_RECORD, "amount": 51.88}).amount == Decimal("51.88")


def test_a_broken_record_names_every_bad_field():
    with pytest.raises(ValidationError) as caught:
        load_transaction({"transaction_id": "abc", "amount": "lots", "created": {}})
    assert {"transaction_id", "amount", "created", "transaction_type"} <= set(caught.value.messages)


# -- checks (ACH) [I: the record shape is the sandbox's model, docs/paytrace.md] ----------------
CHECK_RECORD = {
    "check_transaction_id": 100000000, "transaction_type": "SALE", "amount": 25,
    "check": {"masked_account_number": "xxxxxx6789", "routing_number": "325070760"},
    "billing_address": {"name": "Ada", "street_address": "1 Elm", "zip": "99201", "country": "US"},
    "invoice_id": "INV-7", "customer_reference_id": "PO-7", "description": "March", "email": "a@example.com",
    "customer_id": "ach-1", "status_code": "Y", "status_message": "Pending Settlement", "ach_code": "",
    "ach_message": "", "created": {"through": "API", "at": "3/14/2025 11:00:00 AM", "by": "demo", "from_ip": ""},
    "settled": "", "returned": "",
}


def test_a_check_record_loads_as_an_ach_transaction():
    t = load_check(CHECK_RECORD)
    assert (t.payment_type, t.card_brand, t.masked_card) == ("ACH", "ACH", "xxxxxx6789")
    assert (t.transaction_id, t.transaction_type, t.status_code) == (100000000, "SALE", "Y")
    assert t.amount == Decimal("25.00") and t.tax_amount == Decimal("0.00") and t.approval_code == ""
    assert (t.invoice_id, t.customer_id, t.email, t.billing.postal_code) == ("INV-7", "ach-1", "a@example.com",
                                                                             "99201")
    assert t.created_at.isoformat() == "2025-03-14T18:00:00+00:00" and t.settled_at is None


@pytest.mark.parametrize("kind, status, expected", [
    ("SALE", "Y", ("SALE", "Y")),
    ("SALE", "S", ("SALE", "SETTLED")),
    ("SALE", "Settled", ("SALE", "SETTLED")),
    ("SALE", "GB12", ("SALE", "GB12")),
    ("SALE", "R", ("SALE", "RETURNED")),
    ("SALE", "X", ("DECLINED", "N")),
    ("HOLD", "X", ("DECLINED", "N")),
    ("HOLD", "H", ("AUTHORIZATION", "N")),
    ("HOLD", "Y", ("AUTHORIZATION", "Y")),
    ("REFUND", "Y", ("REFUND", "Y")),
    ("VOID", "V", ("VOID", "N")),
    ("DECLINED", "X", ("DECLINED", "N")),
])
def test_check_types_and_statuses_map_onto_the_card_vocabulary(kind, status, expected):
    t = load_check({**CHECK_RECORD, "transaction_type": kind, "status_code": status})
    assert (t.transaction_type, t.status_code) == expected


def test_an_ach_reason_joins_the_status_message_and_the_account_is_cut_to_four_digits():
    t = load_check({**CHECK_RECORD, "status_code": "R", "status_message": "Returned", "ach_code": "R01",
                    "ach_message": "Insufficient Funds",
                    "check": {"masked_account_number": "000123456789", "account_number": "000123456789"}})
    assert t.status_message == "Returned (R01 Insufficient Funds)" and t.masked_card == "xxxxxx6789"


def test_a_broken_check_record_names_every_bad_field():
    with pytest.raises(ValidationError) as caught:
        load_check({"check_transaction_id": "abc", "transaction_type": "CHARGEBACK", "status_code": "Q",
                    "amount": "lots", "created": {}})
    assert {"check_transaction_id", "transaction_type", "status_code", "amount", "created"} <= set(
        caught.value.messages)
