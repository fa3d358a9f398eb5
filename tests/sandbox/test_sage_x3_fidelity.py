"""Sage X3 as the public evidence shows it, over real sockets: the simulator, and the connector against it.

Receipts in the groups public clients write (PAY0_1 / PAY1_1 / PAY1_2 / table PAY1_4 with DENCOD);
no CUSORDREF on an invoice (it is the order's); CUR in SIH2_1 on the standard screen; TEL1..5 /
WEB1..5 on an address; SINVOICEV as the invoice class; a 200 that carries $diagnoses; INVTYP tells a
credit from an invoice. And a folder set up otherwise (renamed classes, CUR in SIH0_1) served by the
per-site layout settings, never by code.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterator

import pytest

from config.settings import Secret
from connectors.errors import NotFoundError
from connectors.sage_x3 import SageX3Config, SageX3Connector, SageX3Layout
from sandbox.sage_x3 import create_app
from sandbox.server import SandboxServer
from schemas.domain import Customer, OrderLine, Payment, SalesOrder
from tests.sandbox.test_sage_x3_sandbox import AUTH, X3, pay_entry

DAY = date(2026, 11, 20)


@pytest.fixture
def x3() -> Iterator[X3]:
    with SandboxServer(create_app(username=AUTH[0], password=AUTH[1], seed_rng=3)) as server:
        yield X3(server)


def _connector(url: str, **layout) -> SageX3Connector:
    return SageX3Connector(SageX3Config(url, AUTH[0], Secret(AUTH[1]), retries=0, timeout=5,
                                        layout=SageX3Layout.from_overrides(layout)))


def test_a_receipt_in_the_old_single_group_layout_or_without_dencod_is_refused(x3: X3) -> None:
    # Given an invoice to pay
    inv = x3.invoice(amount="30.00").result["SIH0_1"]["NUM"]
    # When a receipt puts every header field in PAY0_1 and its lines in PAY1_1 (paysync's old guess)
    old = x3.soap("save", "WSPAY", obj={
        "PAY0_1": {"PAYTYP": "RCPCB", "BPR": "NA001", "BAN": "BOA", "ACCDAT": "20261120", "CUR": "USD",
                   "AMTCUR": "30.00", "REF": "OLD"},
        "PAY1_1": [{"VCRTYP": "INV", "VCRNUM": inv, "AMTLIN": "30.00"}]})
    # Then X3 refuses it, and nothing is paid
    assert old.status == 0 and "PAY1_1" in old.text()
    moved = pay_entry("RCPCB", "NA001", "30.00", "OLD", [("INV", inv, "30.00")])
    moved["PAY0_1"]["BPR"] = moved["PAY1_1"].pop("BPR")
    assert x3.soap("save", "WSPAY", obj=moved).text() == "BPR : not in PAY0_1 (it is in PAY1_1)"
    # and a line without its payment attribute is refused too
    no_dencod = pay_entry("RCPCB", "NA001", "30.00", "NODEN", [("INV", inv, "30.00")])
    del no_dencod["PAY1_4"][0]["DENCOD"]
    assert x3.soap("save", "WSPAY", obj=no_dencod).text() == "PAY1_4 line 1 : DENCOD : Mandatory field"
    assert [o["PAYCUR"] for o in x3.state()["open_items"] if o["NUM"] == inv] == ["0.00"]
    # while the public clients' layout is taken
    ok = x3.soap("save", "WSPAY", obj=pay_entry("RCPCB", "NA001", "30.00", "NEW", [("INV", inv, "30.00")]))
    assert ok.status == 1 and ok.result["PAY1_4"][0]["DENCOD"] == "REC"


def test_an_invoice_has_no_cusordref_and_keeps_its_currency_in_sih2_1(x3: X3) -> None:
    head = {"SALFCY": "NA011", "SIVTYP": "INV", "INVREF": "I-1", "INVDAT": "20261120", "BPCINV": "NA001"}
    lines = [{"ITMREF": "PAYMENT", "QTY": "1", "GROPRI": "5.00"}]
    po = x3.soap("save", "WSSIH", obj={"SIH0_1": {**head, "CUSORDREF": "PO-1"}, "SIH4_1": lines})
    assert po.status == 0 and po.text().startswith("CUSORDREF : Field does not exist")
    in_header = x3.soap("save", "WSSIH", obj={"SIH0_1": {**head, "CUR": "USD"}, "SIH4_1": lines})
    assert in_header.status == 0 and in_header.text().startswith("CUR : not in SIH0_1")
    standard = x3.soap("save", "WSSIH", obj={"SIH0_1": head, "SIH2_1": {"CUR": "USD"}, "SIH4_1": lines})
    assert standard.status == 1 and standard.result["SIH2_1"] == {"CUR": "USD"}
    # and the invoice reads back as SINVOICEV with its category; SINVOICE is not a class of this folder
    num = standard.result["SIH0_1"]["NUM"]
    [row] = x3.api1("SINVOICEV", representation="SINVOICEV.$query", where=f"NUM eq '{num}'").json()["$resources"]
    assert (row["INVTYP"], row["CUR"]) == (1, "USD")
    assert x3.api1("SINVOICE", representation="SINVOICE.$query").status_code == 404


def test_an_address_takes_tel1_to_tel5_and_web1_to_web5_never_tel_or_web(x3: X3) -> None:
    base = {"BPC0_1": {"BPCNUM": "C9", "BPCNAM": "Ada"}, "BPRC_1": {"CRY": "US", "CUR": "USD"}}
    wrong = x3.soap("save", "WSBPC", obj={**base, "BPAC_1": [{"CODADR": "MAIN", "TEL": "555", "WEB": "a@b.c"}]})
    assert wrong.status == 0 and wrong.text() == "BPAC_1 line 1 : TEL : Field does not exist"
    right = x3.soap("save", "WSBPC", obj={**base, "BPAC_1": [{"CODADR": "MAIN", "TEL1": "555", "TEL2": "556",
                                                               "WEB1": "a@b.c", "WEB5": "e@b.c"}]})
    assert right.status == 1, right.text()
    [address] = x3.api1("BPADDRESS", representation="BPADDRESS.$query", where="BPANUM eq 'C9'").json()["$resources"]
    assert (address["TEL1"], address["TEL2"], address["WEB1"], address["WEB5"]) == ("555", "556", "a@b.c", "e@b.c")


def test_the_connector_reads_a_200_carrying_diagnoses_as_a_miss_never_as_data(x3: X3) -> None:
    # Given api1 answering 200 with "Record does not exist" for a missing key (the published behaviour)
    answer = x3.api1("BPCUSTOMER('NOPE')", representation="BPCUSTOMER.$details")
    assert answer.status_code == 200 and answer.json()["$diagnoses"][0]["$severity"] == "error"
    c = _connector(x3.url)
    # Then the connector says "no such customer" and "no such invoice", instead of an empty record
    assert c.customer("NOPE") is None
    with pytest.raises(NotFoundError):
        c.invoice_info("NOPE")


def test_a_customers_po_is_found_on_the_order_and_a_60_character_name_is_kept_in_two_lines(x3: X3) -> None:
    c = _connector(x3.url)
    name = "Northwestern Consolidated Widget Manufacturing & Supply, LLC"  # 60 characters
    bpc = c.upsert_customer(Customer("C-LONGNAME", name, "ap@widgets.example", "555-0100"))
    saved = next(r for r in x3.state()["customers"] if r["BPC0_1"]["BPCNUM"] == bpc)
    assert len(name) == 60 and saved["BPC0_1"]["BPCNAM"] == name[:35]
    assert "".join(saved["BPRC_1"]["BPRNAM"]) == name  # the whole name, on X3's two company-name lines
    assert saved["BPAC_1"][0]["TEL1"] == "555-0100" and saved["BPAC_1"][0]["WEB1"] == "ap@widgets.example"
    # An X3 user's order carrying the customer's PO, and the invoice billing it
    lines = (OrderLine("PAYMENT", Decimal("1"), Decimal("40.00")),)
    order = c.ensure_sales_order(SalesOrder("PO-4471", bpc, DAY, lines))
    invoice = c.ensure_invoice(SalesOrder("N-1", bpc, DAY, lines, order_ref=order.key))
    # are found by the PO through the order, as X3 keeps it
    assert [i.key for i in c.find_invoices("CUSORDREF", "PO-4471")] == [invoice.key]
    assert c.find_invoices("CUSORDREF", "PO-0000") == []


def test_a_folder_with_its_own_class_names_and_currency_group_is_served_by_the_layout_alone() -> None:
    # Given a folder whose invoice class is ZSIH and whose SIH publication takes CUR in SIH0_1
    app = create_app(username=AUTH[0], password=AUTH[1], classes={"SINVOICEV": "ZSIH"},
                     invoice_currency_group="SIH0_1", missing_detail_status=404)
    with SandboxServer(app) as server:
        # When paysync uses the evidence defaults, then the invoice is refused and the class is unknown
        plain = _connector(server.url)
        lines = (OrderLine("PAYMENT", Decimal("1"), Decimal("12.00")),)
        with pytest.raises(Exception, match="SINVOICEV: unknown class"):
            plain.ensure_invoice(SalesOrder("PT1-INV", "NA001", DAY, lines))
        # When the site's names are set (SAGEX3_LAYOUT, per pair PAYSYNC_PAIR_<NAME>_SAGEX3_LAYOUT)
        site = _connector(server.url, invoice_class="ZSIH", invoice_currency_group="SIH0_1")
        doc = site.ensure_invoice(SalesOrder("PT1-INV", "NA001", DAY, lines))
        # Then the invoice is written, found by its reference, and paid through the same names
        assert [i.key for i in site.find_invoices("INVREF", "PT1-INV")] == [doc.key]
        site.ensure_payment(Payment("PT1-RCP", "NA001", DAY, Decimal("12.00"), doc.key, "10500", "CB"))
        assert site.invoice_info(doc.key).open_amount == Decimal("0.00")
        # and a 404 for a missing key is a miss as well
        assert site.customer("NOPE") is None
