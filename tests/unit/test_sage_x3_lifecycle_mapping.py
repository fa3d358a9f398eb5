"""Sage X3 lifecycle mapping: credit memos, refunds, reversals, statuses and open amounts (pure functions)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from config.settings import Secret
from connectors.errors import PermanentError, ValidationError
from connectors.sage_x3 import SageX3Config, SageX3Connector, SageX3Layout, answers, mapping
from schemas.domain import CreditMemo, OrderLine, Refund, Reversal

LAYOUT = SageX3Layout()
CFG = SageX3Config("http://x3", "admin", Secret("pw"))
DAY = date(2026, 11, 20)


def test_a_credit_memo_is_an_invoice_of_the_credit_note_type_naming_its_origin() -> None:
    memo = CreditMemo("PT1-CM", "C1", DAY, "INVNA0112600001", (OrderLine("PAYMENT", Decimal("2"), Decimal("5.5")),))
    obj = mapping.credit_memo_object(memo, CFG)
    assert obj["SIH0_1"] == {"SALFCY": "NA011", "SIVTYP": "CRN", "NUM": "", "INVREF": "PT1-CM", "INVDAT": "20261120",
                             "BPCINV": "C1", "SIHORINUM": "INVNA0112600001"}
    assert obj["SIH2_1"] == {"CUR": "USD"}
    assert obj["SIH4_1"] == [{"ITMREF": "PAYMENT", "ITMDES1": "", "QTY": "2", "GROPRI": "5.50"}]


def test_refunds_and_reversals_are_payment_entries_of_their_own_transaction() -> None:
    refund = mapping.refund_object(Refund("PT1-F", "C1", DAY, Decimal("30"), "CRNNA011", "10500", "Card"), CFG)
    assert refund["PAY0_1"]["PAYTYP"] == "RFDCB" and refund["PAY1_2"]["AMTCUR"] == "30.00"
    assert refund["PAY1_2"]["PAM"] == "Card" and refund["PAY1_2"]["REF"] == "PT1-F"
    assert refund["PAY1_4"] == [{"DENCOD": "REC", "VCRTYP": "CRN", "VCRNUM": "CRNNA011", "AMTLIN": "30.00"}]
    reversal = mapping.reversal_object(Reversal("PT1-V", "C1", DAY, Decimal("75.00"), "PAYNA011"), CFG)
    assert reversal["PAY0_1"]["PAYTYP"] == "RVSCB" and "PAM" not in reversal["PAY1_2"]
    assert reversal["PAY1_4"] == [{"DENCOD": "REC", "VCRTYP": "PAY", "VCRNUM": "PAYNA011", "AMTLIN": "75.00"}]


def test_a_credit_is_told_by_its_category_where_the_resource_shows_one() -> None:
    # INVTYP 2 (credit memo) and 4 (credit note) are credits whatever the type code; 1 is an invoice
    assert answers.is_kind("credit_memo", {"SIVTYP": "AVX", "INVTYP": 2}, LAYOUT)
    assert answers.is_kind("credit_memo", {"SIVTYP": "INV", "INVTYP": "4"}, LAYOUT)
    assert answers.is_kind("invoice", {"SIVTYP": "CRN", "INVTYP": 1}, LAYOUT)
    lay = SageX3Layout.from_overrides({"credit_categories": "4"})
    assert answers.is_kind("invoice", {"SIVTYP": "X", "INVTYP": 2}, lay)
    with pytest.raises(Exception, match="credit_categories"):
        SageX3Layout.from_overrides({"credit_categories": "two"})


def test_layout_overrides_rename_every_lifecycle_assumption() -> None:
    lay = SageX3Layout.from_overrides({"credit_memo_type": "AVO", "credit_memo_origin_field": "ORIINV",
                                       "refund_type": "REMB", "reversal_type": "ANN", "status_field": "ZSTATUT"})
    cfg = SageX3Config("http://x3", "admin", Secret("pw"), layout=lay)
    memo = CreditMemo("R", "C1", DAY, "I1", (OrderLine("PAYMENT", Decimal("1"), Decimal("1")),))
    assert mapping.credit_memo_object(memo, cfg)["SIH0_1"]["ORIINV"] == "I1"
    assert mapping.status_object("invoice", "Disputed", lay) == {"SIH0_1": {"ZSTATUT": "Disputed"}}
    assert answers.is_kind("credit_memo", {"SIVTYP": "AVO"}, lay) and not answers.is_kind("invoice", {"SIVTYP": "AVO"}, lay)
    assert answers.is_kind("refund", {"PAYTYP": "REMB"}, lay) and not answers.is_kind("payment", {"PAYTYP": "ANN"}, lay)


@pytest.mark.parametrize("kind, record, expected", [
    ("invoice", {"SIVTYP": "INV"}, True), ("invoice", {"SIVTYP": "CRN"}, False), ("credit_memo", {"SIVTYP": "CRN"}, True),
    ("payment", {"PAYTYP": "RCPCB"}, True), ("payment", {"PAYTYP": "RFDCB"}, False),
    ("payment", {"PAYTYP": "RVSCB"}, False), ("refund", {"PAYTYP": "RFDCB"}, True),
    ("reversal", {"PAYTYP": "RVSCB"}, True), ("reversal", {"PAYTYP": "RCPCB"}, False)])
def test_type_codes_tell_documents_of_a_shared_class_apart(kind, record, expected) -> None:
    assert answers.is_kind(kind, record, SageX3Layout()) is expected


def test_open_amount_sums_every_due_date_and_stays_decimal() -> None:
    rows = [{"AMTCUR": 60.0, "PAYCUR": 60.0}, {"AMTCUR": "40.00", "PAYCUR": "15.5"}]
    assert answers.open_amount(rows) == Decimal("24.50") and isinstance(answers.open_amount(rows), Decimal)
    assert answers.open_amount([]) is None


def test_documents_carry_amount_due_and_keys_for_the_new_kinds() -> None:
    lay = SageX3Layout()
    doc = answers.document("credit_memo", {"NUM": "CRN1", "INVREF": "R", "AMTNOT": 30.0, "BPCINV": "C1"}, lay,
                           Decimal("30.00"))
    assert (doc.key, doc.amount, doc.amount_due, doc.customer_id) == ("CRN1", Decimal("30.00"), Decimal("30.00"), "C1")
    assert answers.key_of("reversal", {"PAY0_1": {"NUM": "PAY9"}}, lay) == "PAY9"
    assert answers.reference_field("refund") == "REF" and answers.reference_field("credit_memo") == "INVREF"


class _NoCalls:
    def __getattr__(self, name):
        raise AssertionError(f"no call expected, got {name}")


def test_set_status_refuses_a_long_status_or_another_kind_before_any_call() -> None:
    connector = SageX3Connector(CFG, client=_NoCalls())  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as err:
        connector.set_status("invoice", "I1", "x" * 21)
    assert err.value.field == "YPAYSTA"
    with pytest.raises(PermanentError):
        connector.set_status("payment", "P1", "Disputed")


class _Reads:
    """A client whose api1 answers are canned; a save is an error."""

    def __init__(self, invoice: dict, memos: list[dict]) -> None:
        self.invoice, self.memos = invoice, memos

    def rest_details(self, cls, key):
        return self.invoice

    def rest_query(self, cls, where, count=100):
        return self.memos

    def save(self, *a):
        raise AssertionError("nothing may be written")


def test_a_credit_memo_over_what_is_left_is_refused_naming_the_amount_field_and_writes_nothing() -> None:
    client = _Reads({"NUM": "I1", "SIVTYP": "INV", "AMTNOT": 50.0, "BPCINV": "C1"},
                    [{"NUM": "M1", "SIVTYP": "CRN", "SIHORINUM": "I1", "AMTNOT": 40.0}])
    connector = SageX3Connector(CFG, client=client)  # type: ignore[arg-type]
    memo = CreditMemo("R2", "C1", DAY, "I1", (OrderLine("PAYMENT", Decimal("1"), Decimal("10.01")),))
    with pytest.raises(ValidationError) as err:
        connector._create_credit_memo(memo)
    assert err.value.field == "AMTNOT" and "10.00" in err.value.message
