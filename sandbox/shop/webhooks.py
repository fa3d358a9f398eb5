"""Shopify-style webhook delivery: signed POSTs to one subscription URL, retried a bounded number of times.

Facts (shopify.dev, webhooks): the body is the resource's JSON; `X-Shopify-Hmac-Sha256` is the
base64 HMAC-SHA256 of the raw body keyed with the app's client secret; `X-Shopify-Topic`,
`X-Shopify-Shop-Domain`, `X-Shopify-Webhook-Id` (the same on every retry of one delivery, so a
receiver deduplicates on it), `X-Shopify-API-Version`, `X-Shopify-Triggered-At`,
`X-Shopify-Event-Id`. A delivery that is not answered 2xx within the timeout (Shopify: 5 s) is
retried (Shopify: 8 times over 4 hours); here the schedule is short and configurable, and every
attempt is recorded so a test can assert what was delivered. `duplicates` sends each delivery
that many times (the at-least-once delivery a receiver must survive).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from .state import now_iso


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    """Where the store sends its webhooks and how."""

    url: str = ""
    secret: str = "shpss_sandbox_secret"
    api_version: str = "2025-07"
    retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # bounded: then the delivery is given up
    timeout: float = 5.0
    duplicates: int = 1
    topics: tuple[str, ...] = ("orders/create", "orders/paid", "orders/cancelled", "orders/updated",
                               "refunds/create")


@dataclass
class Delivery:
    webhook_id: str
    topic: str
    body: bytes
    attempts: list[dict[str, Any]] = field(default_factory=list)
    status: str = "pending"  # delivered | failed


class Deliverer:
    """A background thread sending queued deliveries in order, with the subscription's retries."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.subscription = Subscription()
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.queue: queue.Queue = queue.Queue()
        self.session = requests.Session()
        self.thread = threading.Thread(target=self._run, name="shop-webhooks", daemon=True)
        self.thread.start()

    def emit(self, topic: str, payload: dict[str, Any]) -> Delivery | None:
        sub = self.subscription
        if not sub.url or topic not in sub.topics:
            return None
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(str(uuid.uuid4()), topic, body)
        with self.lock:
            self.deliveries.append(delivery)
        self.queue.put(delivery)
        return delivery

    def pending(self) -> int:
        with self.lock:
            return sum(1 for d in self.deliveries if d.status == "pending")

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"webhook_id": d.webhook_id, "topic": d.topic, "status": d.status, "attempts": list(d.attempts),
                     "payload": json.loads(d.body)} for d in self.deliveries]

    def _run(self) -> None:
        while True:
            delivery = self.queue.get()
            self._deliver(delivery)

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        sub = self.subscription
        return {"Content-Type": "application/json", "X-Shopify-Topic": delivery.topic,
                "X-Shopify-Hmac-Sha256": sign(sub.secret, delivery.body), "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-Webhook-Id": delivery.webhook_id, "X-Shopify-API-Version": sub.api_version,
                "X-Shopify-Triggered-At": now_iso(), "X-Shopify-Event-Id": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                                       delivery.webhook_id))}

    def _deliver(self, delivery: Delivery) -> None:
        sub = self.subscription
        for attempt, delay in enumerate((0.0,) + sub.retry_delays):
            time.sleep(delay)
            ok = False
            for _ in range(max(1, sub.duplicates)):
                try:
                    answer = self.session.post(sub.url, data=delivery.body, headers=self._headers(delivery),
                                               timeout=sub.timeout)
                    status: int | str = answer.status_code
                    ok = ok or 200 <= answer.status_code < 300
                except requests.RequestException as exc:
                    status = type(exc).__name__
                with self.lock:
                    delivery.attempts.append({"attempt": attempt + 1, "status": status, "at": now_iso()})
            if ok:
                delivery.status = "delivered"
                return
        delivery.status = "failed"
