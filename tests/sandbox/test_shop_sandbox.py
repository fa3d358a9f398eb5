"""The store simulator keeps Shopify's public facts: signed webhooks with its headers, bounded retries,
the Admin API's token check, userErrors, the cost bucket's THROTTLED answer, and a log of every call."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time

import requests
from flask import Flask, request

from sandbox.server import SandboxServer
from sandbox.shop import create_app

TOKEN = "shpat_x"
HEADERS = {"X-Shopify-Access-Token": TOKEN}


def _receiver(statuses: list[int]):
    """A webhook receiver answering the given statuses in turn (then 200), recording what it got."""
    got, lock = [], threading.Lock()
    app = Flask("receiver")

    @app.post("/hook")
    def hook():
        with lock:
            got.append((dict(request.headers), request.get_data()))
            status = statuses.pop(0) if statuses else 200
        return "", status

    return SandboxServer(app).start(), got


def _wait(url: str) -> dict:
    for _ in range(200):
        state = requests.get(f"{url}/_sandbox/webhooks", timeout=5).json()
        if state["pending"] == 0:
            return state
        time.sleep(0.05)
    raise TimeoutError


def test_given_an_order_when_placed_then_a_signed_orders_create_webhook_arrives_after_bounded_retries():
    with SandboxServer(create_app(access_token=TOKEN)) as shop:
        receiver, got = _receiver([500, 503])
        try:
            requests.post(f"{shop.url}/_sandbox/webhooks", json={"url": f"{receiver.url}/hook", "secret": "s3cret",
                                                                  "retry_delays": [0.05, 0.05, 0.05]}, timeout=5)
            order = requests.post(f"{shop.url}/_sandbox/orders", json={"line_items": [{"sku": "WIDGET-1",
                                                                                       "quantity": 1}]}).json()
            state = _wait(shop.url)
        finally:
            receiver.stop()
    assert [a["status"] for a in state["deliveries"][0]["attempts"]] == [500, 503, 200]
    headers, body = got[-1]
    assert json.loads(body)["id"] == order["id"]
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in got}) == 1  # one id across the retries
    assert {"X-Shopify-Shop-Domain", "X-Shopify-Api-Version", "X-Shopify-Triggered-At"} <= set(headers)


def test_given_a_receiver_that_never_answers_2xx_then_delivery_is_given_up_after_the_schedule():
    with SandboxServer(create_app(access_token=TOKEN)) as shop:
        receiver, got = _receiver([500] * 10)
        try:
            requests.post(f"{shop.url}/_sandbox/webhooks", json={"url": f"{receiver.url}/hook",
                                                                  "retry_delays": [0.05, 0.05]}, timeout=5)
            requests.post(f"{shop.url}/_sandbox/orders", json={"line_items": [{"sku": "GADGET-1", "quantity": 1}]})
            state = _wait(shop.url)
        finally:
            receiver.stop()
    assert state["deliveries"][0]["status"] == "failed" and len(got) == 3


def _graphql(url: str, query: str, variables=None, headers=HEADERS):
    return requests.post(f"{url}/admin/api/2025-07/graphql.json", json={"query": query, "variables": variables or {}},
                         headers=headers, timeout=5)


def test_admin_api_token_user_errors_throttling_and_the_call_log():
    with SandboxServer(create_app(access_token=TOKEN)) as shop:
        order = requests.post(f"{shop.url}/_sandbox/orders", json={"line_items": [{"sku": "WIDGET-1",
                                                                                   "quantity": 1}]}).json()
        mark = ("mutation m($input: OrderMarkAsPaidInput!) { orderMarkAsPaid(input: $input) "
                "{ order { displayFinancialStatus } userErrors { field message } } }")
        variables = {"input": {"id": order["admin_graphql_api_id"]}}
        # no token: 401
        assert _graphql(shop.url, mark, variables, headers={}).status_code == 401
        # paid once; the second time Shopify says why not, in userErrors, with HTTP 200
        first = _graphql(shop.url, mark, variables).json()
        assert first["data"]["orderMarkAsPaid"]["order"]["displayFinancialStatus"] == "PAID"
        second = _graphql(shop.url, mark, variables).json()
        assert second["data"]["orderMarkAsPaid"]["userErrors"][0]["message"]
        # an empty bucket: THROTTLED with the cost numbers a client computes its wait from
        requests.post(f"{shop.url}/_sandbox/throttle", json={"maximum": 5, "restore_rate": 1})
        throttled = _graphql(shop.url, mark, variables)
        assert throttled.status_code == 200 and "data" not in throttled.json()
        assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert throttled.json()["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 1
        # a 429 with Retry-After when told to
        requests.post(f"{shop.url}/_sandbox/faults", json={"status_next": [429], "retry_after": 3})
        limited = _graphql(shop.url, mark, variables)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
        calls = requests.get(f"{shop.url}/_sandbox/admin_calls").json()["calls"]
    assert [c["status"] for c in calls] == [401, 200, 200, 200, 429]
    assert calls[2]["user_errors"] and calls[3]["throttled"]


def test_inventory_set_quantities_sets_absolute_values_all_or_nothing():
    with SandboxServer(create_app(access_token=TOKEN)) as shop:
        found = _graphql(shop.url, '{ productVariants(first: 1, query: "sku:WIDGET-1") '
                                   '{ edges { node { inventoryItem { id } } } } }').json()
        item = found["data"]["productVariants"]["edges"][0]["node"]["inventoryItem"]["id"]
        mutation = ("mutation s($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) "
                    "{ userErrors { code field message } } }")
        good = {"inventoryItemId": item, "locationId": "gid://shopify/Location/7000001", "quantity": 11}
        bad = {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/7000001",
               "quantity": 1}
        refused = _graphql(shop.url, mutation, {"input": {"name": "available", "reason": "correction",
                                                          "ignoreCompareQuantity": True, "quantities": [good, bad]}})
        assert refused.json()["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_INVENTORY_ITEM"
        levels = requests.get(f"{shop.url}/_sandbox/state").json()["inventory"]
        assert next(l["available"] for l in levels if l["sku"] == "WIDGET-1") == 40  # nothing set
        ok = _graphql(shop.url, mutation, {"input": {"name": "available", "reason": "correction",
                                                     "ignoreCompareQuantity": True, "quantities": [good]}})
        assert ok.json()["data"]["inventorySetQuantities"]["userErrors"] == []
        levels = requests.get(f"{shop.url}/_sandbox/state").json()["inventory"]
    assert next(l["available"] for l in levels if l["sku"] == "WIDGET-1") == 11
