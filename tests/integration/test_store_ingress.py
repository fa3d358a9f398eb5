"""Store webhooks at the ingress, over real HTTP on PostgreSQL: verified, validated, stored once, masked.

Shopify's signature is made here by hand from its documented rule (base64 HMAC-SHA256 of the raw
body); the generic format is signed by the `standardwebhooks` reference library.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import text
from standardwebhooks import Webhook

from cli.stack import new_webhook_secret
from config.settings import load_settings
from db.migrate import upgrade
from db.session import get_engine
from ingress.app import create_app
from sandbox.server import SandboxServer
from sandbox.shop import create_app as shop_app

SECRET, DOMAIN = "shpss_ingress_test", "paysync-test.myshopify.com"


@pytest.fixture
def ingress(pg_url):
    upgrade(pg_url)
    saved = os.environ.copy()
    order_secret = new_webhook_secret()
    env = {"PAYSYNC_ENV": "test", "DATABASE_URL": pg_url, "SHOPIFY_WEBHOOK_SECRET": f"old_secret,{SECRET}", "SHOPIFY_SHOP_DOMAIN": DOMAIN,
           "STORE_WEBHOOK_SECRETS": order_secret, "MAX_BODY_BYTES": "65536"}
    os.environ.update(env)
    enqueued: list[int] = []
    with SandboxServer(create_app(load_settings(env), enqueue=enqueued.append)) as server:
        yield server.url, enqueued, order_secret, pg_url
    os.environ.clear()
    os.environ.update(saved)


def _order() -> dict:
    shop = shop_app().test_client()
    return shop.post("/_sandbox/orders", json={"line_items": [{"sku": "WIDGET-1", "quantity": 2}],
                                               "email": "ada@example.com"}).get_json()


def _shopify(url: str, body: bytes, *, topic="orders/create", webhook_id=None, secret=SECRET, domain=DOMAIN):
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Hmac-Sha256": mac, "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": domain,
               "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "Content-Type": "application/json"}
    return requests.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=5)


def _rows(db_url: str) -> list[dict]:
    with get_engine(db_url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM inbox ORDER BY id"))]


def test_a_signed_order_is_stored_once_and_a_repeat_is_a_200(ingress):
    url, enqueued, _, db = ingress
    body = json.dumps(_order()).encode()
    first = _shopify(url, body, webhook_id="wh-1")
    again = _shopify(url, body, webhook_id="wh-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    rows = _rows(db)
    assert len(rows) == 1 and rows[0]["source"] == "shopify" and rows[0]["event_type"] == "orders/create"
    assert enqueued == [rows[0]["id"]]


def test_a_wrong_signature_domain_or_body_is_refused_with_a_clear_4xx_and_nothing_stored(ingress):
    url, enqueued, _, db = ingress
    body = json.dumps(_order()).encode()
    assert _shopify(url, body, secret="not-the-secret").status_code == 401
    tampered = body.replace(b'"quantity": 2', b'"quantity": 9')
    assert tampered != body
    mac = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    answer = requests.post(f"{url}/webhooks/shopify", data=tampered, headers={
        "X-Shopify-Hmac-Sha256": mac, "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": "t1"}, timeout=5)
    assert answer.status_code == 401
    assert _shopify(url, body, domain="someone-else.myshopify.com").status_code == 403
    bad = json.loads(body)
    bad["line_items"][0]["quantity"] = "two"
    del bad["total_price"]
    refused = _shopify(url, json.dumps(bad).encode())
    assert refused.status_code == 400
    fields = refused.json()["fields"]
    assert "total_price" in fields and "line_items" in fields
    assert _shopify(url, b"[1, 2]").status_code == 400
    assert _shopify(url, body, topic="products/update").json()["status"] == "ignored"
    assert _rows(db) == [] and enqueued == []


def test_card_data_anywhere_in_an_order_is_masked_before_it_is_stored(ingress):
    url, _, _, db = ingress
    order = _order()
    order["note"] = "card 4111 1111 1111 1111 exp 12/30"
    order["payment_details"] = {"credit_card_number": "4111111111111111", "credit_card_company": "Visa"}
    assert _shopify(url, json.dumps(order).encode(), webhook_id="wh-card").status_code == 202
    stored = json.dumps(_rows(db)[0]["payload"])
    assert "4111111111111111" not in stored and "4111 1111 1111 1111" not in stored


def test_the_generic_format_is_signed_like_the_payment_hints_and_routes_per_pair(ingress):
    url, enqueued, secret, db = ingress
    data = {"order_id": "M-000123", "number": "000123", "placed_at": datetime.now(timezone.utc).isoformat(),
            "updated_at": datetime.now(timezone.utc).isoformat(), "total": "50.00",
            "lines": [{"sku": "WIDGET-1", "quantity": "2", "unit_price": "25.00"}]}
    body = json.dumps({"type": "order.created", "data": data})
    when = datetime.now(timezone.utc)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(when.timestamp())),
               "webhook-signature": Webhook(secret).sign("msg_1", when, body), "content-type": "application/json"}
    assert requests.post(f"{url}/webhooks/orders", data=body, headers=headers, timeout=5).status_code == 202
    assert requests.post(f"{url}/pairs/default/webhooks/orders", data=body, headers=headers, timeout=5).status_code \
        == 200
    assert requests.post(f"{url}/pairs/nosuch/webhooks/orders", data=body, headers=headers, timeout=5).status_code \
        == 404
    unsigned = dict(headers, **{"webhook-signature": "v1,AAAA"})
    assert requests.post(f"{url}/webhooks/orders", data=body, headers=unsigned, timeout=5).status_code == 401
    bad = json.dumps({"type": "order.created", "data": {**data, "number": "no spaces allowed"}})
    headers_bad = {**headers, "webhook-id": "msg_2", "webhook-signature": Webhook(secret).sign("msg_2", when, bad)}
    refused = requests.post(f"{url}/webhooks/orders", data=bad, headers=headers_bad, timeout=5)
    assert refused.status_code == 400 and "number" in json.dumps(refused.json()["fields"])
    assert [r["source"] for r in _rows(db)] == ["store"]
