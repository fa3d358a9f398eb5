"""A store, PayTrace, an ERP and paysync's ingress on loopback, with the flows driven in this process.

The fast tier of the e-commerce tests: real HTTP to every sandbox (the store simulator delivers
signed webhooks to the real ingress app served on a loopback port), real PostgreSQL, and the flow
steps called one after another the way the workers would (no broker), including the retries a
waiting step asks for.
"""
from __future__ import annotations

import os
import queue
import time
import uuid
from decimal import Decimal
from pathlib import Path

import requests
from sqlalchemy import select

from cli.stack import new_webhook_secret
from config.settings import load_settings
from config.store import load_store_settings, shopify_config
from connectors.errors import ConnectorError, PermanentError, RetriableError
from connectors.paytrace import PayTraceClient
from connectors.shopify import ShopifyConnector
from db.inbox import store_event
from db.migrate import upgrade
from db.models import DeadLetter
from db.session import session_scope
from connectors.errors import RunFinished
from flows import intake, runs, stock, store_events, store_status
from flows.kinds import KINDS
from ingress.app import create_app as ingress_app
from sandbox.paytrace import create_app as paytrace_app
from sandbox.server import SandboxServer
from sandbox.shop import create_app as shop_app
from sandbox.summary import order_lines_and_stock, summarize
from workers import deadletter
from workers.context import build_context

TOKEN, DOMAIN, SHOP_SECRET = "shpat_test_token", "paysync-test.myshopify.com", "shpss_test_secret"
LOCATION = "gid://shopify/Location/7000001"
TEST_CARD = "4012000098765439"  # PayTrace's public sandbox Visa


class ShopWorld:
    """Everything one e-commerce test needs; `close()` stops it."""

    def __init__(self, erp: str, db_url: str, home: Path, duplicates: int = 1) -> None:
        self.erp, self.db_url = erp, db_url
        upgrade(db_url)
        self.servers = [SandboxServer(paytrace_app("demo", "demo", "PAYSYNC1")).start(),
                        SandboxServer(shop_app(access_token=TOKEN, domain=DOMAIN)).start()]
        self.paytrace_server, self.shop = self.servers
        env = {"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYTRACE_BASE_URL": self.paytrace_server.url,
               "PAYSYNC_ERP": erp,
               "HTTP_RETRIES": "0", "WEBHOOK_SECRETS": new_webhook_secret(), "SHOPIFY_ADMIN_URL": self.shop.url,
               "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_WEBHOOK_SECRET": SHOP_SECRET, "SHOPIFY_SHOP_DOMAIN": DOMAIN,
               "SHOPIFY_LOCATION_ID": LOCATION, "PAYSYNC_HOME": str(home)}
        self.pro_url = None
        if erp == "sage50":
            from sandbox.sage50 import create_app

            self.erp_server = SandboxServer(create_app(api_key="k")).start()
            env.update(SAGE50_BASE_URL=self.erp_server.url, SAGE50_API_KEY="k")
        elif erp == "sage_x3":
            from sandbox.sage_x3 import create_app

            self.erp_server = SandboxServer(create_app(username="admin", password="admin")).start()
            env.update(SAGEX3_BASE_URL=self.erp_server.url)
        else:
            from sandbox.sage_pro import install

            self.erp_server = None
            self.pro_url = f"sqlite:///{home / f'pro-{uuid.uuid4().hex[:6]}.sqlite3'}"
            install(self.pro_url)
            env["SAGEPRO_DATABASE_URL"] = self.pro_url
        if self.erp_server is not None:
            self.servers.append(self.erp_server)
        self.saved_env = os.environ.copy()
        os.environ.update(env)  # the ingress reads the store's secrets from the environment
        self.settings = load_settings(env)
        self.store_settings = load_store_settings("default", env)
        self.ctx = build_context(self.settings)
        self.inbox: queue.Queue = queue.Queue()
        self.ingress = SandboxServer(ingress_app(self.settings, enqueue=self.inbox.put)).start()
        self.servers.append(self.ingress)
        requests.post(f"{self.shop.url}/_sandbox/webhooks", json={
            "url": f"{self.ingress.url}/webhooks/shopify", "secret": SHOP_SECRET, "duplicates": duplicates,
            "retry_delays": [0.2, 0.5]}, timeout=5).raise_for_status()
        self.paytrace = PayTraceClient(self.settings.paytrace)
        self.store = ShopifyConnector(shopify_config(self.store_settings, 0))
        self.waiting: list[tuple[int, str | None]] = []  # (run, stage; None: prepare) that asked to retry later
        self.dead: list[str] = []

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.ctx.erp.close()
        os.environ.clear()
        os.environ.update(self.saved_env)

    # -- the outside world acting ---------------------------------------------------------------
    def place(self, lines: list[dict], *, shipping: str = "7.50", tax_rate: str = "0.08") -> dict:
        body = {"email": "ada@example.com", "customer": {"first_name": "Ada", "last_name": "Lovelace"},
                "billing_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Way",
                                    "city": "Seattle", "province_code": "WA", "zip": "98101", "country_code": "US"},
                "line_items": lines, "shipping": {"title": "Ground", "price": shipping}, "tax_rate": tax_rate}
        answer = requests.post(f"{self.shop.url}/_sandbox/orders", json=body, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def shop_call(self, path: str, body: dict | None = None) -> dict:
        answer = requests.post(f"{self.shop.url}/_sandbox{path}", json=body or {}, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def pay(self, order: dict, amount: str | None = None, *, hints: int = 1, kind: str = "transaction.sale") -> int:
        """The shopper pays the order through PayTrace (its name in invoice_id), announced `hints` times."""
        body = {"amount": amount or order["total_price"], "invoice_id": order["name"],
                "credit_card": {"number": TEST_CARD, "expiration_month": 12, "expiration_year": 2030}, "csc": "999",
                "billing_address": {"name": "Ada Lovelace", "street_address": "12 Analytical Way",
                                    "city": "Seattle", "state": "WA", "zip": "98101", "country": "US"}}
        answer = self.paytrace.transact("transactions/sale/keyed", body)
        assert answer.get("success") or answer.get("transaction_id"), answer  # a decline still names its id
        txn = int(answer["transaction_id"])
        for n in range(hints):
            self.hint(txn, kind, f"sale-{txn}-{n}")
        return txn

    def refund_in_paytrace(self, sale_id: int, amount: str) -> int:
        self.paytrace.call("transactions/settle", {})  # PayTrace refunds only what has settled
        answer = self.paytrace.transact("transactions/refund/for_transaction",
                                        {"transaction_id": sale_id, "amount": amount})
        assert answer.get("success"), answer
        refund = int(answer["transaction_id"])
        self.hint(refund, "transaction.refund", f"refund-{refund}")
        return refund

    def hint(self, txn: int, kind: str, event_id: str) -> None:
        inbox_id, created = store_event(self.db_url, source="webhook", event_id=event_id, event_type=kind,
                                        transaction_id=txn, payload={"type": kind, "data": {"transaction_id": txn}})
        if created:
            self.inbox.put(inbox_id)

    # -- paysync acting, as its workers would --------------------------------------------------------
    def settle_webhooks(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if requests.get(f"{self.shop.url}/_sandbox/webhooks", timeout=5).json()["pending"] == 0:
                return
            time.sleep(0.05)
        raise TimeoutError("the store still has webhooks to deliver")

    def drain(self, rounds: int = 40) -> None:
        """Run every queued event and every step a waiting run asked to retry, until nothing moves."""
        self.settle_webhooks()
        for _ in range(rounds):
            moved = False
            while not self.inbox.empty():
                moved = True
                self._event(self.inbox.get())
            waiting, self.waiting = self.waiting, []
            for run_id, stage in waiting:
                moved = True
                self._run(run_id, stage)
            if not moved:
                return
            time.sleep(0.02)

    def _event(self, inbox_id: int) -> None:
        if store_events.is_store_event(self.db_url, inbox_id):
            try:
                store_events.handle(self.ctx, inbox_id)
            except RetriableError:
                self.inbox.put(inbox_id)
            except PermanentError as exc:
                self._dead(exc, inbox_id=inbox_id, step="store event")
            return
        routing = intake.route_event(self.db_url, inbox_id, self.erp)
        if routing.start:
            for run_id, _ in routing.also:
                self._run(run_id, None)
            self._run(routing.run_id, None, inbox_id)

    def _run(self, run_id: int, from_stage: str | None, inbox_id: int | None = None) -> None:
        """Prepare the run (unless it got past that) and run its stages, as ingest and the stage tasks do."""
        try:
            stages = runs.remaining(self.ctx, run_id, from_stage, KINDS) if from_stage else None
            if stages is None:
                stages = intake.prepare(self.ctx, run_id, KINDS, inbox_id)
        except RetriableError:
            self.waiting.append((run_id, None))  # the worker's retry, later
            return
        except ConnectorError as exc:
            self._dead(exc, run_id=run_id, step="prepare")
            return
        for stage in stages:
            try:
                runs.run_stage(self.ctx, run_id, stage, KINDS)
            except RunFinished:
                return
            except RetriableError:
                self.waiting.append((run_id, stage))  # the worker's retry, later
                return
            except ConnectorError as exc:
                self._dead(exc, run_id=run_id, step=stage)
                return

    def _dead(self, exc: Exception, **where) -> None:
        deadletter.record(self.db_url, task_name="test", exc=exc, **where)
        self.dead.append(deadletter.reason_for(exc))

    def push_statuses(self):
        return store_status.push_due(self.db_url, "default", self.ctx.mapping.store, self.store, max_attempts=3,
                                     backoff_base=0.1, backoff_max=0.5)

    def sync_stock(self):
        return stock.sync(self.db_url, "default", self.ctx.mapping.store, self.ctx.erp, self.store, batch=2, calls=5)

    # -- what landed ------------------------------------------------------------------------------
    def erp_state(self) -> dict:
        if self.erp == "sage_pro":
            from sandbox.sage_pro import state

            return state(self.pro_url, "01")
        return requests.get(f"{self.erp_server.url}/_sandbox/state", timeout=10).json()

    def erp_summary(self) -> dict:
        return summarize(self.erp, self.erp_state())

    def erp_orders_and_stock(self) -> dict:
        return order_lines_and_stock(self.erp, self.erp_state())

    def shop_state(self) -> dict:
        return requests.get(f"{self.shop.url}/_sandbox/state", timeout=5).json()

    def shop_order(self, order_id: int) -> dict:
        return next(o for o in self.shop_state()["orders"] if o["id"] == order_id)

    def shop_available(self, sku: str) -> int:
        return next(level["available"] for level in self.shop_state()["inventory"] if level["sku"] == sku)

    def dead_letters(self) -> list[str]:
        with session_scope(self.db_url) as s:
            return [d.reason for d in s.scalars(select(DeadLetter))]

    def set_erp_on_hand(self, item: str, quantity: int) -> None:
        """A person in the ERP counts the stock (or receives it) anew."""
        if self.erp == "sage50":
            answer = requests.put(f"{self.erp_server.url}/v1/products/{item}", json={"QuantityOnHand": str(quantity)},
                                  headers={"Authorization": "Bearer k"}, timeout=5)
            answer.raise_for_status()
        elif self.erp == "sage_x3":
            have = self.erp_orders_and_stock()["stock"][item][0]
            answer = requests.post(f"{self.erp_server.url}/_sandbox/stock",
                                   json={"ITMREF": item, "QTYSTU": str(Decimal(quantity) - have)}, timeout=5)
            answer.raise_for_status()
        else:
            from sandbox.sage_pro.tables import set_on_hand

            set_on_hand(self.pro_url, "01", item, quantity)
