"""Flask app of the Shopify store simulator: the GraphQL Admin API in, signed webhooks out.

Admin API facts (shopify.dev): `POST /admin/api/<version>/graphql.json` with the app's token in
`X-Shopify-Access-Token` (401 `{"errors": "[API] Invalid API key or access token ..."}` without
it), versions named `YYYY-MM`; GraphQL answers are HTTP 200 even when throttled or refused
(sandbox/shop/admin.py); an overloaded shop answers 429 with `Retry-After` or 5xx. The
`/_sandbox/*` endpoints are the simulator's own: place, pay, cancel and refund orders as a shopper
or merchant would (each sends its webhook), configure the webhook subscription, inject faults,
and read the store's state and every Admin call made.
"""
from __future__ import annotations

import hmac
import random
import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, jsonify, request

from .admin import CostBucket, Resolvers, execute, requested_cost
from .state import ShopError, ShopState, now_iso
from .webhooks import Deliverer

VERSION = re.compile(r"^20\d\d-(01|04|07|10)$")


class Faults:
    """What the Admin API does wrong on purpose: answer 429 / 503 for the next N calls, or at a rate."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> dict[str, Any]:
        with self.lock:
            self.status_next: list[int] = []
            self.error_rate, self.retry_after = 0.0, 1
            return self.snapshot()

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.status_next = [int(s) for s in body.get("status_next", self.status_next)]
            self.error_rate = float(body.get("error_rate", self.error_rate))
            self.retry_after = int(body.get("retry_after", self.retry_after))
            return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {"status_next": list(self.status_next), "error_rate": self.error_rate, "retry_after": self.retry_after}

    def draw(self) -> int | None:
        with self.lock:
            if self.status_next:
                return self.status_next.pop(0)
            if self.error_rate and random.random() < self.error_rate:
                return random.choice((429, 503))
            return None


def create_app(access_token: str = "shpat_sandbox_token", domain: str = "paysync-demo.myshopify.com") -> Flask:
    state = ShopState(domain)
    deliverer = Deliverer(domain)
    bucket = CostBucket()
    faults = Faults()
    calls: list[dict[str, Any]] = []
    calls_lock = threading.Lock()
    resolvers = Resolvers(state, deliverer.emit)
    app = Flask(__name__)
    app.config.update(SHOP_STATE=state, SHOP_DELIVERER=deliverer, SHOP_BUCKET=bucket)

    def record(entry: dict[str, Any]) -> None:
        with calls_lock:
            calls.append(entry)

    @app.post("/admin/api/<version>/graphql.json")
    def graphql(version: str):
        body = request.get_json(silent=True) or {}
        entry = {"at": now_iso(), "version": version, "query": body.get("query"), "variables": body.get("variables")}
        try:
            entry["operation"] = requested_cost(body.get("query") or "")[1]
        except Exception:  # a parse error is answered by execute(); the log keeps the raw text
            entry["operation"] = ""
        if not VERSION.match(version):
            entry["status"] = 404
            record(entry)
            return jsonify({"errors": "Not Found"}), 404
        given = request.headers.get("X-Shopify-Access-Token", "").encode()
        if not hmac.compare_digest(given, access_token.encode()):
            entry["status"] = 401
            record(entry)
            return jsonify({"errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                                      "password)"}), 401
        fault = faults.draw()
        if fault is not None:
            entry["status"] = fault
            record(entry)
            headers = {"Retry-After": str(faults.retry_after)} if fault == 429 else {}
            return jsonify({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                                      "uninterrupted service." if fault == 429 else "Service unavailable"}), \
                fault, headers
        answer = execute(resolvers, bucket, body)
        entry["status"] = 200
        entry["throttled"] = any(e.get("extensions", {}).get("code") == "THROTTLED" for e in answer.get("errors", []))
        entry["user_errors"] = _user_errors(answer.get("data"))
        record(entry)
        return jsonify(answer)

    # -- the simulator's own endpoints ------------------------------------------------------------
    def refuse(exc: ShopError):
        return jsonify({"errors": {"message": exc.message, "code": exc.code, "field": exc.field}}), 422

    @app.post("/_sandbox/orders")
    def place_order():
        body = request.get_json(silent=True) or {}
        try:
            order = state.place_order(body)
        except (ShopError, KeyError, ValueError, InvalidOperation) as exc:
            return refuse(exc if isinstance(exc, ShopError) else ShopError(f"bad order: {exc}"))
        deliverer.emit("orders/create", order)
        return jsonify(order), 201

    @app.post("/_sandbox/orders/<int:order_id>/paid")
    def pay_order(order_id: int):
        try:
            order = state.mark_paid(order_id)
        except ShopError as exc:
            return refuse(exc)
        deliverer.emit("orders/paid", order)
        return jsonify(order)

    @app.post("/_sandbox/orders/<int:order_id>/cancel")
    def cancel_order(order_id: int):
        body = request.get_json(silent=True) or {}
        try:
            order = state.cancel(order_id, str(body.get("reason", "customer")), bool(body.get("restock", True)))
        except ShopError as exc:
            return refuse(exc)
        deliverer.emit("orders/cancelled", order)
        return jsonify(order)

    @app.post("/_sandbox/orders/<int:order_id>/refunds")
    def refund_order(order_id: int):
        body = request.get_json(silent=True) or {}
        try:
            refund = state.refund(order_id, Decimal(str(body.get("amount"))), str(body.get("note", "")))
        except (ShopError, InvalidOperation) as exc:
            return refuse(exc if isinstance(exc, ShopError) else ShopError("amount is not a number"))
        deliverer.emit("refunds/create", refund)
        return jsonify(refund), 201

    @app.post("/_sandbox/webhooks")
    def subscribe():
        body = request.get_json(silent=True) or {}
        sub = deliverer.subscription
        sub.url = body.get("url", sub.url)
        sub.secret = body.get("secret", sub.secret)
        sub.retry_delays = tuple(float(d) for d in body.get("retry_delays", sub.retry_delays))[:8]
        sub.duplicates = int(body.get("duplicates", sub.duplicates))
        sub.topics = tuple(body.get("topics", sub.topics))
        return jsonify({"url": sub.url, "retry_delays": sub.retry_delays, "duplicates": sub.duplicates,
                        "topics": sub.topics})

    @app.get("/_sandbox/webhooks")
    def deliveries():
        return jsonify({"pending": deliverer.pending(), "deliveries": deliverer.snapshot()})

    @app.get("/_sandbox/state")
    def snapshot():
        return jsonify(state.snapshot())

    @app.get("/_sandbox/admin_calls")
    def admin_calls():
        with calls_lock:
            return jsonify({"calls": list(calls)})

    @app.post("/_sandbox/faults")
    def set_faults():
        return jsonify(faults.update(request.get_json(silent=True) or {}))

    @app.post("/_sandbox/throttle")
    def set_throttle():
        body = request.get_json(silent=True) or {}
        bucket.configure(float(body.get("maximum", 2000)), float(body.get("restore_rate", 100)))
        return jsonify({"maximum": bucket.maximum, "restore_rate": bucket.restore_rate})

    @app.post("/_sandbox/reset")
    def reset():
        state.reset()
        faults.clear()
        with calls_lock:
            calls.clear()
        return jsonify({"reset": True})

    return app


def _user_errors(data: Any) -> list[dict[str, Any]]:
    """Every userErrors / orderCancelUserErrors entry of a mutation's answer, for the call log."""
    out: list[dict[str, Any]] = []
    for payload in (data or {}).values():
        if isinstance(payload, dict):
            for key in ("userErrors", "orderCancelUserErrors"):
                out.extend(payload.get(key) or [])
    return out
