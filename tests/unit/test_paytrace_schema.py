"""The export record of paytrace.md §3 loads into the domain; broken records name every bad field."""
from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import ValidationError

from schemas.paytrace import load_transaction

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
