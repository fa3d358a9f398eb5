"""The ingress's OpenAPI 3 description, built from the same marshmallow schemas that validate.

It says what the server does, no more and no less: a schemathesis run with every check
(tests/integration/test_ingress.py) holds the two together.
"""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas.events import ChargebackSchema, WebhookEventSchema

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
          "required": ["error"]}
_ACCEPTED = {"type": "object", "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate"]},
                                              "inbox_id": {"type": "integer"}}}
#: What the silent-post parser accepts: KEY~VALUE| pairs, one of them TRANSACTIONID~<id> (paytrace.md §7).
# (a key other than TRANSACTIONID in any case: the first letter is never T)
_PAIR = r"[A-SU-Za-su-z0-9][A-Za-z0-9]{0,19}~[\x20-\x7b\x7d]{0,40}\|"
PARM_LIST = rf"^({_PAIR}){{0,4}}TRANSACTIONID~[1-9][0-9]{{0,14}}\|({_PAIR}){{0,4}}$"


def _json(description: str, schema: dict, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


_PAIR_PARAM = {"name": "pair", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "a name from PAYSYNC_PAIRS"}
_COMMON = {"413": _json("body too large", _ERROR), "503": _json("storage unavailable; retry", _ERROR)}


def _routes(spec: APISpec, path: str, operation: dict) -> None:
    """The route, and the same under /pairs/{pair}/ for a deployment serving several PayTrace accounts."""
    spec.path(path=path, operations={"post": operation})
    paired = {**operation, "parameters": [_PAIR_PARAM] + operation.get("parameters", []),
              "responses": {**operation["responses"], "404": _json("no such pair", _ERROR)},
              "summary": operation["summary"] + " (for one integration pair)"}
    spec.path(path=f"/pairs/{{pair}}{path}", operations={"post": paired})


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    spec = APISpec(title="paysync ingress", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Receives payment events; answers 202 only once the event is stored."})
    spec.components.schema("WebhookEvent", schema=WebhookEventSchema)
    spec.components.schema("Chargeback", schema=ChargebackSchema)
    signature_headers = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in (("webhook-id", "unique message id; a repeat is answered 200 and not processed again"),
                           ("webhook-timestamp", "unix seconds, digits only; refused outside "
                                                 "±WEBHOOK_TOLERANCE_SECONDS"),
                           ("webhook-signature", "space-separated v1,<base64 HMAC-SHA256 of id.timestamp.body>"))
    ]
    signed = {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before", _ACCEPTED),
              "400": _json("invalid payload (bad JSON, a repeated key, a field out of range)", _ERROR),
              "401": _json("bad or missing signature", _ERROR),
              "415": _json("the body is not JSON in UTF-8", _ERROR), **_COMMON}
    _routes(spec, "/webhooks/paytrace", {
        "summary": "A signed event (Standard Webhooks) naming a PayTrace transaction",
        "parameters": signature_headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": "WebhookEvent"}}},
        "responses": signed})
    _routes(spec, "/webhooks/chargebacks", {
        "summary": "A chargeback case, signed like the webhooks; the case id is its key",
        "parameters": signature_headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": "Chargeback"}}},
        "responses": signed})
    _routes(spec, "/webhooks/paytrace/silent-post", {
        "summary": "PayTrace's legacy unsigned silent post (a hint: the transaction is re-read)",
        "parameters": [{"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "the shared token, when SILENT_POST_TOKEN is set"}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {"parmList": {"type": "string", "minLength": 1, "pattern": PARM_LIST,
                                                          "example": "ORDERID~1|TRANSACTIONID~2|"}},
            "required": ["parmList"]}}}},
        "responses": {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before", _ACCEPTED),
                      "400": _json("invalid silent post", _ERROR),
                      "403": _json("address not allowed or token wrong", _ERROR),
                      "415": _json("not a form", _ERROR),
                      "429": _json("too many from this address", _ERROR,
                                   {"Retry-After": {"schema": {"type": "integer"}, "required": True,
                                                    "description": "seconds to wait"}}),
                      **_COMMON}})
    store_answers = {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before, or a topic paysync "
                                                                                "does not use", {"type": "object"}),
                     "400": _json("invalid payload", _ERROR), "401": _json("bad or missing signature", _ERROR),
                     "403": _json("not this pair's shop", _ERROR),
                     "415": _json("the body is not JSON in UTF-8", _ERROR), **_COMMON}
    order = {"type": "object", "description": "a Shopify order or refund (docs/store.md)"}
    _routes(spec, "/webhooks/shopify", {
        "summary": "A Shopify order webhook (orders/create, orders/paid, orders/cancelled, refunds/create)",
        "parameters": [{"name": name, "in": "header", "required": required, "schema": {"type": "string"},
                        "description": text}
                       for name, required, text in (
                           ("X-Shopify-Hmac-Sha256", True, "base64 HMAC-SHA256 of the raw body with the app secret"),
                           ("X-Shopify-Topic", True, "the webhook topic"),
                           ("X-Shopify-Shop-Domain", True, "the shop's myshopify.com domain"),
                           ("X-Shopify-Webhook-Id", True, "the same on every retry: a repeat is answered 200"))],
        "requestBody": {"required": True, "content": {"application/json": {"schema": order}}},
        "responses": store_answers})
    _routes(spec, "/webhooks/orders", {
        "summary": "A store order in the generic format (docs/store.md), signed like the payment webhooks",
        "parameters": signature_headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": order}}},
        "responses": {k: v for k, v in store_answers.items() if k != "403"}})
    spec.path(path="/metrics", operations={"get": {
        "summary": "Prometheus metrics (a bearer token when METRICS_TOKEN is set)",
        "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "401": _json("METRICS_TOKEN is set and the request does not carry it", _ERROR)}}})
    spec.path(path="/healthz", operations={"get": {"summary": "The process is up",
                                                   "responses": {"200": _json("up", {"type": "object"})}}})
    spec.path(path="/readyz", operations={"get": {"summary": "Database and broker answer", "responses": {
        "200": _json("ready", {"type": "object"}), "503": _json("not ready, and why", {"type": "object"})}}})
    document = spec.to_dict()
    # apispec writes the Decimal's Range as a string minimum; the amount travels as a string anyway.
    document["components"]["schemas"]["Chargeback"]["properties"]["amount"] = {
        "type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$", "description": "at least 0.01"}
    return document
