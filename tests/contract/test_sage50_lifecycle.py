"""The Sage 50 connector's lifecycle refusals carry the field, and the status field is configurable."""
from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import ValidationError
from schemas.domain import CreditMemo, OrderLine, Payment, Refund, Reversal
from tests.contract.erps import sage50
from tests.contract.test_erp_contract import _customer, _order, _ref

DAY = date(2026, 11, 20)


@pytest.fixture
def erp():
    with sage50() as under_test:
        yield under_test


def _paid(erp, amount: str):
    cid = erp.connector.upsert_customer(_customer(_ref("C")))
    invoice = erp.connector.ensure_invoice(_order(erp, cid, _ref("I"), amount))
    payment = erp.connector.ensure_payment(Payment(_ref("R"), cid, DAY, Decimal(amount), invoice.key,
                                                   erp.cash_account, "Card"))
    return cid, invoice, payment


def test_refusals_name_the_field_and_write_nothing(erp) -> None:
    cid, invoice, payment = _paid(erp, "50.00")
    too_much = CreditMemo(_ref("M"), cid, DAY, invoice.key, (OrderLine(erp.item, Decimal("1"), Decimal("50.01")),))
    with pytest.raises(ValidationError) as err:
        erp.connector.ensure_credit_memo(too_much)
    assert err.value.field == "Amount" and erp.connector.find("credit_memo", too_much.reference) == []
    memo = erp.connector.ensure_credit_memo(
        CreditMemo(_ref("M"), cid, DAY, invoice.key, (OrderLine(erp.item, Decimal("1"), Decimal("20.00")),)))
    with pytest.raises(ValidationError) as err:
        erp.connector.ensure_refund(Refund(_ref("F"), cid, DAY, Decimal("20.01"), memo.key, erp.cash_account, "Card"))
    assert err.value.field == "Amount"
    with pytest.raises(ValidationError) as err:
        erp.connector.ensure_reversal(Reversal(_ref("V"), cid, DAY, Decimal("49.00"), payment.key))
    assert err.value.field == "Amount"
    [doc] = erp.connector.find("invoice", invoice.reference)
    assert doc.amount_due == Decimal("0.00")


def test_a_second_void_of_one_receipt_under_another_reference_is_refused(erp) -> None:
    cid, invoice, payment = _paid(erp, "10.00")
    erp.connector.ensure_reversal(Reversal(_ref("V"), cid, DAY, Decimal("10.00"), payment.key))
    with pytest.raises(ValidationError) as err:
        erp.connector.ensure_reversal(Reversal(_ref("V"), cid, DAY, Decimal("10.00"), payment.key))
    assert err.value.field == "ReceiptKey"
    assert erp.connector.find("invoice", invoice.reference)[0].amount_due == Decimal("10.00")


def test_status_lives_in_the_configured_note_field(erp) -> None:
    cid, invoice, _ = _paid(erp, "5.00")
    assert erp.connector.status_of("invoice", invoice.key) == ""
    erp.connector.config = dataclasses.replace(erp.connector.config, status_field="StatementNote")
    erp.connector.set_status("invoice", invoice.key, "Open")
    assert erp.connector.status_of("invoice", invoice.key) == "Open"
    erp.connector.config = dataclasses.replace(erp.connector.config, status_field="InternalNote")
    assert erp.connector.status_of("invoice", invoice.key) == ""
    with pytest.raises(ValidationError) as err:
        erp.connector.set_status("invoice", invoice.key, "x" * 21)
    assert err.value.field == "status"
