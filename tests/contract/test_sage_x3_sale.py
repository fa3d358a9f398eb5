"""One PayTrace sale through the Sage X3 connector into its sandbox, checked on the sandbox's own state."""
from __future__ import annotations

from datetime import datetime, timezone
from dataclasses import replace
from decimal import Decimal

import pytest
import requests

from config.settings import Secret
from connectors.errors import ConfigurationError, PermanentError, RetriableError
from connectors.sage_x3 import SageX3Config, SageX3Connector
from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from flows import documents
from sandbox.sage_x3 import create_app
from sandbox.server import SandboxServer
from schemas.domain import Address, GatewayTransaction
from tests.contract.erp_sage_x3 import sage_x3


def _sale(item_amount: str = "51.88") -> GatewayTransaction:
    return GatewayTransaction(125391271, "SALE", Decimal(item_amount), "Y", "Pending Settlement",
                              datetime(2026, 11, 21, 7, 30, tzinfo=timezone.utc), None, "401200xxxxxx5439", "VISA",
                              "INV-1", "PO-1", "Order 1", "", "ada@example.com", Decimal("0"),
                              Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99201", "US"), "TAS123")


MAPPING = load_mapping(DEFAULT_MAPPINGS_DIR / "paytrace-sage_x3.yaml")


def _order(txn: GatewayTransaction, bpcnum: str):
    return documents.sales_order(MAPPING, txn, bpcnum)


@pytest.fixture
def x3():
    with sage_x3() as under_test:
        yield under_test


def _state(x3) -> dict:
    return requests.get(f"{x3.connector.config.base_url}/_sandbox/state", timeout=5).json()


def _post_sale(x3, txn: GatewayTransaction) -> dict:
    """The flow's steps in order, as the workers run them, with the rules the connector gives."""
    erp = x3.connector
    customer = documents.customer(MAPPING, txn, erp.max_reference_length)
    bpcnum = erp.upsert_customer(customer)
    order = erp.ensure_sales_order(documents.sale(MAPPING, txn, documents.Held(customer=bpcnum)).sales_order)
    invoice = erp.ensure_invoice(documents.sale(MAPPING, txn, documents.Held(customer=bpcnum,
                                                                              sales_order=order.key)).invoice)
    docs = documents.sale(MAPPING, txn, documents.Held(customer=bpcnum, sales_order=order.key, invoice=invoice.key))
    payment = erp.ensure_payment(docs.receipt)
    journal = erp.ensure_journal(docs.journal)
    return {"customer_id": customer.customer_id, "bpcnum": bpcnum, "order": order, "invoice": invoice,
            "payment": payment, "journal": journal}


def _keys(done: dict) -> dict:
    return {k: getattr(v, "key", v) for k, v in done.items()}


def test_a_full_sale_lands_once_with_x3_numbers_and_a_settled_invoice(x3):
    # given a PayTrace sale, when the flow's steps run through the X3 connector
    txn = _sale()
    done = _post_sale(x3, txn)
    state = _state(x3)

    # then the customer exists under its (shortened, deterministic) BPCNUM
    assert len(done["customer_id"]) == 20 and len(done["bpcnum"]) <= 15
    customer = next(c for c in state["customers"] if c["BPC0_1"]["BPCNUM"] == done["bpcnum"])
    assert customer["BPC0_1"]["BPCNAM"] == "Ada Lovelace" and customer["BPRC_1"]["CRY"] == "US"
    assert customer["BPAC_1"][0]["CTY"] == "Spokane" and customer["BPAC_1"][0]["WEB1"] == "ada@example.com"

    # and the order carries our reference with an X3-assigned number and a line on the default item
    [order] = state["orders"]
    assert order["SOH0_1"]["SOHNUM"] == done["order"].key and order["SOH0_1"]["SOHNUM"].startswith("SON")
    assert order["SOH0_1"]["CUSORDREF"] == "PT125391271-SO" and order["SOH0_1"]["BPCORD"] == done["bpcnum"]
    assert order["SOH0_1"]["ORDDAT"] == "20261120"  # 07:30 UTC on the 21st is the 20th in Los Angeles
    assert order["SOH4_1"][0]["ITMREF"] == "PAYMENT" and order["SOH4_3"]["ORDNOT"] == "51.88"

    # and the invoice bills that order, and the receipt applied to it leaves nothing open
    [invoice] = state["invoices"]
    assert invoice["SIH0_1"]["NUM"] == done["invoice"].key and invoice["SIH0_1"]["INVREF"] == "PT125391271-INV"
    assert invoice["SIH4_1"][0]["SOHNUM"] == done["order"].key
    assert order["SOH1_1"]["INVSTA"] == 3 and order["SOH1_1"]["ORDSTA"] == 2  # fully invoiced, closed
    [open_item] = state["open_items"]
    assert open_item["NUM"] == invoice["SIH0_1"]["NUM"] and open_item["AMTCUR"] == "51.88"
    assert open_item["PAYCUR"] == "51.88"  # open amount AMTCUR - PAYCUR is 0
    # and the receipt is in the groups public clients write: PAY0_1 NUM, PAY1_1 party, PAY1_2 amounts,
    # PAY1_4 lines with their payment attribute DENCOD
    [payment] = state["payments"]
    party, money = payment["PAY1_1"], payment["PAY1_2"]
    assert (payment["PAY0_1"]["NUM"], party["BPR"], money["AMTCUR"], money["REF"], money["BAN"], money["CUR"]) == \
        (done["payment"].key, done["bpcnum"], "51.88", "PT125391271-RCP", "BOA", "USD")
    assert payment["PAY1_4"] == [{"DENCOD": "REC", "VCRTYP": "INV", "VCRNUM": invoice["SIH0_1"]["NUM"],
                                  "AMTLIN": "51.88"}]
    # and the merchant's invoice id is on the invoice, whole, and finds it again
    assert invoice["SIH0_1"]["YINVID"] == "INV-1" and invoice["SIH2_1"] == {"CUR": "USD"}

    # and the journal balances: clearing debited (SNS 1), undeposited funds credited (SNS -1)
    [journal] = state["journals"]
    assert journal["GAS0_1"]["NUM"] == done["journal"].key and journal["GAS0_1"]["REF"] == "PT125391271-JE"
    assert [(l["ACC"], l["SNS"], l["AMTCUR"]) for l in journal["GAS1_1"]] == \
        [("10510", 1, "51.88"), ("10500", -1, "51.88")]


def test_delivering_the_same_sale_three_times_writes_each_document_once(x3):
    first = _post_sale(x3, _sale())
    for _ in range(2):
        again = _post_sale(x3, _sale())
        assert _keys(again) == _keys(first)
    state = _state(x3)
    assert [len(state[k]) for k in ("orders", "invoices", "payments", "journals")] == [1, 1, 1, 1]
    assert requests.get(f"{x3.connector.config.base_url}/_sandbox/stats", timeout=5).json()["saves"] == \
        {"customers": 1, "orders": 1, "invoices": 1, "payments": 1, "journals": 1}


def test_an_exhausted_licence_reaches_the_connector_as_retriable_and_writes_nothing(x3):
    base = x3.connector.config.base_url
    impatient = SageX3Connector(SageX3Config(base, "paysync", Secret("x3-secret"), retries=0, timeout=0.5))
    txn = _sale()
    bpcnum = impatient.upsert_customer(documents.customer(MAPPING, txn, impatient.max_reference_length))
    order = _order(txn, bpcnum)

    def licence(**kw):
        requests.post(f"{base}/_sandbox/faults", json={"licence": kw}, timeout=5).raise_for_status()

    # given a licence past its limit: one slow grace call (the lookup), then silence (the save)
    licence(exhausted=True, grace_calls=1, slow_ms=100, hang_ms=1500)
    with pytest.raises(RetriableError, match="timed out"):
        impatient.ensure_sales_order(order)
    licence(hang_ms=0)  # then the server drops the connection at once
    with pytest.raises(RetriableError, match="connection"):
        impatient.ensure_sales_order(order)
    licence(exhausted=False)
    assert impatient.find("sales_order", order.reference) == []
    assert impatient.ensure_sales_order(order).reference == order.reference
    impatient.close()


def test_lookups_follow_links_next_across_pages(x3):
    # given three orders sharing one CUSORDREF (X3 does not make it unique)
    erp = x3.connector
    for customer in ("NA001", "NA002", "NA001"):
        erp._create_sales_order(_order(_sale(), customer))
    # when the lookup reads two resources a page, then it still finds all three
    found = erp.client.rest_query("SORDER", "CUSORDREF eq 'PT125391271-SO'", count=2)
    assert len(found) == 3 and len({r["SOHNUM"] for r in found}) == 3
    # and the base connector refuses to pick one of several strangers' documents
    with pytest.raises(PermanentError, match="already used"):
        erp.ensure_sales_order(_order(_sale(), "CA001"))


def test_site_specific_publication_names_are_configuration():
    pubs = {"YBPC": "customers", "YSOH": "orders", "YSIH": "invoices", "YPAY": "payments", "YGAS": "journals"}
    with SandboxServer(create_app(publications=pubs)) as server:
        erp = SageX3Connector(SageX3Config(server.url, "admin", Secret("admin"), pub_customer="YBPC",
                                           pub_sales_order="YSOH", pub_invoice="YSIH", pub_payment="YPAY",
                                           pub_journal="YGAS", retries=0, timeout=5))
        bpcnum = erp.upsert_customer(documents.customer(MAPPING, _sale()))
        assert erp.ensure_sales_order(_order(_sale(), bpcnum)).key
        default = SageX3Connector(SageX3Config(server.url, "admin", Secret("admin"), retries=0, timeout=5))
        with pytest.raises(ConfigurationError, match="WSBPC : Web service not published"):
            default.upsert_customer(documents.customer(MAPPING, _sale()))
        erp.close()
        default.close()


def test_a_long_merchant_invoice_id_is_kept_whole_and_finds_the_invoice_again(x3):
    # Given a sale whose merchant invoice id (42 characters) is longer than the 30-character line text
    long_id = "INV-2026-000123-ACME-EAST-REGION-WHOLESALE"
    txn = replace(_sale(), invoice_id=long_id, description="")
    # When it is posted
    done = _post_sale(x3, txn)
    # Then X3's invoice keeps it whole in its field, while the line text is cut
    [invoice] = _state(x3)["invoices"]
    assert invoice["SIH0_1"]["YINVID"] == long_id and len(invoice["SIH4_1"][0]["ITMDES1"]) == 30
    # and paysync finds the invoice by it again (the INVREF link, as a second payment of it would)
    [found] = x3.connector.find_invoices("INVREF", long_id)
    assert found.key == done["invoice"].key
