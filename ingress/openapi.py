"""The ingress's OpenAPI 3 description, built from the same marshmallow schemas that validate."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas.events import WebhookEventSchema

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
          "required": ["error"]}
_ACCEPTED = {"type": "object", "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate"]},
                                              "inbox_id": {"type": "integer"}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    spec = APISpec(title="paysync ingress", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Receives payment events; answers 202 only once the event is stored."})
    spec.components.schema("WebhookEvent", schema=WebhookEventSchema)
    signature_headers = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in (("webhook-id", "unique message id; a repeat is answered 200 and not processed again"),
                           ("webhook-timestamp", "unix seconds; refused outside ±WEBHOOK_TOLERANCE_SECONDS"),
                           ("webhook-signature", "space-separated v1,<base64 HMAC-SHA256 of id.timestamp.body>"))
    ]
    common = {"413": _json("body too large", _ERROR), "503": _json("storage unavailable; retry", _ERROR)}
    spec.path(path="/webhooks/paytrace", operations={"post": {
        "summary": "A signed event (Standard Webhooks) naming a PayTrace transaction",
        "parameters": signature_headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": "WebhookEvent"}}},
        "responses": {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before", _ACCEPTED),
                      "400": _json("invalid payload", _ERROR), "401": _json("bad or missing signature", _ERROR),
                      **common},
    }})
    spec.path(path="/pairs/{pair}/webhooks/paytrace", operations={"post": {
        "summary": "The same signed event, for one integration pair of a deployment serving several",
        "parameters": [{"name": "pair", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "a name from PAYSYNC_PAIRS"}] + signature_headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": "WebhookEvent"}}},
        "responses": {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before", _ACCEPTED),
                      "400": _json("invalid payload", _ERROR), "401": _json("bad or missing signature", _ERROR),
                      "404": _json("no such pair", _ERROR), **common},
    }})
    spec.path(path="/webhooks/paytrace/silent-post", operations={"post": {
        "summary": "PayTrace's legacy unsigned silent post (a hint: the transaction is re-read)",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {"parmList": {"type": "string", "example": "ORDERID~1|TRANSACTIONID~2|"}},
            "required": ["parmList"]}}}},
        "responses": {"202": _json("stored and queued", _ACCEPTED), "200": _json("seen before", _ACCEPTED),
                      "400": _json("invalid silent post", _ERROR), **common},
    }})
    spec.path(path="/healthz", operations={"get": {"summary": "The process is up",
                                                   "responses": {"200": _json("up", {"type": "object"})}}})
    spec.path(path="/readyz", operations={"get": {"summary": "Database and broker answer", "responses": {
        "200": _json("ready", {"type": "object"}), "503": _json("not ready", {"type": "object"})}}})
    return spec.to_dict()
