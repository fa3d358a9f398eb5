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
from sqlalchemy.exc import DataError, SQLAlchemyError

from config.settings import Settings, SettingsError
from config.store import load_store_settings
from db.inbox import mark_enqueued, store_event
from ingress.signatures import SignatureError, verify
from schemas.masking import find_card_data, mask_text
from schemas.store import SHOPIFY_TOPICS, GenericEventSchema, shopify_order, shopify_refund

log = logging.getLogger("paysync.ingress")


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


def register_store_routes(app: Flask, settings: Settings, enqueue: Callable[[int], None]) -> None:
    """Add the store routes to the ingress app."""
    db_url, pairs = settings.database_url, settings.pair_names

    def problem(status: int, reason: str, **extra):
        return jsonify({"error": reason, **extra}), status

    def store_of(pair: str):
        return load_store_settings(pair, first_pair=pairs[0])

    def raw_body() -> bytes | None:
        source = request.stream if request.content_length is not None else request.environ["wsgi.input"]
        body = source.read(settings.max_body_bytes + 1)
        return None if len(body) > settings.max_body_bytes else body

    def accept(source: str, event_id: str, event_type: str, payload: dict, pair: str):
        hits = find_card_data(payload)
        if hits:
            log.warning("card data masked in %s event %s at %s", source, event_id, ", ".join(hits[:5]))
        try:
            inbox_id, created = store_event(db_url, source=source, event_id=event_id, event_type=event_type,
                                            transaction_id=None, payload=payload, pair=pair)
        except DataError as exc:
            log.warning("inbox refused %s event %s: %s", source, event_id, type(exc.orig).__name__)
            return problem(400, "payload holds a value that cannot be stored")
        except SQLAlchemyError:
            log.error("inbox write failed for %s event %s; answering 503", source, event_id)
            return problem(503, "storage unavailable; retry later")
        if not created:
            return jsonify({"status": "duplicate", "inbox_id": inbox_id}), 200
        try:
            enqueue(inbox_id)
            mark_enqueued(db_url, inbox_id)
        except Exception:  # committed: the sweeper sends it
            log.exception("enqueue failed for inbox %s; the sweeper will send it", inbox_id)
        return jsonify({"status": "accepted", "inbox_id": inbox_id}), 202

    def parsed(body: bytes):
        from ingress.app import parse_json_object  # the app imports this module: read it late

        try:
            return parse_json_object(body), None
        except ValueError as exc:
            return None, problem(400, str(exc))

    def opened(pair: str | None):
        """(pair, raw body), or the answer refusing the request before any signature is checked."""
        pair = pair or settings.pair
        if pair not in pairs:
            return None, problem(404, f"no integration pair {pair!r}", pairs=list(pairs))
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
        return accept("shopify", f"shopify:{mask_text(webhook_id)}", topic, payload, pair)

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
        return accept("store", f"store:{mask_text(event_id)}", event["type"], payload, pair)
