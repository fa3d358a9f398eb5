"""The X3 simulator's matching surface over real sockets: where operators, invoice lines and addresses
as api1 classes, due dates from payment terms, receipts on account, and the UPDDATTIM stamps."""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from sandbox.sage_x3 import create_app
from sandbox.server import SandboxServer
from tests.sandbox.test_sage_x3_sandbox import pay_entry  # noqa: I001
from tests.sandbox.test_sage_x3_sandbox import AUTH, X3


@pytest.fixture
def x3() -> Iterator[X3]:
    with SandboxServer(create_app(username=AUTH[0], password=AUTH[1], seed_rng=7)) as server:
        yield X3(server)


def _rows(x3: X3, cls: str, where: str = "", **params: Any) -> list[dict]:
    response = x3.api1(cls, representation=f"{cls}.$query", **({"where": where} if where else {}), **params)
    assert response.status_code == 200, response.text
    return response.json()["$resources"]


def _invoice(x3: X3, amount: str, ref: str, *, day: str = "20261120", terms: dict | None = None,
             bpc: str = "NA001", **head: Any) -> str:
    answer = x3.soap("save", "WSSIH", obj={
        "SIH0_1": {"SALFCY": "NA011", "SIVTYP": "INV", "INVREF": ref, "INVDAT": day, "BPCINV": bpc, **head},
        "SIH2_1": {"CUR": "USD"},
        **({"SIH2_2": terms} if terms else {}),
        "SIH4_1": [{"ITMREF": "PAYMENT", "QTY": "1", "GROPRI": amount}]})
    assert answer.status == 1, answer.text()
    return answer.result["SIH0_1"]["NUM"]


def _address(city: str, email: str, postal: str = "98402") -> dict:
    return {"CODADR": "MAIN", "ADDLIG1": "7 Pine Rd", "POSCOD": postal, "CTY": city, "SAT": "WA", "BPACRY": "US",
            "TEL1": "555-0199", "WEB1": email}


# ---- where: the SData operators paysync sends -----------------------------------------------------
def test_where_compares_numbers_dates_in_lists_and_text_in_any_case(x3: X3) -> None:
    # given three invoices of two amounts and two dates
    a = _invoice(x3, "70.00", "A", day="20261101")
    b = _invoice(x3, "70.00", "B", day="20261120")
    c = _invoice(x3, "71.00", "C", day="20261120", YINVID="po-77")
    # then numbers, @dates@, `in` and lower() narrow them as X3 would
    assert {r["NUM"] for r in _rows(x3, "SINVOICEV", "AMTATI eq 70.00")} == {a, b}
    assert {r["NUM"] for r in _rows(x3, "SINVOICEV", "INVDAT ge @2026-11-10@ and INVDAT le @2026-11-30@")} == {b, c}
    assert {r["NUM"] for r in _rows(x3, "SINVOICEV", f"NUM in ('{a}', '{c}', 'NOPE')")} == {a, c}
    assert [r["NUM"] for r in _rows(x3, "SINVOICEV", "upper(YINVID) eq 'PO-77'")] == [c]
    assert _rows(x3, "SINVOICEV", "YINVID eq 'PO-77'") == []  # without a function, case counts
    assert {r["NUM"] for r in _rows(x3, "SINVOICEV", "(SIVTYP ne 'CRN') and (AMTATI lt 71)")} == {a, b}


@pytest.mark.parametrize("where", ["lower(BPCNUM eq 'x'", "soundex(BPCNAM) eq 'x'", "BPCNUM in 'NA001'",
                                   "UPDDATTIM gt @yesterday@", "BPCNUM like 'NA%'", "not BPCNUM eq 'NA001'"])
def test_where_refuses_what_it_cannot_read_as_bad_syntax(x3: X3, where: str) -> None:
    bad = x3.api1("BPCUSTOMER", representation="BPCUSTOMER.$query", where=where)
    assert bad.status_code == 400 and bad.json()["$diagnoses"][0]["$sdataCode"] == "BadWhereSyntax"


# ---- invoices: PO, due dates, lines --------------------------------------------------------------
def test_an_invoice_is_due_by_its_payment_term_and_its_lines_name_the_order_billed(x3: X3) -> None:
    order = x3.order("NA001", ref="SO-9").result["SOH0_1"]["SOHNUM"]
    # given one invoice on the customer's default term, one due on a date of our choosing
    net30 = _invoice(x3, "10.00", "N30")
    fixed = _invoice(x3, "10.00", "FIX", terms={"PTE": "DUEDATE", "STRDUDDAT": "20261205"})
    billed = x3.invoice("NA001", "10.00", sohnum=order, ref="BILL").result["SIH0_1"]["NUM"]
    # then the open items fall due 30 days on, or on the date given
    due = {r["NUM"]: r["DUDDAT"] for r in _rows(x3, "GACCDUDATE", f"NUM in ('{net30}', '{fixed}')")}
    assert due == {net30: "2026-12-20", fixed: "2026-12-05"}
    assert _rows(x3, "SINVOICEV", f"NUM eq '{fixed}'")[0]["PTE"] == "DUEDATE"
    # and each invoice line is a resource naming its invoice and the order it bills
    [line] = _rows(x3, "SINVOICED", f"SOHNUM eq '{order}'")
    assert (line["NUM"], line["ITMREF"], line["BPCINV"]) == (billed, "PAYMENT", "NA001")
    unknown = x3.soap("save", "WSSIH", obj={
        "SIH0_1": {"SALFCY": "NA011", "SIVTYP": "INV", "INVDAT": "20261120", "BPCINV": "NA001"},
        "SIH2_1": {"CUR": "USD"}, "SIH2_2": {"PTE": "NET99"}, "SIH4_1": [{"ITMREF": "PAYMENT", "QTY": "1",
                                                                       "GROPRI": "1.00"}]})
    assert unknown.status == 0 and unknown.text().startswith("PTE : NET99")


# ---- receipts on account -------------------------------------------------------------------------
def test_a_receipt_naming_no_invoice_is_held_on_account_and_a_reversal_gives_it_back(x3: X3) -> None:
    invoice = _invoice(x3, "80.00", "OPEN")
    # when a receipt names no invoice
    answer = x3.soap("save", "WSPAY", obj=pay_entry("RCPCB", "NA001", "80.00", "OA-1", None))
    assert answer.status == 1, answer.text()
    num = answer.result["PAY0_1"]["NUM"]
    # then the invoice stays open and the cash waits on the customer's account, owed back (SNS -1)
    items = {r["NUM"]: r for r in _rows(x3, "GACCDUDATE", "BPR eq 'NA001'")}
    assert (items[invoice]["AMTCUR"], items[invoice]["PAYCUR"]) == (80.0, 0.0)
    assert (items[num]["TYP"], items[num]["SNS"], items[num]["AMTCUR"]) == ("PAY", -1, 80.0)
    assert x3.state()["balances"]["NA001"] == "0.00"
    # and reversing the receipt takes the unapplied cash back off the account
    reversal = x3.soap("save", "WSPAY", obj=pay_entry("RVSCB", "NA001", "80.00", "OA-1-V", [("PAY", num, "80.00")],
                                                      day="20261121"))
    assert reversal.status == 1, reversal.text()
    assert x3.state()["balances"]["NA001"] == "80.00"


# ---- customers: addresses as a class, the UPDDATTIM stamps ---------------------------------------
def test_customer_saves_and_modifies_keep_creation_and_stamp_the_change(x3: X3) -> None:
    saved = x3.soap("save", "WSBPC", obj={"BPC0_1": {"BPCNUM": "C200", "BPCNAM": "Grace Hopper"},
                                          "BPRC_1": {"CRY": "US", "CUR": "USD"},
                                          "BPAC_1": [_address("Tacoma", "Grace@Example.com")]})
    assert saved.status == 1, saved.text()
    [before] = _rows(x3, "BPCUSTOMER", "BPCNUM eq 'C200'")
    [address] = _rows(x3, "BPADDRESS", "lower(WEB1) eq 'grace@example.com'")
    assert (address["BPANUM"], address["BPAADD"], address["CTY"]) == ("C200", "MAIN", "Tacoma")
    assert before["CREDATTIM"] == before["UPDDATTIM"] and before["UPDDATTIM"].endswith("Z")
    time.sleep(1.1)  # X3 stamps to the second
    # when only the name changes, the address keeps its stamp; when the address changes, it moves
    renamed = x3.soap("modify", "WSBPC", keys={"BPCNUM": "C200"}, obj={"BPC0_1": {"BPCNAM": "Grace B. Hopper"}})
    assert renamed.status == 1, renamed.text()
    [after] = _rows(x3, "BPCUSTOMER", f"UPDDATTIM gt @{before['UPDDATTIM']}@")
    assert after["CREDATTIM"] == before["CREDATTIM"] and after["UPDDATTIM"] > before["UPDDATTIM"]
    assert _rows(x3, "BPADDRESS", f"UPDDATTIM gt @{before['UPDDATTIM']}@") == []
    moved = x3.soap("modify", "WSBPC", keys={"BPCNUM": "C200"}, obj={"BPAC_1": [_address("Olympia", "g@h.org")]})
    assert moved.status == 1, moved.text()
    [changed] = _rows(x3, "BPADDRESS", f"UPDDATTIM gt @{before['UPDDATTIM']}@")
    assert (changed["CTY"], changed["CREDATTIM"]) == ("Olympia", address["CREDATTIM"])
    details = x3.api1("BPCUSTOMER('C200')", representation="BPCUSTOMER.$details").json()
    assert details["BPADDRESS"][0]["WEB1"] == "g@h.org" and details["UPDDATTIM"] >= after["UPDDATTIM"]
