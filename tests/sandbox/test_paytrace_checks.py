"""PayTrace simulator, checks (ACH): real HTTP on loopback, shapes from paytrace.md "ACH / checks (v1)".

Paths, request fields and response codes are [C]; the exports, statuses and texts are the
sandbox's [I] model (docs/paytrace.md).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
import requests

from sandbox.paytrace import STATE_KEY, create_app
from sandbox.server import SandboxServer

INTEGRATOR = "PAYSYNC1"
BASE = datetime(2025, 3, 14, 18, 0, 0, tzinfo=timezone.utc)  # 11:00 AM Pacific
TODAY = "03/14/2025"
ACCOUNT = "000123456789"  # a made-up checking account; it must never come back whole
ROUTING = "325070760"  # AM's sandbox routing number [C]
CARD = {"number": "4012000098765439", "expiration_month": 12, "expiration_year": 2030}
TIMESTAMP = re.compile(r"^(1[0-2]|[1-9])/([1-9]|[12][0-9]|3[01])/\d{4} (1[0-2]|[1-9]):[0-5]\d:[0-5]\d (AM|PM)$")
HOLDER = {"name": "Ada Lovelace", "street_address": "1 Elm", "city": "Spokane", "state": "WA",
          "zip": "99201", "country": "US"}


@pytest.fixture(scope="module")
def server():
    app = create_app(username="demo", password="demo", integrator_id=INTEGRATOR, clock=lambda: BASE)
    with SandboxServer(app, port=0) as running:
        running.state = app.config[STATE_KEY]
        yield running


class Api:
    """Token, integrator_id and the sandbox controls, for the tests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.token = self.http.post(f"{url}/oauth/token", data={
            "grant_type": "password", "username": "demo", "password": "demo"}).json()["access_token"]

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.http.post(f"{self.url}/v1/{path}", json={**(body or {}), "integrator_id": INTEGRATOR},
                              headers={"Authorization": f"Bearer {self.token}"})

    def admin(self, path: str, body: dict | None = None) -> requests.Response:
        return self.http.post(f"{self.url}/_sandbox/{path}", json=body or {})

    def check_sale(self, amount="25.00", path="checks/sale/by_account", **extra) -> requests.Response:
        body = {"amount": amount, "check": {"account_number": ACCOUNT, "routing_number": ROUTING},
                "billing_address": HOLDER, **extra}
        return self.post(path, body)

    def check_id(self, **kwargs) -> int:
        response = self.check_sale(**kwargs)
        assert response.status_code == 200, response.text
        return response.json()["check_transaction_id"]

    def record(self, check_id: int) -> dict:
        response = self.post("checks/export/by_id", {"check_transaction_id": check_id})
        assert response.status_code == 200, response.text
        return response.json()["checks"][0]


@pytest.fixture()
def api(server):
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return Api(server.url)


def assert_error(response: requests.Response, code: str, message: str | None = None) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["response_code"] == 1 and code in body["errors"], body
    if message is not None:
        assert body["errors"][code] == [message]
    return body


# ----- sale by account ----------------------------------------------------------------------
def test_a_check_sale_is_processed_with_an_id_of_its_own_sequence(api):
    # given a card sale and then a check sale on a fresh account
    card = api.post("transactions/sale/keyed", {"amount": "5.00", "credit_card": CARD}).json()
    # when the check is sold
    response = api.check_sale(invoice_id="INV-7", customer_reference_id="PO-7", description="March",
                              email="ada@example.com")
    # then it is processed (120) and its id starts where the card ids start: the spaces overlap
    assert response.status_code == 200
    body = response.json()
    assert body == {"success": True, "response_code": 120,
                    "status_message": "Your check was successfully processed.",
                    "check_transaction_id": card["transaction_id"]}  # the recorded four fields [C]
    assert ACCOUNT not in response.text


def test_the_check_export_record_masks_the_account_and_keeps_the_references(api):
    check_id = api.check_id(invoice_id="INV-7", customer_reference_id="PO-7", description="March",
                            email="ada@example.com")
    response = api.post("checks/export/by_id", {"check_transaction_id": check_id})
    body = response.json()
    assert (body["success"], body["response_code"]) == (True, 1)
    record = body["checks"][0]
    assert record["check_transaction_id"] == check_id and record["transaction_type"] == "SALE"
    assert record["check"] == {"masked_account_number": "xxxxxx6789", "routing_number": ROUTING}
    assert (record["invoice_id"], record["customer_reference_id"], record["description"]) == (
        "INV-7", "PO-7", "March")
    assert record["email"] == "ada@example.com" and record["billing_address"]["name"] == "Ada Lovelace"
    assert (record["status_code"], record["status_message"]) == ("Y", "Pending Settlement")
    assert record["created"]["at"] == "3/14/2025 11:00:00 AM" and TIMESTAMP.match(record["created"]["at"])
    assert record["settled"] == "" and record["customer_id"] == ""
    assert '"amount":25.00' in response.text
    assert ACCOUNT not in response.text and ACCOUNT[-8:] not in response.text


@pytest.mark.parametrize("amount", ["0.21", "0.29", "1.12"])
def test_trigger_amounts_are_not_processed_but_keep_their_id(api, amount):
    # Given a trigger amount, when the check is submitted, then the answer is the recorded refusal
    # field for field [C] (AM fixture): 125, "NOT" in capitals, ach_code the number 0, ach_message "".
    response = api.check_sale(amount=amount)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"success", "response_code", "status_message", "check_transaction_id", "ach_code",
                         "ach_message"}
    assert (body["success"], body["response_code"], body["status_message"]) == (
        False, 125, "Your check was NOT successfully processed.")
    assert body["ach_code"] == 0 and type(body["ach_code"]) is int and body["ach_message"] == ""
    record = api.record(body["check_transaction_id"])
    assert (record["status_code"], record["status_message"]) == ("X", "Not Processed")
    assert record["ach_code"] == 0
    assert_error(api.post("checks/manage/void", {"check_transaction_id": record["check_transaction_id"]}), "80",
                 "The Check ID that you have provided was not found in the PayTrace records. "
                 "It may already be voided or settled.")


@pytest.mark.parametrize("check, code", [
    ({"account_number": ACCOUNT, "routing_number": "325070761"}, "46"),  # fails the ABA checksum
    ({"account_number": ACCOUNT, "routing_number": "32507076"}, "46"),
    ({"account_number": "12ab", "routing_number": ROUTING}, "45"),
    ({"account_number": "123", "routing_number": ROUTING}, "45"),
])
def test_bad_accounts_are_refused_without_echoing_them(api, check, code):
    response = api.post("checks/sale/by_account", {"amount": "1.00", "check": check, "billing_address": HOLDER})
    assert_error(response, code)
    assert ACCOUNT not in response.text


def test_the_account_holder_name_and_the_amount_are_required(api):
    body = assert_error(api.post("checks/sale/by_account", {
        "check": {"account_number": ACCOUNT, "routing_number": ROUTING}}), "970")
    assert body["errors"]["970"] == ["Param is missing or the value is empty: amount",
                                     "Param is missing or the value is empty: billing_address.name"]


# ----- hold, fund, void ---------------------------------------------------------------------
def test_a_hold_is_funded_then_pending_and_a_second_fund_is_refused(api):
    held = api.check_id(path="checks/hold/by_account")
    record = api.record(held)
    assert (record["transaction_type"], record["status_code"]) == ("HOLD", "H")
    funded = api.post("checks/manage/fund", {"check_transaction_id": held})
    assert funded.status_code == 200
    assert funded.json() == {"success": True, "response_code": 124,
                             "status_message": "Your check was successfully managed.",
                             "check_transaction_id": held}
    assert api.record(held)["status_code"] == "Y"
    assert_error(api.post("checks/manage/fund", {"check_transaction_id": held}), "80")


def test_void_takes_held_or_pending_checks_only(api):
    settled = api.check_id(amount="3.00")
    api.admin("checks/settle")
    pending = api.check_id()
    held = api.check_id(path="checks/hold/by_account")
    for check_id in (held, pending):
        assert api.post("checks/manage/void", {"check_transaction_id": check_id}).json()["response_code"] == 124
        record = api.record(check_id)
        assert (record["transaction_type"], record["status_code"], record["status_message"]) == (
            "VOID", "V", "Voided")
    for check_id in (settled, pending):  # settled, or already voided
        assert_error(api.post("checks/manage/void", {"check_transaction_id": check_id}), "80")


@pytest.mark.parametrize("path", ["checks/manage/fund", "checks/manage/void", "checks/refund/by_transaction",
                                  "checks/export/by_id"])
@pytest.mark.parametrize("check_id, code", [(424242, "80"), ("abc", "80"), (None, "970")])
def test_unknown_or_missing_check_ids(api, path, check_id, code):
    body = {} if check_id is None else {"check_transaction_id": check_id}
    assert_error(api.post(path, body), code)


def test_a_card_transaction_id_is_not_a_check_id(api):
    card = api.post("transactions/sale/keyed", {"amount": "5.00", "credit_card": CARD}).json()["transaction_id"]
    assert_error(api.post("checks/export/by_id", {"check_transaction_id": card}), "80")
    check_id = api.check_id()
    assert check_id == card  # the same number...
    assert api.record(check_id)["amount"] == 25.0  # ...names the check here
    card_record = api.post("transactions/export/by_id", {"transaction_id": card}).json()["transactions"][0]
    assert card_record["amount"] == 5.0  # and the card sale there


# ----- settle, refund, return ---------------------------------------------------------------
def test_settle_then_partial_refunds_up_to_the_amount(api):
    sale = api.check_id(amount="40.00")
    assert_error(api.post("checks/refund/by_transaction", {"check_transaction_id": sale}), "996")
    settled = api.admin("checks/settle").json()
    assert settled == {"settled": [sale], "count": 1}
    record = api.record(sale)
    assert (record["status_code"], record["status_message"]) == ("S", "Settled")
    assert TIMESTAMP.match(record["settled"])
    refund = api.post("checks/refund/by_transaction", {"check_transaction_id": sale, "amount": "15.00"})
    assert refund.status_code == 200
    body = refund.json()
    assert body["response_code"] == 122 and body["status_message"] == "Your check was successfully refunded."
    assert body["check_transaction_id"] == sale + 1
    refund_record = api.record(body["check_transaction_id"])
    assert refund_record["transaction_type"] == "REFUND" and refund_record["status_code"] == "Y"
    assert "original_check_transaction_id" not in refund_record and refund_record["amount"] == 15.0
    assert_error(api.post("checks/refund/by_transaction", {"check_transaction_id": sale, "amount": "25.01"}),
                 "48")
    rest = api.post("checks/refund/by_transaction", {"check_transaction_id": sale}).json()
    assert api.record(rest["check_transaction_id"])["amount"] == 25.0  # the remainder by default
    assert_error(api.post("checks/refund/by_transaction", {"check_transaction_id": refund_record[
        "check_transaction_id"]}), "996")  # a refund is not refunded


def test_a_settled_check_comes_back_returned_days_later(api):
    sale = api.check_id(amount="60.00", invoice_id="INV-9")
    api.admin("checks/settle")
    api.admin("clock", {"advance_seconds": 3 * 86400})
    response = api.admin("checks/return", {"check_transaction_id": sale, "ach_code": "R01"})
    assert response.status_code == 200, response.text
    api.token = Api(api.url).token  # three days on, the first token has expired
    record = api.record(sale)
    assert (record["status_code"], record["status_message"]) == ("R", "Returned")
    assert (record["ach_code"], record["ach_message"]) == (1, "R01 Insufficient Funds")
    assert record["returned"] == "3/17/2025 11:00:00 AM" and record["settled"] == "3/14/2025 11:00:00 AM"
    assert_error(api.post("checks/refund/by_transaction", {"check_transaction_id": sale}), "996")
    again = api.admin("checks/return", {"check_transaction_id": sale})
    assert again.status_code == 400 and "Returned" in again.json()["error"]


def test_a_held_check_cannot_be_returned(api):
    held = api.check_id(path="checks/hold/by_account")
    assert api.admin("checks/return", {"check_transaction_id": held}).status_code == 400
    assert api.admin("checks/return", {"check_transaction_id": "1"}).status_code == 400
    assert api.admin("checks/return", {"check_transaction_id": 999}).json()["errors"] == {
        "80": ["The Check ID that you provided was not found in the PayTrace record."]}


# ----- by customer and the date-range export ------------------------------------------------
def _vault(api, customer_id, **payment):
    response = api.post("customer/create", {"customer_id": customer_id, "billing_address": HOLDER,
                                            "email": f"{customer_id}@example.com", "phone": "5095550100",
                                            **payment})
    assert response.status_code == 200, response.text
    return response.json()


def test_check_sale_and_hold_by_customer_use_the_vaulted_account(api):
    created = _vault(api, "ach-1", check={"account_number": ACCOUNT, "routing_number": ROUTING})
    assert "masked_card_number" not in created and ACCOUNT not in json.dumps(created)
    sale = api.post("checks/sale/by_customer", {"customer_id": "ach-1", "amount": "12.00",
                                                "invoice_id": "INV-1", "description": "monthly"})
    assert sale.status_code == 200 and sale.json()["response_code"] == 120
    record = api.record(sale.json()["check_transaction_id"])
    assert record["customer_id"] == "ach-1" and record["invoice_id"] == "INV-1"
    assert record["check"]["masked_account_number"] == "xxxxxx6789"
    assert record["email"] == "ach-1@example.com" and record["billing_address"]["zip"] == "99201"
    hold = api.post("checks/hold/by_customer", {"customer_id": "ach-1", "amount": "3.00"}).json()
    assert api.record(hold["check_transaction_id"])["status_code"] == "H"
    # a card-only profile, or none, cannot pay by check
    _vault(api, "card-1", credit_card=CARD)
    assert_error(api.post("checks/sale/by_customer", {"customer_id": "card-1", "amount": "1.00"}), "30")
    assert_error(api.post("checks/sale/by_customer", {"customer_id": "nobody", "amount": "1.00"}), "30")
    exported = api.post("customer/export", {"customer_id": "ach-1"}).json()["customers"][0]
    assert exported["check"] == {"masked_account_number": "xxxxxx6789", "routing_number": ROUTING}


def test_export_by_date_range_lists_the_day_and_filters_by_customer(api):
    _vault(api, "ach-1", check={"account_number": ACCOUNT, "routing_number": ROUTING})
    walk_in = api.check_id()
    vaulted = api.post("checks/sale/by_customer", {"customer_id": "ach-1", "amount": "9.00"}).json()[
        "check_transaction_id"]
    declined = api.check_sale(amount="0.21").json()["check_transaction_id"]
    body = api.post("checks/export/by_date_range", {"start_date": TODAY, "end_date": TODAY}).json()
    assert (body["success"], body["response_code"]) == (True, 1)
    assert [c["check_transaction_id"] for c in body["checks"]] == [walk_in, vaulted, declined]
    mine = api.post("checks/export/by_date_range", {"start_date": TODAY, "end_date": TODAY,
                                                    "customer_id": "ach-1"}).json()["checks"]
    assert [c["check_transaction_id"] for c in mine] == [vaulted]
    assert api.post("checks/export/by_date_range", {"start_date": "03/15/2025",
                                                    "end_date": "03/16/2025"}).json()["checks"] == []
    assert_error(api.post("checks/export/by_date_range", {"start_date": "2025-03-14", "end_date": TODAY}), "990")


def test_no_account_number_anywhere_in_the_sandbox_state(api):
    _vault(api, "ach-1", check={"account_number": ACCOUNT, "routing_number": ROUTING})
    api.check_id()
    api.check_sale(amount="0.21")
    api.post("checks/sale/by_customer", {"customer_id": "ach-1", "amount": "9.00"})
    state = requests.get(f"{api.url}/_sandbox/state", timeout=5).json()
    text = json.dumps(state)
    assert len(state["checks"]) == 3 and state["next_check_transaction_id"] == state["checks"][-1][
        "check_transaction_id"] + 1
    assert ACCOUNT not in text and ACCOUNT.lstrip("0") not in text


def test_first_check_id_can_be_set_apart():
    app = create_app(first_transaction_id=500, first_check_id=9000)
    with SandboxServer(app) as running:
        api = Api(running.url)
        assert api.check_id() == 9000
