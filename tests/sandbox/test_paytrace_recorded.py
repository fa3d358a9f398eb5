"""A PayTrace client no one here wrote, replayed against the sandbox; real recorded answers as the yardstick.

`AmClient` builds every request the way ActiveMerchant's PayTraceGateway does (pay_trace.rb): a
form-encoded password grant; JSON bodies with the amount as "x.xx" text and `username`, `password`
and `integrator_id` in every body; the body read whatever the HTTP status; its message worded as
AM's `message_from`. The scenarios are AM's remote tests, which ran against the real PayTrace
sandbox, and assert what they assert, verbatim. Each answer's field names and value types are held
against the answers AM (unit fixtures), narch/paytracer (VCR cassettes, Dec 2024) and PayTrace's
own samples (PayTrace/api-demo, PayTrace/paytrace_py) recorded or read.
"""
from __future__ import annotations

import pytest
import requests

from sandbox.paytrace import create_app
from sandbox.server import SandboxServer

USER, PASSWORD, INTEGRATOR = "integrations@example.com", "ErNsph", "9575315uXt4u"
# AM remote test cards and address (public test numbers).
VISA, MASTERCARD, DISCOVER, AMEX = "4012000098765439", "5499740000000057", "6011000993026909", "371449635392376"
ADDRESS = {"address1": "8320 This Way Lane", "city": "Placeville", "state": "CA", "zip": "85284"}

# Field -> type of each recorded answer (values differ run to run; names and types must not).
B, I, S, D = bool, int, str, dict
TXN = {"success": B, "response_code": I, "status_message": S, "transaction_id": I, "approval_code": S,
       "approval_message": S, "avs_response": S, "csc_response": S, "external_transaction_id": S}
RECORDED = {
    # AM unit fixtures successful_purchase_response / failed_purchase_response; VCR keyed sale
    "keyed": {**TXN, "masked_card_number": S},
    # VCR create_sale_by_customer / create_sale_by_transaction: nine fields, no masked number
    "by_customer": TXN, "by_transaction": TXN,
    # DEMO SwipedSaleJson reads these nine
    "swiped": TXN,
    "capture": {"success": B, "response_code": I, "status_message": S, "transaction_id": I,
                "external_transaction_id": S},
    "refund": {"success": B, "response_code": I, "status_message": S, "transaction_id": I,
               "external_transaction_id": S},
    # DEMO KeyedRefundJson reads these
    "keyed_refund": {"success": B, "response_code": I, "status_message": S, "transaction_id": I,
                     "external_transaction_id": S, "masked_card_number": S},
    "void": {"success": B, "response_code": I, "status_message": S, "transaction_id": I},
    "error_capture": {"success": B, "response_code": I, "status_message": S, "errors": D,
                      "external_transaction_id": S},
    "error_void": {"success": B, "response_code": I, "status_message": S, "errors": D},
    "level_3": {"success": B, "response_code": I, "status_message": S},
    "customer": {"success": B, "response_code": I, "status_message": S, "customer_id": S, "masked_card_number": S},
    "error_customer": {"success": B, "response_code": I, "status_message": S, "errors": D, "masked_card_number": S},
    "ach": {"success": B, "response_code": I, "status_message": S, "check_transaction_id": I},
    "ach_failed": {"success": B, "response_code": I, "status_message": S, "check_transaction_id": I, "ach_code": I,
                   "ach_message": S},
    "error_ach": {"success": B, "response_code": I, "status_message": S, "errors": D},
    "token": {"access_token": S, "token_type": S, "expires_in": I, "created_at": I},
    "ping": {"status": S},
}


def assert_recorded(kind: str, body: dict) -> None:
    """The answer has exactly the recorded fields, each of the recorded JSON type."""
    shape = RECORDED[kind]
    assert set(body) == set(shape), f"{kind}: {sorted(set(body) ^ set(shape))}"
    wrong = {k: type(body[k]).__name__ for k, t in shape.items() if type(body[k]) is not t}
    assert not wrong, f"{kind}: wrong JSON types {wrong}"


class AmClient:
    """The requests of ActiveMerchant's PayTraceGateway, as it sends them."""

    def __init__(self, url: str) -> None:
        self.url, self.http = url, requests.Session()
        self.token_answer = self.http.post(
            f"{url}/oauth/token", data=f"grant_type=password&username={requests.utils.quote(USER)}&password={PASSWORD}",
            headers={"Accept": "*/*", "Content-Type": "application/x-www-form-urlencoded"})
        self.token = self.token_answer.json()["access_token"]

    @staticmethod
    def amount(cents: int) -> str:
        return f"{cents / 100:.2f}"

    def commit(self, action: str, post: dict) -> tuple[dict, str]:
        post = {**post, "password": PASSWORD, "username": USER, "integrator_id": INTEGRATOR}
        answer = self.http.post(f"{self.url}/v1/{action}", json=post,
                                headers={"Content-type": "application/json", "Authorization": f"Bearer {self.token}"})
        self.last = answer
        body = answer.json()
        return body, self.message(body)

    @staticmethod
    def message(body: dict) -> str:
        """AM's message_from, word for word."""
        if body.get("success"):
            return body["status_message"]
        if body.get("errors"):
            return "Errors-" + "".join(f" code:{k}, message:{str(v).replace(chr(39), chr(34))}"
                                       for k, v in body["errors"].items())
        return f"{body.get('status_message') or ''} {body.get('approval_message')}"

    @staticmethod
    def card(number: str, month: int | str = 9, year: int | str = 2030, csc: str = "123") -> dict:
        return {"credit_card": {"number": number, "expiration_month": month, "expiration_year": year}, "csc": csc}

    def keyed(self, path: str, cents: int, number: str, **card) -> tuple[dict, str]:
        billing = {"street_address": ADDRESS["address1"], "city": ADDRESS["city"], "state": ADDRESS["state"],
                   "zip": ADDRESS["zip"], "name": "Longbob Longsen"}
        return self.commit(path, {"amount": self.amount(cents), **self.card(number, **card), "billing_address": billing})


@pytest.fixture()
def am():
    app = create_app(username=USER, password=PASSWORD, integrator_id=INTEGRATOR)
    with SandboxServer(app) as server:
        client = AmClient(server.url)
        client.settle = lambda: client.commit("transactions/settle", {})
        yield client


def test_the_token_the_ping_and_the_content_type_are_as_recorded(am):
    # Given AM's form-encoded grant, when PayTrace answers, then the token has the VCR shape and type
    assert_recorded("token", am.token_answer.json())
    assert am.token_answer.json()["token_type"] == "Bearer" and am.token_answer.json()["expires_in"] == 7200
    # and /v1/ping answers what paytrace_py checks, with every answer's recorded Content-Type
    ping = requests.get(f"{am.url}/v1/ping", timeout=5)
    assert ping.json() == {"status": "success"} and ping.headers["Content-Type"] == "application/json; charset=utf-8"
    assert am.token_answer.headers["Content-Type"] == "application/json; charset=utf-8"
    bad = requests.post(f"{am.url}/oauth/token", data={"grant_type": "password", "username": "u", "password": "p"})
    assert bad.json()["error_description"] == (
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in "
        "the authorization request, or was issued to another client.")  # AM test_failed_access_token


def test_purchase_decline_and_the_multiple_error_answer(am):
    body, message = am.keyed("transactions/sale/keyed", 1000, VISA, csc="999")  # test_successful_purchase
    assert message == "Your transaction was successfully approved."
    assert_recorded("keyed", body)
    assert am.last.headers["Content-Type"] == "application/json; charset=utf-8"
    body, _ = am.keyed("transactions/sale/keyed", 29, AMEX, csc="9997")  # test_failed_purchase
    assert body["success"] is False and body["response_code"] == 102
    assert_recorded("keyed", body)  # the recorded decline carries the masked number too
    # test_failed_purchase_with_multiple_errors: 54545454545454, month 14, year 1999 -> 35 and 43, no 44
    body, message = am.keyed("transactions/sale/keyed", 25000, "54545454545454", month="14", year="1999")
    assert message == ('Errors- code:35, message:["Please provide a valid Credit Card Number."] '
                       'code:43, message:["Please provide a valid Expiration Month."]')


def test_authorize_capture_partial_capture_verify_and_the_expired_card(am):
    auth, _ = am.keyed("transactions/authorization/keyed", 4000, VISA)
    capture, message = am.commit("transactions/authorization/capture",
                                 {"transaction_id": auth["transaction_id"], "amount": am.amount(4000)})
    assert message == "Your transaction was successfully captured."
    assert_recorded("capture", capture)
    partial, _ = am.keyed("transactions/authorization/keyed", 500, AMEX, csc="9997")  # test_partial_capture
    assert am.commit("transactions/authorization/capture",
                     {"transaction_id": partial["transaction_id"], "amount": am.amount(200)})[0]["success"] is True
    # test_successful_verify: authorize(0) is a card check, approved
    assert am.keyed("transactions/authorization/keyed", 0, MASTERCARD, csc="998")[1] == \
        "Your transaction was successfully approved."
    # test_failed_authorize: $0.29 on the Mastercard
    assert am.keyed("transactions/authorization/keyed", 29, MASTERCARD)[1] == \
        "Your transaction was not approved.   EXPIRED CARD - Expired card"


def test_a_blank_transaction_id_is_58_on_capture_and_on_void(am):
    body, message = am.commit("transactions/authorization/capture", {"transaction_id": "", "amount": "1.00"})
    assert message == 'Errors- code:58, message:["Please provide a valid Transaction ID."]'  # test_failed_capture
    assert_recorded("error_capture", body)
    body, message = am.commit("transactions/void", {"transaction_id": ""})
    assert message == 'Errors- code:58, message:["Please provide a valid Transaction ID."]'  # test_failed_void
    assert_recorded("error_void", body)


def test_refunds_settled_only_in_full_or_part_and_the_817_text(am):
    sale, _ = am.keyed("transactions/sale/keyed", 2000, VISA)
    body, message = am.commit("transactions/refund/for_transaction",
                              {"transaction_id": sale["transaction_id"], "amount": am.amount(2000)})
    assert message == ('Errors- code:817, message:["The Transaction ID that you provided could not be refunded. Only '
                       'settled transactions can be refunded.  Please try to void the transaction instead."]')
    other, _ = am.keyed("transactions/sale/keyed", 400, MASTERCARD)
    assert am.settle()[0]["success"] is True
    refund, message = am.commit("transactions/refund/for_transaction",
                                {"transaction_id": other["transaction_id"], "amount": am.amount(300)})
    assert message == "Your transaction was successfully refunded."  # test_partial_refund
    assert_recorded("refund", refund)
    void_auth, _ = am.keyed("transactions/authorization/keyed", 100, AMEX)
    voided, message = am.commit("transactions/void", {"transaction_id": void_auth["transaction_id"]})
    assert message == "Your transaction was successfully voided."
    assert_recorded("void", voided)


def test_level_three_data_after_a_visa_sale_and_a_mastercard_capture(am):
    # test_successful_purchase_with_level_3_data_visa: the sale, then level_three/visa with its id
    sale, _ = am.keyed("transactions/sale/keyed", 3000, VISA)
    post = {"transaction_id": sale["transaction_id"], "invoice_id": "inv12345", "customer_reference_id": "123abcd",
            "tax_amount": 499, "source_address": {"zip": "94947"}, "shipping_address": {"zip": "94948", "country": "US"},
            "line_items": [{"amount": 1999, "description": "plumbing", "product_id": "skucode123", "quantity": 4}]}
    body, message = am.commit("level_three/visa", post)
    assert message == (f"Visa/MasterCard enhanced data was successfully added to Transaction ID "
                       f"{sale['transaction_id']}. 1 line item records were created.")
    assert_recorded("level_3", body)
    auth, _ = am.keyed("transactions/authorization/keyed", 100, MASTERCARD)
    capture, _ = am.commit("transactions/authorization/capture",
                           {"transaction_id": auth["transaction_id"], "amount": am.amount(100)})
    lines = [{"description": "office supplies", "product_id": "sku9876"},
             {"description": "business services", "product_id": "sku3456"}]
    body, _ = am.commit("level_three/mastercard", {"transaction_id": capture["transaction_id"], "line_items": lines})
    assert body["success"] is True and body["response_code"] == 170 and "2 line item records" in body["status_message"]


def test_the_vault_store_duplicate_purchase_and_unstore(am):
    stored, _ = am.commit("customer/create", {"customer_id": "0f3c9a1b2d4e", **am.card(MASTERCARD),
                                              "billing_address": {"name": "Longbob Longsen"}})
    assert_recorded("customer", stored)
    again, _ = am.commit("customer/create", {"customer_id": "0f3c9a1b2d4e", **am.card(DISCOVER),
                                             "billing_address": {"name": "Longbob Longsen"}})
    assert again["errors"] == {"171": ["Please provide a unique customer ID."]}  # test_duplicate_customer_creation
    assert_recorded("error_customer", again)
    sale, message = am.commit("transactions/sale/by_customer", {"amount": am.amount(500), "customer_id": "0f3c9a1b2d4e"})
    assert message == "Your transaction was successfully approved."
    assert_recorded("by_customer", sale)
    assert am.commit("customer/delete", {"customer_id": "0f3c9a1b2d4e"})[0]["success"] is True


def test_ach_sale_hold_fund_void_and_the_refused_check(am):
    check = {"check": {"account_number": "384756", "routing_number": "325070760"},
             "billing_address": {"name": "Jim Smith"}}
    body, message = am.commit("checks/sale/by_account", {"amount": am.amount(1000), **check})
    assert message == "Your check was successfully processed."  # test_successful_purchase_with_ach
    assert_recorded("ach", body)
    hold, _ = am.commit("checks/hold/by_account", {"amount": am.amount(500), **check})
    funded, _ = am.commit("checks/manage/fund", {"check_transaction_id": hold["check_transaction_id"],
                                                 "amount": am.amount(500)})
    assert funded["response_code"] == 124 and funded["status_message"] == "Your check was successfully managed."
    assert_recorded("ach", funded)
    held, _ = am.commit("checks/hold/by_account", {"amount": am.amount(100), **check})
    assert am.commit("checks/manage/void", {"check_transaction_id": held["check_transaction_id"]})[0]["success"]
    refused, _ = am.commit("checks/sale/by_account", {"amount": am.amount(21), **check})
    assert refused["status_message"] == "Your check was NOT successfully processed."
    assert_recorded("ach_failed", refused)
    gone, _ = am.commit("checks/manage/void", {"check_transaction_id": 9981614})
    assert gone["errors"] == {"80": ["The Check ID that you have provided was not found in the PayTrace records. "
                                     "It may already be voided or settled."]}
    assert_recorded("error_ach", gone)
    lost, _ = am.commit("checks/refund/by_transaction", {"check_transaction_id": 9981632, "amount": "1.00"})
    assert lost["errors"] == {"80": ["The Check ID that you provided was not found in the PayTrace record."]}


def test_the_other_recorded_endpoints_sale_by_transaction_keyed_refund_and_swiped(am):
    first, _ = am.keyed("transactions/sale/keyed", 1000, VISA)
    # narch/paytracer create_sale_by_transaction: 200, 101, nine fields, no masked number
    again, _ = am.commit("transactions/sale/by_transaction", {"transaction_id": str(first["transaction_id"]),
                                                             "amount": 19.95})
    assert am.last.status_code == 200 and again["response_code"] == 101 and again["transaction_id"] != first[
        "transaction_id"]
    assert_recorded("by_transaction", again)
    # DEMO KeyedRefundJson: 106 with the masked number
    refund, _ = am.commit("transactions/refund/keyed", {"amount": "4.45", **am.card("5454545454545454", "09", "2030"),
                                                        "billing_address": {"name": "Yoda"}})
    assert refund["response_code"] == 106 and refund["masked_card_number"] == "xxxxxxxxxxxx5454"
    assert_recorded("keyed_refund", refund)
    # DEMO SwipedSaleJson: track data in, 101 out; the sandbox keeps no track data
    track = "%B4012881888818888^Demo/Customer^3012101001020001000000701000000?;4012881888818888=30121010010270100001?"
    swiped, _ = am.commit("transactions/sale/swiped", {"amount": "4.50", "swipe": track, "csc": "999"})
    assert swiped["response_code"] == 101
    assert_recorded("swiped", swiped)
    state = requests.get(f"{am.url}/_sandbox/state", timeout=5).text
    assert "Demo/Customer" not in state and "4012881888818888" not in state
