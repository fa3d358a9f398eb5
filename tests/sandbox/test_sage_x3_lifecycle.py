"""The X3 simulator's payment lifecycle over real sockets: credit notes, refunds, reversals, statuses."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import pytest

from sandbox.sage_x3 import create_app
from sandbox.server import SandboxServer
from sandbox.summary import summarize
from tests.sandbox.test_sage_x3_sandbox import AUTH, X3, pay_entry


@pytest.fixture
def x3() -> Iterator[X3]:
    with SandboxServer(create_app(username=AUTH[0], password=AUTH[1], seed_rng=7)) as server:
        yield X3(server)


def _credit(x3: X3, invoice: str, amount: str, ref: str = "CRN-1", bpc: str = "NA001", **head):
    return x3.soap("save", "WSSIH", obj={
        "SIH0_1": {"SALFCY": "NA011", "SIVTYP": "CRN", "INVREF": ref, "INVDAT": "20261121", "BPCINV": bpc,
                   "SIHORINUM": invoice, **head}, "SIH2_1": {"CUR": "USD"},
        "SIH4_1": [{"ITMREF": "PAYMENT", "QTY": "1", "GROPRI": amount}]})


def _pay(x3: X3, typ: str, vcrtyp: str, vcrnum: str, amount: str, ref: str, bpr: str = "NA001"):
    return x3.soap("save", "WSPAY", obj=pay_entry(typ, bpr, amount, ref, [(vcrtyp, vcrnum, amount)], day="20261121"))


def _paid(x3: X3, amount: str = "100.00") -> tuple[str, str]:
    inv = x3.invoice(amount=amount).result["SIH0_1"]["NUM"]
    pay = x3.payment(inv, amount).result["PAY0_1"]["NUM"]
    return inv, pay


def _open(x3: X3, num: str) -> Decimal:
    [item] = [o for o in x3.state()["open_items"] if o["NUM"] == num]
    return Decimal(item["AMTCUR"]) - Decimal(item["PAYCUR"])


def test_a_credit_note_credits_at_most_what_is_left_of_its_invoice_and_writes_nothing_when_refused(x3: X3) -> None:
    inv, _ = _paid(x3, "50.00")
    first = _credit(x3, inv, "40.00")
    assert first.status == 1 and first.result["SIH0_1"]["SIHORINUM"] == inv
    before = x3.state()
    refused = _credit(x3, inv, "10.01", ref="CRN-2")
    assert refused.status == 0 and refused.messages[0][1].startswith("AMTNOT : 10.01 : greater than")
    assert x3.state()["credit_memos"] == before["credit_memos"] and x3.state()["open_items"] == before["open_items"]
    assert _credit(x3, inv, "10.00", ref="CRN-3").status == 1


def test_a_credit_note_names_an_existing_invoice_or_none_at_all(x3: X3) -> None:
    assert "SIHORINUM : NOPE : Record does not exist" in _credit(x3, "", "1.00", SIHORINUM="NOPE").text()
    # naming no invoice, it is a credit on the customer's account, owed back until a refund settles it
    loose = _credit(x3, "", "12.00", SIHORINUM="")
    assert loose.status == 1 and not loose.result["SIH0_1"].get("SIHORINUM")
    assert _open(x3, loose.result["SIH0_1"]["NUM"]) == Decimal("12.00")


def test_a_credit_note_names_an_invoice_of_its_own_customer(x3: X3) -> None:
    inv, _ = _paid(x3)
    assert "invoice of customer NA001, not NA002" in _credit(x3, inv, "1.00", bpc="NA002").text()


def test_a_refund_settles_a_credit_note_out_of_the_bank_and_never_more_than_is_left(x3: X3) -> None:
    inv, _ = _paid(x3, "100.00")
    crn = _credit(x3, inv, "30.00").result["SIH0_1"]["NUM"]
    assert x3.state()["balances"]["NA001"] == "-30.00"  # owed back to the customer
    assert "AMTLIN : 30.01 : greater than the open amount 30.00" in _pay(x3, "RFDCB", "CRN", crn, "30.01", "F1").text()
    assert "not a credit note" in _pay(x3, "RFDCB", "INV", inv, "1.00", "F1").text()
    assert "only a refund settles it" in _pay(x3, "RCPCB", "CRN", crn, "1.00", "F1").text()
    assert _pay(x3, "RFDCB", "CRN", crn, "20.00", "F1").status == 1
    assert _open(x3, crn) == Decimal("10.00")
    state = x3.state()
    assert state["bank_balances"]["BOA"] == "80.00" and state["balances"]["NA001"] == "-10.00"
    assert [r["PAY1_2"]["REF"] for r in state["refunds"]] == ["F1"] and len(state["payments"]) == 1


def test_a_reversal_reopens_the_invoices_its_receipt_paid_once_and_in_full(x3: X3) -> None:
    inv, pay = _paid(x3, "75.00")
    assert _open(x3, inv) == 0 and x3.state()["balances"]["NA001"] == "0.00"
    assert "reversed in full (75.00)" in _pay(x3, "RVSCB", "PAY", pay, "70.00", "V1").text()
    assert "receipt of NA001, not NA002" in _pay(x3, "RVSCB", "PAY", pay, "75.00", "V1", bpr="NA002").text()
    done = _pay(x3, "RVSCB", "PAY", pay, "75.00", "V1")
    assert done.status == 1
    assert _open(x3, inv) == Decimal("75.00")
    state = x3.state()
    assert state["balances"]["NA001"] == "75.00" and state["bank_balances"]["BOA"] == "0.00"
    assert state["payments"][0]["PAY0_1"]["REVNUM"] == done.result["PAY0_1"]["NUM"]
    assert "already reversed by" in _pay(x3, "RVSCB", "PAY", pay, "75.00", "V2").text()
    assert _open(x3, inv) == Decimal("75.00")


def test_orders_and_invoices_carry_a_free_text_status_in_their_user_field(x3: X3) -> None:
    soh = x3.order().result["SOH0_1"]["SOHNUM"]
    inv, _ = _paid(x3)
    assert x3.soap("modify", "WSSOH", keys={"SOHNUM": soh}, obj={"SOH0_1": {"YPAYSTA": "Payment Failed"}}).status == 1
    assert x3.soap("modify", "WSSIH", keys={"NUM": inv}, obj={"SIH0_1": {"YPAYSTA": "Disputed"}}).status == 1
    assert "Field too long" in x3.soap("modify", "WSSIH", keys={"NUM": inv},
                                       obj={"SIH0_1": {"YPAYSTA": "x" * 21}}).text()
    assert "ORDSTA : Modification not allowed" in x3.soap("modify", "WSSOH", keys={"SOHNUM": soh},
                                                          obj={"SOH0_1": {"ORDSTA": 2}}).text()
    assert "Record does not exist" in x3.soap("modify", "WSSIH", keys={"NUM": "NOPE"},
                                              obj={"SIH0_1": {"YPAYSTA": "x"}}).text()
    got = x3.api1(f"SINVOICEV('{inv}')", representation="SINVOICEV.$details").json()
    assert got["YPAYSTA"] == "Disputed"
    rows = x3.api1("SORDER", representation="SORDER.$query", where="YPAYSTA eq 'Payment Failed'").json()
    assert [r["SOHNUM"] for r in rows["$resources"]] == [soh]


def test_the_summary_lists_the_lifecycle_documents_and_statuses(x3: X3) -> None:
    inv, pay = _paid(x3, "100.00")
    crn = _credit(x3, inv, "30.00").result["SIH0_1"]["NUM"]
    _pay(x3, "RFDCB", "CRN", crn, "30.00", "F1")
    _pay(x3, "RVSCB", "PAY", pay, "100.00", "V1")
    x3.soap("modify", "WSSIH", keys={"NUM": inv}, obj={"SIH0_1": {"YPAYSTA": "Disputed"}})
    s = summarize("sage_x3", x3.state())
    assert s["credit_memos"] == [{"reference": "CRN-1", "key": crn, "amount": Decimal("30.00"), "invoice": inv}]
    assert s["refunds"] == [{"reference": "F1", "amount": Decimal("30.00"), "credit_memo": crn}]
    assert s["reversals"] == [{"reference": "V1", "payment": pay, "amount": Decimal("100.00")}]
    assert [(i["key"], i["open"], i["status"]) for i in s["invoices"]] == [(inv, Decimal("100.00"), "Disputed")]
    assert len(s["payments"]) == 1
