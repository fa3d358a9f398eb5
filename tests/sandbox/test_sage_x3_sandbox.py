"""HTTP tests of the Sage X3 simulator over real loopback sockets: raw SOAP envelopes and api1 GETs."""
from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from typing import Any, Iterator
from xml.sax.saxutils import escape

import pytest
import requests

from sandbox.sage_x3 import create_app
from sandbox.server import SandboxServer

AUTH = ("paysync", "x3-secret")
SOAP_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
WSDL_PATH = "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC?wsdl"
JSON_OUT = "adxwss.optreturn=JSON&adxwss.beautify=false"


class Answer:
    """A decoded CAdxResultXml: status, [(type, message)], resultXml (parsed when JSON)."""

    def __init__(self, response: requests.Response) -> None:
        self.http = response.status_code
        root = ET.fromstring(response.content)
        body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        refs = {n.get("id"): n for n in body if n.get("id")}
        ret = body[0][0]
        self.status = int(ret.findtext("status"))
        self.messages = [(int(refs[m.get("href")[1:]].findtext("type")), refs[m.get("href")[1:]].findtext("message"))
                         for m in ret.find("messages")]
        node = ret.find("resultXml")
        text = None if node.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true" else node.text or ""
        self.raw = text
        self.result = json.loads(text) if text and text.startswith(("{", "[")) else text

    def text(self) -> str:
        return " | ".join(m for _, m in self.messages)


class X3:
    """A running simulator plus helpers that speak SOAP and api1 with Basic auth."""

    def __init__(self, server: SandboxServer) -> None:
        self.url = server.url
        self.http = requests.Session()
        self.http.auth = AUTH

    def envelope(self, op: str, public: str, *, obj: Any = None, keys: dict | None = None, pool: str = "SEED",
                 config: str = JSON_OUT, list_size: int | None = None) -> str:
        parts = [f"<publicName>{public}</publicName>"]
        if keys is not None:
            items = "".join(f"<item><key>{k}</key><value>{escape(v)}</value></item>" for k, v in keys.items())
            parts.append(f"<objectKeys>{items}</objectKeys>")
        if obj is not None:
            text = obj if isinstance(obj, str) else json.dumps(obj)
            parts.append(f"<objectXml>{escape(text)}</objectXml>")
        if list_size is not None:
            parts.append(f"<listSize>{list_size}</listSize>")
        return ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:wss="http://www.adonix.com/WSS"><soapenv:Body>'
                f'<wss:{op}><callContext><codeLang>ENG</codeLang><poolAlias>{pool}</poolAlias><poolId></poolId>'
                f'<requestConfig>{escape(config)}</requestConfig></callContext>{"".join(parts)}</wss:{op}>'
                '</soapenv:Body></soapenv:Envelope>')

    def post(self, envelope: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.http.post(self.url + SOAP_PATH, data=envelope.encode(),
                              headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, **kw)

    def soap(self, op: str, public: str, **kw: Any) -> Answer:
        response = self.post(self.envelope(op, public, **kw))
        assert response.status_code == 200, response.text
        return Answer(response)

    def api1(self, target: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.url}/api1/x3/erp/SEED/{target}", params=params, timeout=10)

    def faults(self, **settings: Any) -> dict:
        response = requests.post(f"{self.url}/_sandbox/faults", json=settings, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict:
        return requests.get(f"{self.url}/_sandbox/state", timeout=10).json()

    # ---- documents with sensible defaults --------------------------------------------------
    def customer(self, num: str = "C100", **bpr: Any) -> Answer:
        return self.soap("save", "WSBPC", obj={"BPC0_1": {"BPCNUM": num, "BPCNAM": f"Customer {num}"},
                                                "BPRC_1": {"CRY": "US", "CUR": "USD", **bpr}})

    def order(self, bpc: str = "NA001", *lines: tuple[str, str, str], ref: str = "PO-1") -> Answer:
        lines = lines or (("PAYMENT", "1", "10.00"),)
        return self.soap("save", "WSSOH", obj={
            "SOH0_1": {"SALFCY": "NA011", "SOHTYP": "SON", "BPCORD": bpc, "ORDDAT": "20261120", "CUR": "USD",
                       "CUSORDREF": ref},
            "SOH4_1": [{"ITMREF": i, "QTY": q, "GROPRI": p} for i, q, p in lines]})

    def invoice(self, bpc: str = "NA001", amount: str = "10.00", sohnum: str = "", ref: str = "INV-1") -> Answer:
        line = {"ITMREF": "PAYMENT", "QTY": "1", "GROPRI": amount, **({"SOHNUM": sohnum} if sohnum else {})}
        return self.soap("save", "WSSIH", obj={
            "SIH0_1": {"SALFCY": "NA011", "SIVTYP": "INV", "INVREF": ref, "INVDAT": "20261120", "BPCINV": bpc},
            "SIH2_1": {"CUR": "USD"}, "SIH4_1": [line]})

    def payment(self, invoice_num: str, amount: str, bpr: str = "NA001", ref: str = "RCP-1", **fields: Any) -> Answer:
        return self.soap("save", "WSPAY", obj=pay_entry("RCPCB", bpr, amount, ref, [("INV", invoice_num, amount)],
                                                        **fields))

    def journal(self, *lines: tuple[str, int, str], ref: str = "JE-1") -> Answer:
        return self.soap("save", "WSGAS", obj={
            "GAS0_1": {"TYP": "ODT", "JOU": "MISC", "ACCDAT": "20261120", "REF": ref, "CUR": "USD"},
            "GAS1_1": [{"ACC": a, "SNS": s, "AMTCUR": m} for a, s, m in lines]})


_PARTY = ("FCY", "BPR", "ACC", "BPAINV")


def pay_entry(typ: str, bpr: str, amount: str, ref: str, lines: list[tuple[str, str, str]] | None,
              day: str = "20261120", code: str = "REC", **fields: Any) -> dict:
    """A payment entry as public clients write it: NUM (and our PAYTYP) in PAY0_1, the party in PAY1_1,
    the amounts in PAY1_2, the lines (VCRTYP, VCRNUM, AMTLIN) in table PAY1_4 with their DENCOD."""
    party = {"BPR": bpr, **{k: v for k, v in fields.items() if k in _PARTY}}
    money = {"BAN": "BOA", "ACCDAT": day, "CUR": "USD", "AMTCUR": amount, "REF": ref,
             **{k: v for k, v in fields.items() if k not in _PARTY}}
    rows = [{"DENCOD": code, "VCRTYP": t, "VCRNUM": n, "AMTLIN": a} for t, n, a in lines] if lines is not None \
        else [{"DENCOD": code, "AMTLIN": amount}]
    return {"PAY0_1": {"PAYTYP": typ}, "PAY1_1": party, "PAY1_2": money, "PAY1_4": rows}


@pytest.fixture
def x3() -> Iterator[X3]:
    with SandboxServer(create_app(username=AUTH[0], password=AUTH[1], seed_rng=7)) as server:
        yield X3(server)


# ---- SOAP surface ---------------------------------------------------------------------------------
def test_wsdl_is_rpc_encoded_in_the_wss_namespace_and_needs_basic_auth(x3: X3) -> None:
    assert requests.get(x3.url + WSDL_PATH, timeout=5).status_code == 401
    response = x3.http.get(x3.url + WSDL_PATH, timeout=5)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.get("targetNamespace") == "http://www.adonix.com/WSS"
    wsdl = "{http://schemas.xmlsoap.org/wsdl/}"
    ops = {o.get("name") for o in root.iter(f"{wsdl}operation")}
    assert {"save", "read", "query", "modify"} <= ops
    assert b'style="rpc"' in response.content and b'use="encoded"' in response.content
    assert SOAP_PATH.encode() in response.content


def test_soap_needs_basic_auth_and_a_known_pool(x3: X3) -> None:
    bare = requests.post(x3.url + SOAP_PATH, data=x3.envelope("read", "WSBPC", keys={"BPCNUM": "NA001"}), timeout=5)
    assert bare.status_code == 401 and "Basic" in bare.headers["WWW-Authenticate"]
    wrong_pool = x3.post(x3.envelope("read", "WSBPC", keys={"BPCNUM": "NA001"}, pool="NOPE"))
    assert wrong_pool.status_code == 500 and b"Pool alias" in wrong_pool.content and b"Fault" in wrong_pool.content


def test_customer_save_read_modify_and_bpcnum_unique(x3: X3) -> None:
    saved = x3.customer("C100")
    assert saved.status == 1 and saved.result["BPC0_1"]["BPCNUM"] == "C100"
    again = x3.customer("C100")
    assert again.status == 0 and again.messages == [(3, "BPCNUM : C100 : Record that already exists")]
    read = x3.soap("read", "WSBPC", keys={"BPCNUM": "C100"})
    assert read.status == 1 and read.result["BPRC_1"]["CUR"] == "USD"
    missing = x3.soap("read", "WSBPC", keys={"BPCNUM": "NOPE"})
    assert missing.status == 0 and "Record does not exist" in missing.text() and missing.raw is None
    modified = x3.soap("modify", "WSBPC", keys={"BPCNUM": "C100"}, obj={"BPC0_1": {"BPCNAM": "Renamed"}})
    assert modified.status == 1 and modified.result["BPC0_1"]["BPCNAM"] == "Renamed"
    bad = x3.customer("C200", CRY="ZZ")
    assert bad.status == 0 and bad.text().startswith("CRY : ZZ")
    too_long = x3.customer("C" * 16)
    assert too_long.status == 0 and "BPCNUM" in too_long.text() and "15" in too_long.text()


def test_xml_param_payload_and_xml_result_without_optreturn(x3: X3) -> None:
    param = ('<PARAM><GRP ID="BPC0_1"><FLD NAME="BPCNUM">X100</FLD><FLD NAME="BPCNAM">Xml Co</FLD></GRP>'
             '<GRP ID="BPRC_1"><FLD NAME="CRY">US</FLD><FLD NAME="CUR">USD</FLD>'
             '<LST NAME="BPRNAM"><ITM>Xml Co</ITM><ITM>Ltd</ITM></LST></GRP></PARAM>')
    answer = x3.soap("save", "WSBPC", obj=param, config="adxwss.trace.on=off")
    assert answer.status == 1 and answer.raw.startswith("<?xml")
    result = ET.fromstring(answer.raw)
    assert result.find("GRP[@ID='BPC0_1']/FLD[@NAME='BPCNUM']").text == "X100"
    assert [i.text for i in result.find("GRP[@ID='BPRC_1']/LST[@NAME='BPRNAM']")] == ["Xml Co", "Ltd"]
    garbled = x3.soap("save", "WSBPC", obj="<PARAM><GRP>", config="")
    assert garbled.status == 0 and "XML" in garbled.text()


def test_axis_multiref_keys_are_followed(x3: X3) -> None:
    envelope = x3.envelope("read", "WSBPC", keys={}).replace(
        "<objectKeys></objectKeys>", '<objectKeys><item href="#id0"/></objectKeys>').replace(
        "</wss:read>", '</wss:read><multiRef id="id0"><key>BPCNUM</key><value>NA002</value></multiRef>')
    answer = Answer(x3.post(envelope))
    assert answer.status == 1 and answer.result["BPC0_1"]["BPCNAM"] == "Northwind Traders"


def test_order_numbers_allocation_and_non_unique_references(x3: X3) -> None:
    first = x3.order("NA001", ("WIDGET-1", "12", "25.00"), ref="SAME")
    second = x3.order("NA002", ("WIDGET-1", "5", "25.00"), ("WIDGET-2", "1", "40.00"), ref="SAME")
    assert first.status == second.status == 1
    n1, n2 = first.result["SOH0_1"]["SOHNUM"], second.result["SOH0_1"]["SOHNUM"]
    assert n1.startswith("SONNA011") and n1 != n2
    # NA011 holds 15 accepted WIDGET-1 (10 + 5): 12 go to the first order, the last 3 to the second
    assert first.result["SOH4_1"][0]["ALLQTY"] == "12" and first.result["SOH1_1"]["ALLSTA"] == 3
    lines = second.result["SOH4_1"]
    assert (lines[0]["ALLQTY"], lines[0]["SHTQTY"]) == ("3", "2")
    assert lines[1]["ALLQTY"] == "0"  # WIDGET-2's only stock is in quarantine
    assert second.result["SOH1_1"]["ALLSTA"] == 2 and second.result["SOH4_3"]["ORDNOT"] == "165.00"
    stock = [s for s in x3.state()["stock"] if s["STOFCY"] == "NA011" and s["ITMREF"] == "WIDGET-1"]
    assert [s["CUMALLQTY"] for s in stock] == ["10", "5"]
    found = x3.api1("SORDER", representation="SORDER.$query", where="CUSORDREF eq 'SAME'").json()["$resources"]
    assert sorted(r["SOHNUM"] for r in found) == sorted([n1, n2])


@pytest.mark.parametrize("obj, field", [
    ({"SOH0_1": {"SALFCY": "NA011", "SOHTYP": "SON", "BPCORD": "NA001", "ORDDAT": "20261120"},
      "SOH4_1": [{"ITMREF": "NO-SUCH-ITEM", "QTY": "1"}]}, "ITMREF"),
    ({"SOH0_1": {"SALFCY": "NA011", "SOHTYP": "SON", "BPCORD": "NOBODY", "ORDDAT": "20261120"},
      "SOH4_1": [{"ITMREF": "PAYMENT", "QTY": "1"}]}, "BPCORD"),
    ({"SOH0_1": {"SALFCY": "XX999", "SOHTYP": "SON", "BPCORD": "NA001", "ORDDAT": "20261120"},
      "SOH4_1": [{"ITMREF": "PAYMENT", "QTY": "1"}]}, "SALFCY"),
    ({"SOH0_1": {"SALFCY": "NA011", "SOHTYP": "SON", "BPCORD": "NA001"},
      "SOH4_1": [{"ITMREF": "PAYMENT", "QTY": "1"}]}, "ORDDAT"),
    ({"SOH0_1": {"SALFCY": "NA011", "SOHTYP": "SON", "BPCORD": "NA001", "ORDDAT": "20261120"},
      "SOH4_1": [{"ITMREF": "PAYMENT", "QTY": "0"}]}, "QTY"),
])
def test_validation_errors_are_status_0_type_3_in_http_200_naming_the_field(x3: X3, obj: dict, field: str) -> None:
    answer = x3.soap("save", "WSSOH", obj=obj)
    assert answer.http == 200 and answer.status == 0 and answer.raw is None
    assert answer.messages[0][0] == 3 and f"{field} : " in answer.messages[0][1]
    assert x3.state()["orders"] == []


def test_invoice_bills_an_order_opens_an_item_and_payments_settle_it(x3: X3) -> None:
    order = x3.order("NA001", ("PAYMENT", "1", "20.00")).result["SOH0_1"]["SOHNUM"]
    other = x3.invoice("NA002", "20.00", sohnum=order)
    assert other.status == 0 and "SOHNUM" in other.text()
    invoice = x3.invoice("NA001", "20.00", sohnum=order)
    assert invoice.status == 1
    num = invoice.result["SIH0_1"]["NUM"]
    assert num.startswith("INVNA011") and invoice.result["SIH4_3"]["INVATI"] == "20.00"
    over_billed = x3.invoice("NA001", "20.00", sohnum=order)
    assert over_billed.status == 0 and over_billed.text().startswith("SIH4_1 line 1 : QTY")

    assert x3.payment(num, "20.01").messages[0][1].startswith("PAY1_4 line 1 : AMTLIN : 20.01")
    assert "VCRNUM" in x3.payment(num, "5.00", bpr="NA002").text()
    assert x3.payment(num, "5.00", CUR="EUR").text().startswith("CUR : EUR")
    part = x3.payment(num, "5.00", ref="RCP-A")
    rest = x3.payment(num, "15.00", ref="RCP-B")
    assert part.status == rest.status == 1 and part.result["PAY0_1"]["NUM"] != rest.result["PAY0_1"]["NUM"]
    [item] = x3.state()["open_items"]
    assert (item["AMTCUR"], item["PAYCUR"]) == ("20.00", "20.00")
    assert x3.payment(num, "0.01").text().startswith("PAY1_4 line 1 : AMTLIN")
    sorder = x3.api1(f"SORDER('{order}')", representation="SORDER.$details").json()
    assert sorder["INVSTA"] == 3 and sorder["SORDERQ"][0]["INVQTY"] == 1


def test_journal_needs_balance_known_accounts_and_a_side(x3: X3) -> None:
    ok = x3.journal(("10510", 1, "12.34"), ("10500", -1, "12.34"))
    assert ok.status == 1 and [l["SNS"] for l in ok.result["GAS1_1"]] == [1, -1]
    unbalanced = x3.journal(("10510", 1, "10.00"), ("10500", -1, "9.99"), ref="BAD")
    assert unbalanced.status == 0 and unbalanced.text() == "AMTCUR : Unbalanced entry: debit 10.00 credit 9.99"
    assert "ACC : 99999" in x3.journal(("99999", 1, "1.00"), ("10500", -1, "1.00")).text()
    assert "SNS : 2" in x3.journal(("10510", 2, "1.00"), ("10500", -1, "1.00")).text()
    assert len(x3.state()["journals"]) == 1
    key = ok.result["GAS0_1"]["NUM"]
    detail = x3.api1(f"GACCENTRY('ODT~{key}')", representation="GACCENTRY.$details").json()
    lines = [(l["ACC"], l["SNS"], l["AMTCUR"]) for l in detail["GACCENTRYD"]]
    assert lines == [("10510", 1, 12.34), ("10500", -1, 12.34)]


# ---- faults ---------------------------------------------------------------------------------------
def test_a_locked_customer_refuses_writes_but_not_reads(x3: X3) -> None:
    x3.faults(locked=["NA001"])
    answer = x3.order("NA001")
    assert answer.status == 0 and "Locked record" in answer.text()
    assert "Locked record" in x3.soap("modify", "WSBPC", keys={"BPCNUM": "NA001"},
                                      obj={"BPC0_1": {"BPCNAM": "x"}}).text()
    assert x3.soap("read", "WSBPC", keys={"BPCNUM": "NA001"}).status == 1
    assert x3.order("NA002").status == 1
    edit = x3.api1("BPCUSTOMER('NA001')", representation="BPCUSTOMER.$edit")
    assert edit.status_code == 503 and edit.json()["$diagnoses"][0]["$severity"] == "transient"
    assert x3.api1("BPCUSTOMER('NA001')", representation="BPCUSTOMER.$details").status_code == 200


def test_a_busy_pool_is_http_500_no_web_services_accepted_and_writes_nothing(x3: X3) -> None:
    x3.faults(pool_busy=True)
    response = x3.post(x3.envelope("save", "WSSOH", obj={"SOH0_1": {}}))
    assert response.status_code == 500 and b"No Web services accepted" in response.content
    assert x3.api1("SORDER", representation="SORDER.$query").status_code == 200  # api1 is not the SOAP pool
    x3.faults(pool_busy=False)
    assert x3.state()["orders"] == [] and x3.order().status == 1


def test_an_exhausted_licence_answers_slowly_then_stops_answering(x3: X3) -> None:
    x3.faults(licence={"exhausted": True, "grace_calls": 2, "slow_ms": 300, "hang_ms": 1500})
    started = time.monotonic()
    assert x3.soap("read", "WSBPC", keys={"BPCNUM": "NA001"}).status == 1
    assert x3.api1("BPCUSTOMER", representation="BPCUSTOMER.$query").status_code == 200
    assert time.monotonic() - started >= 0.6
    with pytest.raises(requests.ReadTimeout):
        x3.post(x3.envelope("read", "WSBPC", keys={"BPCNUM": "NA001"}), timeout=0.5)
    x3.faults(licence={"hang_ms": 0})
    with pytest.raises(requests.ConnectionError):
        x3.post(x3.envelope("read", "WSBPC", keys={"BPCNUM": "NA001"}), timeout=5)
    x3.faults(licence={"exhausted": False})
    assert x3.soap("read", "WSBPC", keys={"BPCNUM": "NA001"}).status == 1
    stats = requests.get(f"{x3.url}/_sandbox/stats", timeout=5).json()
    assert stats["faults_by_kind"]["licence_slow"] == 2 and stats["faults_by_kind"]["licence_stop"] == 2


def test_seeded_error_rate_is_reproducible(x3: X3) -> None:
    def run() -> list[int]:
        x3.faults(error_rate=0.5, seed=11)
        return [x3.post(x3.envelope("read", "WSBPC", keys={"BPCNUM": "NA001"})).status_code for _ in range(12)]

    first = run()
    assert set(first) == {200, 500} and run() == first


def test_bad_fault_settings_are_400(x3: X3) -> None:
    for body in ({"nope": 1}, {"pool_busy": "yes"}, {"licence": {"grace": 1}}, {"error_rate": 2},
                 {"locked": "NA001"}):
        assert requests.post(f"{x3.url}/_sandbox/faults", json=body, timeout=5).status_code == 400, body


# ---- REST api1 ------------------------------------------------------------------------------------
def test_api1_needs_auth_a_representation_and_the_right_endpoint(x3: X3) -> None:
    anon = requests.get(f"{x3.url}/api1/x3/erp/SEED/BPCUSTOMER", params={"representation": "BPCUSTOMER.$query"},
                        timeout=5)
    assert anon.status_code == 401 and anon.json()["$diagnoses"][0]["$severity"] == "error"
    missing = x3.api1("BPCUSTOMER")
    assert missing.status_code == 400 and "representation" in missing.json()["$diagnoses"][0]["$message"]
    assert x3.api1("BPCUSTOMER", representation="SORDER.$query").status_code == 400
    assert x3.api1("NOSUCH", representation="NOSUCH.$query").status_code == 404
    other = x3.http.get(f"{x3.url}/api1/x3/erp/OTHER/BPCUSTOMER", params={"representation": "BPCUSTOMER.$query"})
    assert other.status_code == 404


def test_api1_where_filters_and_refuses_what_it_cannot_read(x3: X3) -> None:
    page = x3.api1("BPCUSTOMER", representation="BPCUSTOMER.$query", where="(CRY eq 'US') and (CUR eq 'USD')")
    assert sorted(r["BPCNUM"] for r in page.json()["$resources"]) == ["NA001", "NA002"]
    quoted = x3.api1("BPCUSTOMER", representation="BPCUSTOMER.$query", where="BPCNAM eq 'O''Brien'")
    assert quoted.json()["$resources"] == []
    for where in ("BPCNUM = 'NA001'", "BPCNUM eq 'NA001' or CRY eq 'US'", "NOSUCH eq 'x'"):
        bad = x3.api1("BPCUSTOMER", representation="BPCUSTOMER.$query", where=where)
        assert bad.status_code == 400 and bad.json()["$diagnoses"][0]["$sdataCode"] == "BadWhereSyntax", where


def test_api1_pages_follow_links_next_and_details_read_one(x3: X3) -> None:
    for i in range(5):
        assert x3.order("NA001", ref=f"PAGE-{i}").status == 1
    url, seen = f"{x3.url}/api1/x3/erp/SEED/SORDER?representation=SORDER.$query&count=2", []
    while url:
        page = x3.http.get(url, timeout=5).json()
        assert len(page["$resources"]) <= 2
        seen += [r["CUSORDREF"] for r in page["$resources"]]
        url = page["$links"].get("$next", {}).get("$url")
    assert sorted(seen) == [f"PAGE-{i}" for i in range(5)]
    num = x3.api1("SORDER", representation="SORDER.$query", where="CUSORDREF eq 'PAGE-3'").json()["$resources"][0]
    one = x3.api1(f"SORDER('{num['SOHNUM']}')", representation="SORDER.$details").json()
    assert one["CUSORDREF"] == "PAGE-3" and one["ORDDAT"] == "2026-11-20" and one["SORDERQ"][0]["ITMREF"] == "PAYMENT"
    # a missing key answers 200 that still says "Record does not exist", as a published guide shows [C]
    gone = x3.api1("SORDER('NOPE')", representation="SORDER.$details")
    assert gone.status_code == 200 and gone.json()["$diagnoses"][0]["$severity"] == "error"
    assert "Record does not exist" in gone.json()["$diagnoses"][0]["$message"]


# ---- admin --------------------------------------------------------------------------------------
def test_items_can_be_added_and_reset_restores_the_seed(x3: X3) -> None:
    added = requests.post(f"{x3.url}/_sandbox/items", json={"ITMREF": "GADGET", "stock": 4}, timeout=5)
    assert added.status_code == 201 and added.json()["STOMGTCOD"] == 2
    assert requests.post(f"{x3.url}/_sandbox/items", json={"ITMREF": "GADGET"}, timeout=5).status_code == 400
    assert x3.order("NA001", ("GADGET", "6", "1.00")).result["SOH4_1"][0]["ALLQTY"] == "4"
    state = x3.state()
    assert {"PAYMENT", "WIDGET-1", "GADGET"} <= {i["ITMREF"] for i in state["items"]}
    assert {"10500", "10510", "11000", "40000", "62000"} <= {a["ACC"] for a in state["accounts"]}
    assert state["banks"][0]["BAN"] == "BOA" and "USD" in state["currencies"] and state["numbers"]
    requests.post(f"{x3.url}/_sandbox/reset", timeout=5).raise_for_status()
    state = x3.state()
    assert state["orders"] == [] and "GADGET" not in {i["ITMREF"] for i in state["items"]}
    assert {c["BPC0_1"]["BPCNUM"] for c in state["customers"]} == {"NA001", "NA002", "CA001"}


def test_stats_count_calls_by_operation_and_publication(x3: X3) -> None:
    x3.order()
    x3.order("NOBODY")
    x3.api1("SORDER", representation="SORDER.$query")
    stats = requests.get(f"{x3.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"]["SOAP save WSSOH"] == {"1": 1, "0": 1}
    assert stats["requests"]["REST SORDER"] == {"200": 1} and stats["saves"]["orders"] == 1
