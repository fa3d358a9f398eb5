"""PayTrace simulator, vault and recurring charges: profiles carry contact data, sales by customer keep
their references, and the date-range export honours customer_id, transaction_type and including_text."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from sandbox.paytrace import create_app
from sandbox.server import SandboxServer

INTEGRATOR = "PAYSYNC1"
BASE = datetime(2025, 3, 14, 18, 0, 0, tzinfo=timezone.utc)
TODAY = {"start_date": "03/14/2025", "end_date": "03/14/2025"}
CARD = {"number": "5499740000000057", "expiration_month": 6, "expiration_year": 28}
BILLING = {"name": "Nathan Williams", "street_address": "1 Elm", "city": "Spokane", "state": "WA",
           "zip": "99201", "country": "US"}
SHIPPING = {"name": "N. Williams", "street_address": "2 Oak", "city": "Cheney", "county": "Spokane",
            "state": "WA", "zip": "99004", "country": "US"}


@pytest.fixture(scope="module")
def url():
    with SandboxServer(create_app(integrator_id=INTEGRATOR, clock=lambda: BASE)) as running:
        yield running.url


@pytest.fixture()
def post(url):
    requests.post(f"{url}/_sandbox/reset", timeout=5).raise_for_status()
    http = requests.Session()
    token = http.post(f"{url}/oauth/token", data={"grant_type": "password", "username": "demo",
                                                  "password": "demo"}).json()["access_token"]

    def send(path: str, body: dict | None = None) -> dict:
        response = http.post(f"{url}/v1/{path}", json={**(body or {}), "integrator_id": INTEGRATOR},
                             headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 400), response.text
        return response.json()

    return send


def _profile(post, customer_id="cust-1", **extra):
    body = {"customer_id": customer_id, "credit_card": CARD, "billing_address": BILLING,
            "shipping_address": SHIPPING, "email": "nw@example.com", "phone": "5095550100", **extra}
    assert post("customer/create", body)["response_code"] == 160


def test_a_profile_exports_its_contact_details(post):
    _profile(post)
    customer = post("customer/export", {"customer_id": "cust-1"})["customers"][0]
    assert customer["email"] == "nw@example.com" and customer["phone"] == "5095550100"
    assert customer["billing_address"] == {**BILLING, "street_address2": ""}
    assert customer["shipping_address"] == {**SHIPPING, "street_address2": ""}
    assert customer["credit_card"]["masked_number"] == "************0057"


def test_update_changes_email_phone_and_billing_and_keeps_the_rest(post):
    _profile(post)
    answer = post("customer/update", {"customer_id": "cust-1", "email": "nate@example.com",
                                      "phone": "5095550199",
                                      "billing_address": {"street_address": "9 Pine", "zip": "99202"}})
    assert (answer["success"], answer["response_code"]) == (True, 161)
    customer = post("customer/export", {"customer_id": "cust-1"})["customers"][0]
    assert (customer["email"], customer["phone"]) == ("nate@example.com", "5095550199")
    assert customer["billing_address"] == {**BILLING, "street_address2": "", "street_address": "9 Pine",
                                           "zip": "99202"}  # [I] an update merges into the stored address
    assert customer["shipping_address"]["zip"] == "99004"
    assert customer["credit_card"]["masked_number"] == "************0057"  # the card is untouched
    assert "30" in post("customer/update", {"customer_id": "nobody", "email": "x@example.com"})["errors"]


def test_export_without_a_filter_lists_every_profile(post):
    _profile(post, "a")
    _profile(post, "b", email="b@example.com")
    customers = post("customer/export")["customers"]
    assert {c["customer_id"]: c["email"] for c in customers} == {"a": "nw@example.com", "b": "b@example.com"}


def test_sale_by_customer_keeps_its_references(post):
    _profile(post)
    sale = post("transactions/sale/by_customer", {
        "customer_id": "cust-1", "amount": "19.99", "invoice_id": "INV-1001", "description": "March plan",
        "customer_reference_id": "PO-77"})
    assert sale["response_code"] == 101
    record = post("transactions/export/by_id", {"transaction_id": sale["transaction_id"]})["transactions"][0]
    assert (record["invoice_id"], record["description"], record["customer_reference_id"]) == (
        "INV-1001", "March plan", "PO-77")
    assert record["customer_id"] == "cust-1" and record["transaction_type"] == "SALE"


def _ids(post, **filters) -> list[int]:
    return [t["transaction_id"] for t in post("transactions/export/by_date_range", {**TODAY, **filters})[
        "transactions"]]


def test_export_filters_by_customer_type_and_text(post):
    _profile(post, "cust-1")
    _profile(post, "cust-2")
    a = post("transactions/sale/by_customer", {"customer_id": "cust-1", "amount": "10.00",
                                               "invoice_id": "INV-10"})["transaction_id"]
    b = post("transactions/sale/by_customer", {"customer_id": "cust-1", "amount": "0.21",
                                               "invoice_id": "INV-1"})["transaction_id"]  # declined
    c = post("transactions/sale/by_customer", {"customer_id": "cust-2", "amount": "10.00",
                                               "description": "for inv-1 and more"})["transaction_id"]
    d = post("transactions/sale/by_customer", {"customer_id": "cust-2", "amount": "4.00",
                                               "customer_reference_id": "PO-INV-1X"})["transaction_id"]
    assert _ids(post, customer_id="cust-1") == [a, b]
    assert _ids(post, customer_id="cust-2") == [c, d]
    assert _ids(post, customer_id="nobody") == []
    assert _ids(post, transaction_type="DECLINED") == [b]
    assert _ids(post, transaction_type="sale") == [a, c, d]
    assert _ids(post, transaction_type="SALE", customer_id="cust-1") == [a]
    # [I] including_text: a case-insensitive substring of invoice_id, description or customer_reference_id
    assert _ids(post, including_text="INV-1") == [a, b, c, d]
    assert _ids(post, including_text="INV-1", customer_id="cust-1") == [a, b]
    assert _ids(post, including_text="inv-10") == [a]
    assert _ids(post, including_text="Nathan") == []  # not the billing name
