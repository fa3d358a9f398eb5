"""PayTrace simulator tests: real HTTP on loopback against facts in shared/reference/paytrace.md."""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests

from sandbox.paytrace import STATE_KEY, create_app
from sandbox.server import SandboxServer

INTEGRATOR = "PAYSYNC1"
# 18:00 UTC on 14 March 2025 is 11:00 AM Pacific (PDT), far from any date boundary.
BASE = datetime(2025, 3, 14, 18, 0, 0, tzinfo=timezone.utc)
TODAY = "03/14/2025"
TEST_CARDS = {  # reference §9
    "visa": "4012000098765439",
    "mastercard": "5499740000000057",
    "discover": "6011000993026909",
    "amex": "371449635392376",
    "visa_demo": "4111111111111111",
    "visa_demo2": "4012881888818888",
    "mastercard_demo": "5454545454545454",
}
TIMESTAMP = re.compile(r"^(1[0-2]|[1-9])/([1-9]|[12][0-9]|3[01])/\d{4} (1[0-2]|[1-9]):[0-5]\d:[0-5]\d (AM|PM)$")
ERRORS_MESSAGE = "One or more errors has occurred."


@pytest.fixture(scope="module")
def server():
    app = create_app(username="demo", password="demo", integrator_id=INTEGRATOR,
                     clock=lambda: BASE, token_ttl=7200)
    with SandboxServer(app, port=0) as running:
        running.state = app.config[STATE_KEY]
        yield running


class Api:
    """A thin PayTrace v1 client for the tests: token handling and the integrator_id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.token = self.grant().json()["access_token"]

    def grant(self, username: str = "demo", password: str = "demo", **kwargs) -> requests.Response:
        data = {"grant_type": "password", "username": username, "password": password}
        return self.http.post(f"{self.url}/oauth/token", data=data, **kwargs)

    def post(self, path: str, body: dict | None = None, token: str | None = "default",
             integrator: str | None = INTEGRATOR) -> requests.Response:
        body = dict(body or {})
        if integrator is not None:
            body["integrator_id"] = integrator
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        return self.http.post(f"{self.url}/v1/{path}", json=body, headers=headers)

    def admin(self, path: str, body: dict | None = None) -> dict:
        method = self.http.post if body is not None else self.http.get
        response = method(f"{self.url}/_sandbox/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def sale(self, amount="10.00", card="visa", path="transactions/sale/keyed", **extra):
        body = {"amount": amount, "csc": "999",
                "credit_card": {"number": TEST_CARDS.get(card, card),
                                "expiration_month": 12, "expiration_year": 2030},
                "billing_address": {"name": "Kevin Buyer", "street_address": "8320 E Main",
                                    "city": "Spokane", "state": "WA", "zip": "85284",
                                    "country": "US"}}
        body.update(extra)
        return self.post(path, body)

    def approved_id(self, **kwargs) -> int:
        response = self.sale(**kwargs)
        assert response.status_code == 200, response.text
        return response.json()["transaction_id"]

    def record(self, txn_id: int, **extra) -> dict:
        response = self.post("transactions/export/by_id", {"transaction_id": txn_id, **extra})
        assert response.status_code == 200, response.text
        return response.json()["transactions"][0]


@pytest.fixture()
def api(server):
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return Api(server.url)


def assert_error(response: requests.Response, code: str, message: str | None = None) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["response_code"] == 1
    assert body["status_message"] == ERRORS_MESSAGE
    # capture and refund errors echo external_transaction_id; void, vault and batch errors do not [C]
    assert body.get("external_transaction_id", "") == ""
    assert code in body["errors"], body
    if message is not None:
        assert body["errors"][code] == [message]
    return body


# ----- OAuth --------------------------------------------------------------------------------
def test_token_grant_shape(api):
    response = api.grant()
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]+:[0-9a-f]+:[0-9a-f]+", body["access_token"])
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    assert body["created_at"] == int(BASE.timestamp())
    assert "/v1" not in response.url


def test_token_grant_accepts_json_body(api):
    response = api.http.post(f"{api.url}/oauth/token", json={
        "grant_type": "password", "username": "demo", "password": "demo"})
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"


def test_invalid_grant(api):
    response = api.grant(password="wrong")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The provided authorization grant is invalid, expired, revoked, does "
                             "not match the redirection URI used in the authorization request, or "
                             "was issued to another client."}


@pytest.mark.parametrize("token", [None, "abc:def:123"])
def test_missing_or_unknown_token_is_401(api, token):
    response = api.post("transactions/settle", {}, token=token)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token",
                               "error_description": "The access token is invalid"}


def test_token_expires_by_the_clock(api):
    api.admin("clock", {"advance_seconds": 7199})
    assert api.post("transactions/settle").status_code == 200
    api.admin("clock", {"advance_seconds": 2})
    response = api.post("transactions/settle")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "expired" in response.json()["error_description"]
    api.token = api.grant().json()["access_token"]  # a fresh grant works again
    assert api.post("transactions/settle").status_code == 200


def test_admin_expire_tokens(api):
    assert api.admin("expire_tokens", {})["expired"] >= 1
    assert api.post("transactions/settle").status_code == 401


def test_ping_needs_no_auth(api):
    assert requests.get(f"{api.url}/v1/ping", timeout=5).status_code == 200
    assert requests.post(f"{api.url}/v1/ping", timeout=5).status_code == 200


# ----- integrator_id ------------------------------------------------------------------------
def test_integrator_id_missing_is_970(api):
    response = api.post("transactions/settle", {}, integrator=None)
    assert_error(response, "970", "Param is missing or the value is empty: integrator_id")


def test_integrator_id_wrong_is_971(api):
    response = api.post("transactions/settle", {}, integrator="BOGUS")
    assert_error(response, "971", "Please provide a valid integrator_id.")


# ----- keyed sales --------------------------------------------------------------------------
@pytest.mark.parametrize("card", sorted(TEST_CARDS))
def test_keyed_sale_approves_each_test_card(api, card):
    response = api.sale(card=card)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "response_code", "status_message", "transaction_id",
                         "approval_code", "approval_message", "avs_response", "csc_response",
                         "external_transaction_id", "masked_card_number"}
    assert body["success"] is True and body["response_code"] == 101
    assert body["status_message"] == "Your transaction was successfully approved."
    assert isinstance(body["transaction_id"], int) and body["transaction_id"] >= 100000000
    assert re.fullmatch(r"TAS\d{3}", body["approval_code"])
    assert body["approval_message"] == "EXACT MATCH - Approved and completed"
    assert body["avs_response"] == "Full Exact Match" and body["csc_response"] == "Match"
    assert body["external_transaction_id"] == ""
    assert body["masked_card_number"] == "x" * 12 + TEST_CARDS[card][-4:]


def test_no_avs_match_keeps_paytrace_whitespace(api):
    body = api.sale(billing_address={"name": "A", "street_address": "1 Elm", "zip": "99201"}).json()
    assert body["approval_message"] == "  NO  MATCH - Approved and completed"
    assert body["avs_response"] == "No Match"


def test_luhn_failure_is_35_and_bad_month_is_43(api):
    response = api.sale(card="4012000098765438", credit_card={
        "number": "4012000098765438", "expiration_month": 13, "expiration_year": 2030})
    body = assert_error(response, "35", "Please provide a valid Credit Card Number.")
    assert body["errors"]["43"] == ["Please provide a valid Expiration Month."]
    assert api.admin("state")["transactions"] == []


@pytest.mark.parametrize("amount", ["0", "-1.00", "10.001", "abc"])
def test_invalid_amount_is_rejected(api, amount):
    response = api.sale(amount=amount)
    assert response.status_code == 400 and response.json()["success"] is False
    assert "errors" in response.json()


def test_amount_as_json_number_is_exact(api):
    txn_id = api.approved_id(amount=51.88)  # a JSON number, read by the server as Decimal
    response = api.post("transactions/export/by_id", {"transaction_id": txn_id})
    assert '"amount":51.88' in response.text
    assert response.json(parse_float=Decimal)["transactions"][0]["amount"] == Decimal("51.88")


@pytest.mark.parametrize("amount, message", [
    ("0.21", "    DECLINE - Insufficient funds"),
    ("0.29", "  EXPIRED CARD - Expired card"),
    ("1.12", "    DECLINE - Do not honor"),
])
def test_trigger_amounts_decline(api, amount, message):
    response = api.sale(amount=amount)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["response_code"] == 102
    assert body["status_message"] == "Your transaction was not approved."
    assert body["approval_message"] == message and body["approval_code"] == ""
    assert isinstance(body["transaction_id"], int)
    record = api.record(body["transaction_id"])
    assert record["transaction_type"] == "DECLINED" and record["status_code"] == "N"
    assert_error(api.post("transactions/void", {"transaction_id": body["transaction_id"]}), "818")


# ----- state machine ------------------------------------------------------------------------
def test_auth_capture_settle_refund(api):
    auth = api.sale(amount="100.00", path="transactions/authorization/keyed").json()
    assert auth["response_code"] == 101
    txn_id = auth["transaction_id"]
    record = api.record(txn_id)
    assert (record["transaction_type"], record["status_code"]) == ("AUTHORIZATION", "N")
    assert record["status_message"] == "Authorization Only"
    assert_error(api.post("transactions/refund/for_transaction", {"transaction_id": txn_id}), "817")

    captured = api.post("transactions/authorization/capture", {"transaction_id": txn_id,
                                                               "amount": "80.00"})
    assert captured.status_code == 200
    assert captured.json() == {"success": True, "response_code": 112,
                               "status_message": "Your transaction was successfully captured.",
                               "transaction_id": txn_id, "external_transaction_id": ""}
    assert api.record(txn_id)["status_code"] == "Y"
    assert_error(api.post("transactions/authorization/capture", {"transaction_id": txn_id}), "816")

    settled = api.post("transactions/settle").json()
    assert settled["success"] is True and settled["response_code"] == 175
    batch = settled["batch_number"]
    record = api.record(txn_id)
    assert record["status_code"] == f"GB{batch}" and TIMESTAMP.match(record["settled"])
    assert_error(api.post("transactions/void", {"transaction_id": txn_id}), "818")

    first = api.post("transactions/refund/for_transaction", {"transaction_id": txn_id,
                                                             "amount": "30.00"})
    assert first.status_code == 200 and first.json()["response_code"] == 106
    refund_id = first.json()["transaction_id"]
    assert refund_id != txn_id
    too_much = api.post("transactions/refund/for_transaction", {"transaction_id": txn_id,
                                                                "amount": "50.01"})
    assert too_much.status_code == 400 and too_much.json()["success"] is False
    rest = api.post("transactions/refund/for_transaction", {"transaction_id": txn_id})
    assert rest.status_code == 200
    assert api.record(rest.json()["transaction_id"])["amount"] == 50.0
    again = api.post("transactions/refund/for_transaction", {"transaction_id": txn_id,
                                                             "amount": "0.01"})
    assert again.status_code == 400

    refund = api.record(refund_id)
    assert refund["transaction_type"] == "REFUND" and refund["status_code"] == "Y"
    assert refund["amount"] == 30.0
    # No public record shows a link from a refund to its sale, so by default none is exported: what
    # links it is what the sale's record carries too (its invoice id, customer, masked card).
    sale = api.record(txn_id)
    assert "original_transaction_id" not in refund
    assert (refund["invoice_id"], refund["credit_card"]) == (sale["invoice_id"], sale["credit_card"])


def test_a_sandbox_asked_for_it_exports_the_invented_refund_link():
    app = create_app(username="demo", password="demo", integrator_id=INTEGRATOR, clock=lambda: BASE,
                     refund_links=True)
    with SandboxServer(app, port=0) as running:
        linked = Api(running.url)
        txn_id = linked.approved_id()
        assert linked.post("transactions/settle").status_code == 200
        refund_id = linked.post("transactions/refund/for_transaction", {"transaction_id": txn_id}).json()[
            "transaction_id"]
        assert linked.record(refund_id)["original_transaction_id"] == txn_id


def test_sale_void_and_its_errors(api):
    txn_id = api.approved_id()
    assert_error(api.post("transactions/refund/for_transaction", {"transaction_id": txn_id}), "817")
    assert_error(api.post("transactions/authorization/capture", {"transaction_id": txn_id}), "816")
    voided = api.post("transactions/void", {"transaction_id": txn_id})
    assert voided.status_code == 200
    assert voided.json() == {"success": True, "response_code": 109,
                             "status_message": "Your transaction was successfully voided.",
                             "transaction_id": txn_id}
    record = api.record(txn_id)
    assert (record["transaction_type"], record["status_code"]) == ("VOID", "N")
    assert_error(api.post("transactions/void", {"transaction_id": txn_id}), "818")
    assert api.post("transactions/settle").json()["batch_number"] is None  # nothing pending


def test_uncaptured_auth_can_be_voided(api):
    txn_id = api.approved_id(path="transactions/authorization/keyed")
    assert api.post("transactions/void", {"transaction_id": txn_id}).status_code == 200
    assert_error(api.post("transactions/authorization/capture", {"transaction_id": txn_id}), "816")


@pytest.mark.parametrize("path", ["transactions/authorization/capture", "transactions/void",
                                  "transactions/refund/for_transaction",
                                  "transactions/export/by_id"])
def test_unknown_transaction_is_811(api, path):
    assert_error(api.post(path, {"transaction_id": 999}), "811",
                 "The Transaction ID that you provided was not found.")


def test_capture_above_authorized_amount_is_refused(api):
    txn_id = api.approved_id(amount="5.00", path="transactions/authorization/keyed")
    response = api.post("transactions/authorization/capture", {"transaction_id": txn_id,
                                                               "amount": "5.01"})
    assert response.status_code == 400 and response.json()["success"] is False


# ----- exports ------------------------------------------------------------------------------
def test_export_record_shape_and_formats(api):
    txn_id = api.approved_id(amount="110", invoice_id="inv1234", customer_reference_id="PO1",
                             tax_amount="8.1", email="a@example.com", description="Widgets")
    response = api.post("transactions/export/by_id", {"transaction_id": txn_id})
    body = response.json()
    assert (body["success"], body["response_code"]) == (True, 1)
    assert body["status_message"] == "Your request has been successfully completed."
    assert '"amount":110.00' in response.text  # a JSON number with two decimals
    record = body["transactions"][0]
    assert list(record) == ["transaction_id", "credit_card", "transaction_type", "description",
                            "amount", "invoice_id", "shipping_address", "billing_address",
                            "receipt_emailed_to", "tax_amount", "customer_reference_id",
                            "approval_code", "approval_message", "avs_response", "csc_response",
                            "status_code", "status_message", "created", "settled", "customer_id"]
    assert record["credit_card"] == {"masked_number": "************5439",
                                     "expiration_month": 12, "expiration_year": 30}
    assert record["tax_amount"] == "8.10" and record["invoice_id"] == "inv1234"
    assert (record["status_code"], record["status_message"]) == ("Y", "Pending Settlement")
    assert record["created"]["through"] == "API" and record["created"]["by"] == "demo"
    assert record["created"]["at"] == "3/14/2025 11:00:00 AM"  # 18:00 UTC in PDT
    assert TIMESTAMP.match(record["created"]["at"])
    assert api.record(txn_id) == record  # stable across calls
    binned = api.record(txn_id, include_bin=True)
    assert binned["credit_card"]["masked_number"] == "401200******5439"


def test_export_by_date_range(api):
    sale = api.approved_id(amount="1.00")
    declined = api.sale(amount="0.21").json()["transaction_id"]
    api.admin("clock", {"advance_seconds": 11 * 3600})  # 22:00 PDT, still 3/14 in Pacific
    api.token = api.grant().json()["access_token"]  # the first token has expired by now
    late = api.approved_id(amount="2.00")
    body = api.post("transactions/export/by_date_range",
                    {"start_date": TODAY, "end_date": TODAY}).json()
    assert body["success"] is True and body["response_code"] == 1
    assert [t["transaction_id"] for t in body["transactions"]] == [sale, declined, late]
    assert all(TIMESTAMP.match(t["created"]["at"]) for t in body["transactions"])
    assert body["transactions"][2]["created"]["at"] == "3/14/2025 10:00:00 PM"
    tomorrow = api.post("transactions/export/by_date_range",
                        {"start_date": "03/15/2025", "end_date": "03/20/2025"}).json()
    assert tomorrow["transactions"] == []
    only_declined = api.post("transactions/export/by_date_range", {
        "start_date": TODAY, "end_date": TODAY, "transaction_type": "DECLINED"}).json()
    assert [t["transaction_id"] for t in only_declined["transactions"]] == [declined]
    by_id = api.post("transactions/export/by_date_range", {
        "start_date": TODAY, "end_date": TODAY, "transaction_id": late}).json()
    assert [t["transaction_id"] for t in by_id["transactions"]] == [late]


@pytest.mark.parametrize("bad", ["2025-03-14", "3/14/2025", "13/01/2025", "02/30/2025", 20250314])
def test_export_by_date_range_rejects_other_date_formats(api, bad):
    response = api.post("transactions/export/by_date_range", {"start_date": bad, "end_date": TODAY})
    assert_error(response, "990")


def test_export_by_date_range_requires_dates(api):
    response = api.post("transactions/export/by_date_range", {"start_date": TODAY})
    assert_error(response, "970", "Param is missing or the value is empty: end_date")


# ----- batches ------------------------------------------------------------------------------
def test_batches_after_settle(api):
    first = api.approved_id(amount="10.00")
    second = api.approved_id(amount="5.25", card="amex")
    api.sale(amount="1.12")  # a decline never reaches a batch
    number = api.post("transactions/settle").json()["batch_number"]
    refund = api.post("transactions/refund/for_transaction",
                      {"transaction_id": first, "amount": "2.50"}).json()["transaction_id"]
    second_number = api.post("transactions/settle").json()["batch_number"]
    assert second_number == number + 1

    # Given the evidence default, when batches are exported, then each carries its number (and when it
    # closed), never invented totals; a sandbox asked for totals (answers.batch_totals) adds them.
    plain = api.post("batches/export", {"start_date": TODAY, "end_date": TODAY}).json()["batches"]
    assert {b["number"]: set(b) for b in plain}[number] == {"number", "created"}
    api.admin("answers", {"batch_totals": True})
    try:
        response = api.post("batches/export", {"start_date": TODAY, "end_date": TODAY})
    finally:
        api.admin("answers", {"batch_totals": False})
    body = response.json()
    assert (body["success"], body["response_code"]) == (True, 1)
    batches = {b["number"]: b for b in body["batches"]}
    assert batches[number]["transaction_count"] == 2 and batches[number]["sales_count"] == 2
    assert batches[number]["sales_amount"] == 15.25 and batches[number]["net_amount"] == 15.25
    assert batches[second_number]["refund_count"] == 1
    assert batches[second_number]["net_amount"] == -2.5
    assert '"sales_amount":15.25' in response.text
    assert TIMESTAMP.match(batches[number]["created"])

    listed = api.post("batches/transaction_list", {"batch_number": number}).json()
    assert [t["transaction_id"] for t in listed["transactions"]] == [first, second]
    assert all(t["status_code"] == f"GB{number}" for t in listed["transactions"])
    latest = api.post("batches/export_one", {}).json()["batch"]
    assert "net_amount" not in latest
    assert latest["number"] == second_number
    assert api.post("batches/transaction_list", {"batch_number": second_number}).json()[
        "transactions"][0]["transaction_id"] == refund
    assert_error(api.post("batches/transaction_list", {"batch_number": 4242}), "992")


# ----- vault --------------------------------------------------------------------------------
def _create_customer(api, customer_id="cust-1", card="mastercard"):
    return api.post("customer/create", {
        "customer_id": customer_id,
        "credit_card": {"number": TEST_CARDS[card], "expiration_month": 6, "expiration_year": 28},
        "billing_address": {"name": "Nathan Williams", "street_address": "1 Elm",
                            "zip": "99201"},
        "email": "nw@example.com", "phone": "5095550100"})


def test_customer_lifecycle_and_sale_by_customer(api):
    created = _create_customer(api)
    assert created.status_code == 200
    assert created.json() == {
        "success": True, "response_code": 160,
        "status_message": "The customer profile for cust-1/Nathan Williams was successfully created.",
        "customer_id": "cust-1", "masked_card_number": "xxxxxxxxxxxx0057"}
    assert_error(_create_customer(api), "171", "Please provide a unique customer ID.")

    exported = api.post("customer/export", {"customer_id": "cust-1"}).json()
    assert exported["success"] is True
    customer = exported["customers"][0]
    assert customer["customer_id"] == "cust-1"
    assert customer["credit_card"]["masked_number"] == "************0057"

    sale = api.post("transactions/sale/by_customer", {"customer_id": "cust-1", "amount": "12.00"})
    assert sale.status_code == 200 and sale.json()["response_code"] == 101
    assert "masked_card_number" not in sale.json()
    record = api.record(sale.json()["transaction_id"])
    assert record["customer_id"] == "cust-1"
    assert record["credit_card"]["masked_number"] == "************0057"
    assert record["billing_address"]["name"] == "Nathan Williams"
    auth = api.post("transactions/authorization/by_customer", {"customer_id": "cust-1",
                                                               "amount": "3.00"})
    assert api.record(auth.json()["transaction_id"])["status_message"] == "Authorization Only"

    updated = api.post("customer/update", {"customer_id": "cust-1", "email": "new@example.com"})
    assert updated.json()["response_code"] == 161
    assert api.post("customer/export", {"customer_id": "cust-1"}).json()[
        "customers"][0]["email"] == "new@example.com"
    assert api.post("customer/delete", {"customer_id": "cust-1"}).json()["response_code"] == 162
    assert_error(api.post("transactions/sale/by_customer", {"customer_id": "cust-1",
                                                            "amount": "1.00"}),
                 "30", "Customer ID, cust-1, was not found or is incomplete.")
    assert_error(api.post("customer/export", {"customer_id": "cust-1"}), "30")


def test_customer_create_validates_the_card(api):
    response = api.post("customer/create", {"customer_id": "c2", "credit_card": {
        "number": "4111111111111112", "expiration_month": 1, "expiration_year": 2030}})
    assert_error(response, "35")


# ----- sandbox admin, safety, load ----------------------------------------------------------
def test_state_never_holds_a_full_card_number(api):
    for card in TEST_CARDS:
        api.approved_id(card=card, csc="8642")
    api.sale(amount="0.29", card="mastercard")
    _create_customer(api, "vaulted", card="discover")
    text = json.dumps(api.admin("state"))
    for number in TEST_CARDS.values():
        assert number not in text
    assert "8642" not in text and '"csc"' not in text
    state = api.admin("state")
    assert len(state["transactions"]) == len(TEST_CARDS) + 1


def test_stats_and_faults(api):
    api.approved_id()
    stats = api.admin("stats")
    assert stats["token_grants"] == 1
    assert stats["requests"]["/v1/transactions/sale/keyed"] == 1
    api.admin("faults", {"error_rate": 1.0})
    assert requests.post(f"{api.url}/v1/ping", timeout=5).status_code == 503
    assert api.sale().status_code == 503
    api.admin("faults", {"error_rate": 0})
    assert api.sale().status_code == 200


def test_concurrent_sales_get_unique_ids(api):
    body = {"integrator_id": INTEGRATOR, "amount": "1.00",
            "credit_card": {"number": TEST_CARDS["visa"], "expiration_month": 1,
                            "expiration_year": 2031}}
    headers = {"Authorization": f"Bearer {api.token}"}

    def one_sale(_: int) -> requests.Response:
        # One connection per call: a requests.Session is not safe to share across threads.
        return requests.post(f"{api.url}/v1/transactions/sale/keyed", json=body,
                             headers=headers, timeout=10)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(one_sale, range(200)))
    ids = [r.json()["transaction_id"] for r in responses if r.status_code == 200]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sorted(ids) == list(range(min(ids), min(ids) + 200))
