"""Store webhooks on the ingress: Shopify's (HMAC of the raw body) and a generic signed order format.

Same inbox, same promises as the payment hints (ingress/app.py): 2xx only after the inbox row is
committed, a repeat (the same X-Shopify-Webhook-Id, or Standard Webhooks id) is a 200 that sends
nothing, card data masked before anything is written, and each route also answers under
/pairs/<pair>/. Shopify facts (shopify.dev, webhooks): `X-Shopify-Hmac-Sha256` is the base64
HMAC-SHA256 of the raw body keyed with the app's client secret, compared in constant time;
`X-Shopify-Topic`, `X-Shopify-Shop-Domain` and `X-Shopify-Webhook-Id` (the same on every retry of
a delivery) come with it; a topic paysync does not use is answered 200 and not stored, so Shopify
does not retry it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Callable

from flask import Flask, jsonify, request
from marshmallow import ValidationError

from config.settings import Settings, SettingsError
from config.store import load_store_settings
from ingress.bodies import UnsupportedBody, json_media_type, parse_json_object, problem
from ingress.signatures import SignatureError, verify
from schemas.masking import mask_text
from schemas.store import SHOPIFY_TOPICS, GenericEventSchema, shopify_order, shopify_refund

log = logging.getLogger("paysync.ingress")
#: The app's inbox write: (source, event id, event type, transaction id, payload, pair) -> the answer.
Accept = Callable[[str, str, str, "int | None", dict, "str | None"], object]


def shopify_signature_ok(body: bytes, given: str, secrets) -> bool:
    """True when `given` is the base64 HMAC-SHA256 of `body` under one of the secrets (constant time)."""
    try:
        offered = base64.b64decode(given.strip(), validate=True)
    except (ValueError, TypeError):
        return False
    for secret in secrets:
        expected = hmac.new(secret.reveal().encode(), body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, offered):
            return True
    return False


def register_store_routes(app: Flask, settings: Settings, accept: Accept) -> None:
    """Add the store routes to the ingress app; `accept` is the app's own inbox write (keyed ids, masking, 202)."""
    pairs = settings.pair_names

    def store_of(pair: str):
        return load_store_settings(pair, first_pair=pairs[0])

    def raw_body() -> bytes | None:
        source = request.stream if request.content_length is not None else request.environ["wsgi.input"]
        body = source.read(settings.max_body_bytes + 1)
        return None if len(body) > settings.max_body_bytes else body

    def parsed(body: bytes):
        try:
            return parse_json_object(body), None
        except UnsupportedBody as exc:
            return None, problem(415, str(exc))
        except ValueError as exc:
            return None, problem(400, str(exc))

    def opened(pair: str | None):
        """(pair, raw body), or the answer refusing the request before any signature is checked."""
        pair = pair or settings.pair
        if pair not in pairs:
            return None, problem(404, f"no integration pair {mask_text(pair)!r}", pairs=list(pairs))
        if not json_media_type(request.mimetype, request.mimetype_params.get("charset", "").lower() or None):
            return None, problem(415, "send the body as application/json in UTF-8")
        body = raw_body()
        if body is None:
            return None, problem(413, f"body larger than {settings.max_body_bytes} bytes")
        return (pair, body), None

    @app.post("/webhooks/shopify")
    @app.post("/pairs/<pair>/webhooks/shopify")
    def shopify_webhook(pair: str | None = None):
        request_parts, error = opened(pair)
        if error:
            return error
        pair, body = request_parts
        try:
            store = store_of(pair)
        except SettingsError as exc:
            log.error("store settings of pair %s are invalid: %s", pair, exc)
            return problem(503, "the store is not configured; retry later")
        if not store.webhook_secrets:
            return problem(401, "no Shopify webhook secret is configured (SHOPIFY_WEBHOOK_SECRET)")
        if not shopify_signature_ok(body, request.headers.get("X-Shopify-Hmac-Sha256", ""), store.webhook_secrets):
            return problem(401, "X-Shopify-Hmac-Sha256 is missing or does not match the body")
        domain = request.headers.get("X-Shopify-Shop-Domain", "")
        if domain.lower() != store.shop_domain.lower():
            return problem(403, "X-Shopify-Shop-Domain is not this pair's shop")
        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
        topic = request.headers.get("X-Shopify-Topic", "").strip()
        if not webhook_id or len(webhook_id) > 150:
            return problem(400, "X-Shopify-Webhook-Id is missing or too long")
        if topic not in SHOPIFY_TOPICS:
            return jsonify({"status": "ignored", "topic": mask_text(topic[:64])}), 200
        payload, error = parsed(body)
        if error:
            return error
        try:
            (shopify_refund if topic == "refunds/create" else shopify_order)(payload)
        except ValidationError as exc:
            return problem(400, f"invalid {topic} payload", fields=exc.normalized_messages())
        return accept("shopify", f"shopify:{webhook_id}", topic, None, payload, pair)

    @app.post("/webhooks/orders")
    @app.post("/pairs/<pair>/webhooks/orders")
    def order_webhook(pair: str | None = None):
        """The generic order format (docs/store.md), signed with Standard Webhooks like the payment hints."""
        request_parts, error = opened(pair)
        if error:
            return error
        pair, body = request_parts
        try:
            secrets = [s.reveal() for s in store_of(pair).order_secrets]
            event_id = verify(body, request.headers, secrets, tolerance=settings.webhook_tolerance_seconds)
        except SettingsError:
            return problem(503, "the store is not configured; retry later")
        except SignatureError as exc:
            return problem(401, str(exc))
        payload, error = parsed(body)
        if error:
            return error
        try:
            event = GenericEventSchema().load(payload)
        except ValidationError as exc:
            return problem(400, "invalid order event", fields=exc.normalized_messages())
        return accept("store", f"store:{event_id}", event["type"], None, payload, pair)
