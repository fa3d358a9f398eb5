"""Demo and test traffic: real sales on the PayTrace sandbox, and signed pushes to the ingress."""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import requests
from standardwebhooks import Webhook

from connectors.paytrace import PayTraceClient

# PayTrace's public sandbox test cards (paytrace.md §9 [C]); never a real number.
TEST_CARDS = ("4012000098765439", "5499740000000057", "6011000993026909", "371449635392376")
DECLINE_AMOUNTS = (Decimal("0.21"), Decimal("0.29"), Decimal("1.12"))
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth",
         "Frances Allen", "John Backus", "Margaret Hamilton", "Ken Thompson", "Radia Perlman", "Tim Berners-Lee")


@dataclass(frozen=True)
class Sale:
    """One sale made on the sandbox, as the traffic generator saw it."""

    transaction_id: int
    amount: Decimal
    declined: bool
    customer: str


def make_sale(client: PayTraceClient, i: int, rng: random.Random, *, decline: bool = False) -> Sale:
    amount = rng.choice(DECLINE_AMOUNTS) if decline else Decimal(rng.randint(500, 250000)) / 100
    name = NAMES[i % len(NAMES)]
    body = {
        "amount": str(amount),
        "credit_card": {"number": TEST_CARDS[i % len(TEST_CARDS)], "expiration_month": 12,
                        "expiration_year": 2030},
        "csc": "999",
        "billing_address": {"name": name, "street_address": f"{100 + i % 50} Main St", "city": "Spokane",
                            "state": "WA", "zip": f"{99201 + i % 12}", "country": "US"},
        "invoice_id": f"WEB-{i:05d}",
        "email": f"{name.split()[0].lower()}@example.com",
        "description": f"Order WEB-{i:05d}",
    }
    answer = client.transact("transactions/sale/keyed", body)
    return Sale(int(answer["transaction_id"]), amount, not answer.get("success"), name)


def make_sales(client: PayTraceClient, count: int, *, seed: int = 7, decline_every: int = 12,
               on_sale=None) -> list[Sale]:
    rng = random.Random(seed)
    sales = []
    for i in range(count):
        sale = make_sale(client, i, rng, decline=decline_every > 0 and i % decline_every == decline_every - 1)
        sales.append(sale)
        if on_sale:
            on_sale(sale)
    return sales


def push_webhook(ingress_url: str, secret: str, sale: Sale, *, event_id: str | None = None,
                 session: requests.Session | None = None, timeout: float = 10.0,
                 event_type: str | None = None) -> requests.Response:
    """POST a Standard Webhooks-signed `transaction.sale` hint (or `event_type`), signed by the reference library."""
    event_id = event_id or f"evt_{sale.transaction_id}"
    body = json.dumps({"type": event_type or ("transaction.declined" if sale.declined else "transaction.sale"),
                       "data": {"transaction_id": sale.transaction_id, "amount": str(sale.amount)}})
    now = datetime.now(timezone.utc)
    signature = Webhook(secret).sign(event_id, now, body)
    headers = {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}
    return (session or requests).post(f"{ingress_url}/webhooks/paytrace", data=body, headers=headers,
                                      timeout=timeout)


def push_with_retry(ingress_url: str, secret: str, sale: Sale, *, attempts: int = 5, **kw) -> requests.Response:
    """Deliver like a sender does: retry on 5xx or a dropped connection."""
    for attempt in range(attempts):
        try:
            response = push_webhook(ingress_url, secret, sale, **kw)
            if response.status_code < 500:
                return response
        except requests.RequestException:
            if attempt == attempts - 1:
                raise
        time.sleep(0.2 * (attempt + 1))
    return response
