"""Sage X3 mapping, config and error policy: pure functions, no server."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
import zeep.exceptions
from hypothesis import given, strategies as st

from config.settings import Secret, load_settings
from connectors.errors import (ConfigurationError, NotFoundError, PermanentError, RetriableError, SkippableError,
                               ValidationError)
from connectors.sage_x3 import SageX3Config, SageX3Layout, answers, mapping, query
from connectors.sage_x3.client import failure, validate
from schemas.domain import Address, Customer, JournalEntry, JournalLine, OrderLine, Payment, SalesOrder

CFG = SageX3Config("http://x3", "admin", Secret("pw"))
LAYOUT = SageX3Layout()


def _order(order_ref=None) -> SalesOrder:
    return SalesOrder("PT1-SO", "C1", date(2026, 11, 20),
                      (OrderLine("PAYMENT", Decimal("2"), Decimal("6.17"), "two things"),), order_ref=order_ref)


# ---- customers ------------------------------------------------------------------------------------
def test_a_short_clean_customer_id_is_its_own_bpcnum():
    assert mapping.bpcnum_for("Cab12cd34", 15) == "Cab12cd34"
    assert mapping.bpcnum_for("PT-cust42", 15) == "PT-cust42"


def test_a_long_customer_id_maps_to_a_stable_bpcnum_that_fits():
    long_id = "PTC-ABCDEFGHIJKLMNOP"
    bpc = mapping.bpcnum_for(long_id, 15)
    assert bpc == mapping.bpcnum_for(long_id, 15) and len(bpc) == 15 and bpc.startswith("PTC-ABCD-")
    assert bpc != mapping.bpcnum_for("PTC-ABCDEFGHIJKLMNOQ", 15)  # same prefix, different id
    assert len(mapping.bpcnum_for(long_id, 10)) == 10 and mapping.bpcnum_for("a b", 15) != "a b"


@given(st.text(min_size=1, max_size=40), st.integers(8, 20))
def test_every_customer_id_gets_a_bpcnum_x3_accepts(customer_id, length):
    bpc = mapping.bpcnum_for(customer_id, length)
    assert 1 <= len(bpc) <= length and all(c.isascii() and (c.isalnum() or c in "-_") for c in bpc)
    assert bpc == mapping.bpcnum_for(customer_id, length)


def test_customer_object_uses_the_wsbpc_groups_and_defaults_the_country():
    c = Customer("C1", "Ada Lovelace" * 4, "ada@example.com", "555", Address(line1="1 Main", city="Spokane",
                                                                            state="WA", postal_code="99201"))
    obj = mapping.customer_object(c, "C1", "USD")
    assert obj["BPC0_1"] == {"BPCNUM": "C1", "BPCNAM": ("Ada Lovelace" * 4)[:35]}
    # a name longer than BPCNAM goes on in the company name's second line: the whole 48 characters kept
    assert "".join(obj["BPRC_1"]["BPRNAM"]) == "Ada Lovelace" * 4
    assert obj["BPRC_1"]["CRY"] == "US" and obj["BPRC_1"]["CUR"] == "USD" and len(obj["BPRC_1"]["BPRSHO"]) == 10
    # phone and e-mail in the address's TEL1 / WEB1 screen fields [C], never TEL / WEB
    address = obj["BPAC_1"][0]
    assert address["CTY"] == "Spokane" and (address["WEB1"], address["TEL1"]) == ("ada@example.com", "555")
    assert "WEB" not in address and "TEL" not in address
    assert mapping.customer_object(c, "C1", "CAD")["BPRC_1"]["CRY"] == "CA"


def test_customer_changes_sends_only_what_differs_and_never_blanks():
    wanted = mapping.customer_object(Customer("C1", "Ada", address=Address(city="Spokane", country="US")), "C1", "USD")
    same = json.loads(json.dumps(wanted))
    assert mapping.customer_changes(same, wanted) == {}
    renamed = {**same, "BPC0_1": {**same["BPC0_1"], "BPCNAM": "Old"}}
    assert mapping.customer_changes(renamed, wanted) == {"BPC0_1": {"BPCNAM": "Ada"}}
    moved = {**same, "BPAC_1": [{**same["BPAC_1"][0], "CTY": "Seattle"}]}
    assert mapping.customer_changes(moved, wanted) == {"BPAC_1": wanted["BPAC_1"]}


# ---- documents ------------------------------------------------------------------------------------
def test_order_object_has_real_field_codes_and_ymd_dates():
    obj = mapping.order_object(_order(), CFG)
    assert obj["SOH0_1"] == {"SALFCY": "NA011", "SOHTYP": "SON", "SOHNUM": "", "CUSORDREF": "PT1-SO", "BPCORD": "C1",
                             "ORDDAT": "20261120", "CUR": "USD"}
    assert obj["SOH4_1"] == [{"ITMREF": "PAYMENT", "ITMDES1": "two things", "QTY": "2", "GROPRI": "6.17"}]


def test_invoice_object_names_the_order_it_bills_only_when_there_is_one():
    assert "SOHNUM" not in mapping.invoice_object(_order(), CFG)["SIH4_1"][0]
    obj = mapping.invoice_object(_order("SON123"), CFG)
    assert obj["SIH0_1"]["INVREF"] == "PT1-SO" and obj["SIH0_1"]["BPCINV"] == "C1" and obj["SIH0_1"]["NUM"] == ""
    assert obj["SIH4_1"][0]["SOHNUM"] == "SON123"
    custom = SageX3Config("http://x3", "a", Secret("p"), layout=SageX3Layout(invoice_order_field="ORINUM"))
    assert mapping.invoice_object(_order("SON123"), custom)["SIH4_1"][0]["ORINUM"] == "SON123"


def test_payment_object_applies_the_amount_to_the_invoice():
    obj = mapping.payment_object(Payment("PT1-RCP", "C1", date(2026, 11, 20), Decimal("12.3"), "INV9", "10500",
                                         "CB"), CFG)
    # the groups public clients write [C]: NUM (and the transaction) in PAY0_1, the party in PAY1_1, the
    # amounts in PAY1_2, the line in table PAY1_4 with its payment attribute DENCOD
    assert obj["PAY0_1"] == {"NUM": "", "PAYTYP": "RCPCB"}
    assert obj["PAY1_1"] == {"FCY": "NA011", "BPR": "C1"}
    money = obj["PAY1_2"]
    assert (money["ACCDAT"], money["BAN"], money["CUR"], money["AMTCUR"], money["REF"], money["CHQNUM"], money["PAM"]) \
        == ("20261120", "BOA", "USD", "12.30", "PT1-RCP", "PT1-RCP", "CB")
    assert obj["PAY1_4"] == [{"DENCOD": "REC", "VCRTYP": "INV", "VCRNUM": "INV9", "AMTLIN": "12.30"}]
    # a site's control account and address go in PAY1_1 when set
    site = SageX3Config("http://x3", "u", Secret("p"), layout=SageX3Layout.from_overrides(
        {"payment_control_account": "41100000", "payment_address": "MAIN", "payment_line_code": "ZAREC"}))
    obj = mapping.payment_object(Payment("R", "C1", date(2026, 11, 20), Decimal("1"), "I", "10500", "CB"), site)
    assert obj["PAY1_1"] == {"FCY": "NA011", "BPR": "C1", "ACC": "41100000", "BPAINV": "MAIN"}
    assert obj["PAY1_4"][0]["DENCOD"] == "ZAREC"


def test_journal_lines_carry_positive_amounts_and_sns_for_the_side():
    entry = JournalEntry("PT1-JE", date(2026, 11, 20), "card", (JournalLine("10510", Decimal("5.00")),
                                                               JournalLine("10500", Decimal("-5.00"), "cash")))
    obj = mapping.journal_object(entry, CFG)
    assert obj["GAS0_1"] == {"TYP": "ODT", "JOU": "MISC", "FCY": "NA011", "ACCDAT": "20261120", "REF": "PT1-JE",
                             "CUR": "USD", "DESVCR": "card"}
    assert [(l["ACC"], l["SNS"], l["AMTCUR"], l["DES"]) for l in obj["GAS1_1"]] == \
        [("10510", 1, "5.00", "card"), ("10500", -1, "5.00", "cash")]


def test_field_names_lists_every_field_once():
    assert mapping.field_names({"A": {"X": 1, "Y": 2}, "T": [{"Y": 1, "Z": 2}, {"Z": 3}]}) == ["X", "Y", "Z"]


# ---- answers ----------------------------------------------------------------------------------------
def test_parse_result_reads_json_and_result_xml_alike():
    as_json = answers.parse_result('{"SOH0_1": {"SOHNUM": "SON1"}, "SOH4_1": [{"ITMREF": "A"}]}')
    as_xml = answers.parse_result('<?xml version="1.0"?><RESULT><GRP ID="SOH0_1"><FLD NAME="SOHNUM">SON1</FLD></GRP>'
                                  '<TAB ID="SOH4_1"><LIN NUM="1"><FLD NAME="ITMREF">A</FLD></LIN></TAB></RESULT>')
    assert as_json == as_xml == {"SOH0_1": {"SOHNUM": "SON1"}, "SOH4_1": [{"ITMREF": "A"}]}
    assert answers.parse_result(None) == {}
    assert answers.key_of("sales_order", as_json, LAYOUT) == "SON1"
    assert answers.key_of("journal", {"GAS0_1": {"NUM": "J1"}}, LAYOUT) == "J1"


def test_api1_resources_become_documents_with_amount_and_customer():
    order = answers.document("sales_order", {"SOHNUM": "SON1", "CUSORDREF": "R", "ORDNOT": 12.34, "BPCORD": "C1"},
                             LAYOUT)
    assert (order.key, order.reference, order.amount, order.customer_id) == ("SON1", "R", Decimal("12.34"), "C1")
    invoice = answers.document("invoice", {"NUM": "I1", "INVREF": "R", "AMTNOT": 5, "BPCINV": "C1"}, LAYOUT)
    assert invoice.amount == Decimal("5") and invoice.customer_id == "C1"
    payment = answers.document("payment", {"NUM": "P1", "REF": "R", "AMTCUR": 5.5, "BPR": "C1"}, LAYOUT)
    assert payment.amount == Decimal("5.5")
    journal = answers.document("journal", {"NUM": "J1", "REF": "R", "GACCENTRYD": [
        {"SNS": 1, "AMTCUR": 3.1}, {"SNS": 1, "AMTCUR": 2}, {"SNS": -1, "AMTCUR": 5.1}]}, LAYOUT)
    assert (journal.key, journal.amount, journal.customer_id) == ("J1", Decimal("5.1"), None)


def test_where_clauses_double_quotes():
    assert query.where_eq("REF", "O'Brien") == "REF eq 'O''Brien'"


# ---- config -------------------------------------------------------------------------------------------
def test_config_from_settings_takes_layout_overrides_and_hides_the_password():
    settings = load_settings({"PAYSYNC_ENV": "test", "SAGEX3_PASSWORD": "x3-secret-pw", "SAGEX3_PUB_PAYMENT": "YPAY",
                              "SAGEX3_LAYOUT": '{"bpcnum_length": 10, "payment_type_field": "BPRPAY"}'})
    cfg = settings.sage_x3
    assert cfg.pub_payment == "YPAY" and cfg.layout.bpcnum_length == 10 and cfg.layout.payment_type_field == "BPRPAY"
    assert "x3-secret-pw" not in repr(cfg) and cfg.password.reveal() == "x3-secret-pw"


@pytest.mark.parametrize("overrides", [{"no_such": "x"}, {"bpcnum_length": "15"}, {"bpcnum_length": 0},
                                       {"journal_type": ""}])
def test_a_bad_layout_override_is_a_configuration_error(overrides):
    with pytest.raises(ConfigurationError):
        SageX3Layout.from_overrides(overrides)


# ---- the error policy (client.validate / client.failure) -----------------------------------------------
def _result(status, *messages, result=None):
    return SimpleNamespace(status=status, resultXml=result,
                           messages=[{"type": t, "message": m} for t, m in messages])


def test_a_successful_soap_result_is_its_parsed_result_xml():
    assert validate(_result(1, result='{"G": {"F": "v"}}'), operation="save WSSOH") == {"G": {"F": "v"}}


@pytest.mark.parametrize("message, operation, error, field", [
    ("SOH4_1 line 1 : ITMREF : NO-SUCH-ITEM : Record does not exist", "save WSSOH", ValidationError, "ITMREF"),
    ("AMTCUR : Unbalanced entry: debit 10.00 credit 9.99", "save WSGAS", ValidationError, "AMTCUR"),
    ("BPCINV : C1 : Locked record (BPCUSTOMER in use)", "save WSSIH", RetriableError, None),
    ("Change In Progress on another workstation", "modify WSBPC", RetriableError, None),
    ("BPCNUM : C1 : Record that already exists", "save WSBPC", SkippableError, None),
    ("BPCNUM : C1 : Record does not exist", "read WSBPC", NotFoundError, None),
])
def test_soap_status_0_type_3_is_classified_by_its_message(message, operation, error, field):
    with pytest.raises(error) as caught:
        validate(_result(0, ("3", message), ("1", "info")), operation=operation, fields=["ITMREF", "QTY", "AMTCUR"])
    assert type(caught.value) is error and caught.value.status == 200 and message in str(caught.value)
    if field:
        assert caught.value.field == field


def _response(status: int, body: dict | str, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    response.headers.update(headers)
    return response


def _diag(severity: str, message: str = "m") -> dict:
    return {"$diagnoses": [{"$severity": severity, "$message": message}]}


def test_api1_answers_follow_the_rest_policy():
    assert validate(_response(200, {"$resources": []}), operation="GET") == {"$resources": []}
    cases = [(_response(503, _diag("transient", "Locked record"), **{"Retry-After": "2"}), RetriableError),
             (_response(409, _diag("transient")), RetriableError), (_response(404, _diag("error")), NotFoundError),
             (_response(401, _diag("error")), ConfigurationError), (_response(400, _diag("error")), PermanentError),
             (_response(500, "<html>oops</html>"), RetriableError), (_response(200, "[]"), PermanentError)]
    for response, error in cases:
        with pytest.raises(error) as caught:
            validate(response, operation="GET SORDER.$query")
        assert type(caught.value) is error, (response.status_code, error)
    with pytest.raises(RetriableError) as caught:
        validate(cases[0][0], operation="GET")
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize("exc, error", [
    (requests.ReadTimeout(), RetriableError), (requests.ConnectionError("reset"), RetriableError),
    (zeep.exceptions.Fault("No Web services accepted"), RetriableError),
    (zeep.exceptions.Fault("Pool alias 'X' is not defined"), ConfigurationError),
    (zeep.exceptions.TransportError(status_code=500, content=b"No Web services accepted"), RetriableError),
    (zeep.exceptions.TransportError(status_code=401, content=b"Unauthorized"), ConfigurationError),
    (zeep.exceptions.TransportError(status_code=400, content=b"bad"), PermanentError),
    (zeep.exceptions.XMLSyntaxError("cut"), RetriableError),
])
def test_failed_calls_follow_the_transport_policy(exc, error):
    assert type(failure(exc, operation="save WSSOH")) is error
