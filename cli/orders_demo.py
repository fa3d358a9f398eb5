"""`paysync demo --orders N`: online-store orders through the whole path, on the embedded default.

Orders are placed in the store simulator (its webhooks go to the ingress), paid through the
PayTrace sandbox with the order's name as the invoice id (announced by a signed hint, like a
checkout would), and synced by the real workers and beat. The end is a table of the orders with
their lines, the stock the ERP holds for them, the payment applied, and what the store shows.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cli.demo import ERP_NAMES, TERMINAL, _progress, _safe
from cli.stack import Stack
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import SyncRun
from db.session import session_scope
from db.store_models import StoreOrder, StoreOrderLine, StoreStatus
from ingress.signatures import sign
from sandbox.summary import order_lines_and_stock

SKUS = ("WIDGET-1", "WIDGET-2", "GADGET-1")
DEMO_CARD = "4012000098765439"  # PayTrace's public sandbox Visa


def place_order(shop_url: str, rng: random.Random) -> dict:
    """A shopper's checkout: one to three SKUs, sometimes a discount, 8% tax, shipping."""
    lines = [{"sku": sku, "quantity": rng.randint(1, 3), **({"discount": "1.00"} if rng.random() < 0.3 else {})}
             for sku in rng.sample(SKUS, rng.randint(1, 3))]
    body = {"email": f"shopper{rng.randint(1, 99)}@example.com",
            "customer": {"first_name": rng.choice(("Ada", "Grace", "Alan")), "last_name": "Demo"},
            "billing_address": {"first_name": "Demo", "last_name": "Shopper", "address1": "1 Market St",
                                "city": "Seattle", "province_code": "WA", "zip": "98101", "country_code": "US"},
            "line_items": lines, "shipping": {"title": "Ground", "price": "5.00"}, "tax_rate": "0.08"}
    answer = requests.post(f"{shop_url}/_sandbox/orders", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def pay_order(client: PayTraceClient, order: dict) -> int:
    answer = client.transact("transactions/sale/keyed", {
        "amount": order["total_price"], "invoice_id": order["name"],
        "credit_card": {"number": DEMO_CARD, "expiration_month": 12, "expiration_year": 2030}, "csc": "999",
        "billing_address": {"name": "Demo Shopper", "street_address": "1 Market St", "city": "Seattle",
                            "state": "WA", "zip": "98101", "country": "US"}})
    if not answer.get("success"):
        raise RuntimeError(f"PayTrace refused the demo sale: {answer.get('status_message')}")
    return int(answer["transaction_id"])


def hint(ingress_url: str, secret: str, txn: int, pair_path: str = "") -> int:
    """A signed Standard Webhooks hint naming the sale (the checkout's own push)."""
    body = json.dumps({"type": "transaction.sale", "data": {"transaction_id": txn}}).encode()
    msg_id, stamp = f"msg_{uuid.uuid4().hex[:12]}", int(time.time())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": sign(secret, msg_id, stamp, body),
               "content-type": "application/json"}
    return requests.post(f"{ingress_url}{pair_path}/webhooks/paytrace", data=body, headers=headers, timeout=10).status_code


def _settled(database_url: str, ids: list[int]) -> tuple[int, int]:
    """(sale runs finished, statuses still owed to the store)."""
    with session_scope(database_url) as s:
        done = s.scalar(select(func.count()).select_from(SyncRun).where(
            SyncRun.transaction_id.in_(ids), SyncRun.kind == "sale", SyncRun.status.in_(TERMINAL))) or 0
        owed = s.scalar(select(func.count()).select_from(StoreStatus).where(StoreStatus.state == "pending")) or 0
    return done, owed


def run_orders_demo(orders: int, home: Path, console: Console, *, timeout: float = 600.0, seed: int = 7,
                    erp: str = "sage50") -> int:
    """Run the demo; 0 when every order's payment reached a terminal state and the store was told."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if home.exists():
        shutil.rmtree(home)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{home / 'paysync.sqlite3'}"
    stack = Stack(home=home, database_url=database_url, redis_url=os.environ.get("REDIS_URL") or None, erp=erp,
                  with_shop=True, extra_env={"POLL_INTERVAL_SECONDS": "3", "SWEEP_INTERVAL_SECONDS": "10",
                                             "RETRY_BACKOFF_BASE": "0.5", "RETRY_BACKOFF_MAX": "10",
                                             "TASK_TIME_LIMIT": "60", "VISIBILITY_TIMEOUT": "300",
                                             "SWEEP_STALL_SECONDS": "120"})
    try:
        with console.status("starting the store, PayTrace and ERP sandboxes, Redis, ingress, worker and beat..."):
            stack.start_services()
            os.environ.update(stack.env)
            get_settings.cache_clear()
            stack.start_ingress()
            stack.subscribe_shop()
            stack.start_workers(processes=1, threads=8)
            stack.start_beat()
        console.print(f"[bold]paysync demo --orders[/] in {home}: database {_safe(database_url)}, store simulator "
                      f"{stack.shop.url}, PayTrace sandbox {stack.paytrace.url}, {ERP_NAMES[erp]} sandbox, "
                      f"ingress {stack.ingress_url}")
        client = PayTraceClient(get_settings().paytrace)
        rng = random.Random(seed)
        placed, ids = [], []
        with _progress(console) as progress:
            task = progress.add_task("shoppers checking out and paying", total=orders)
            for _ in range(orders):
                order = place_order(stack.shop.url, rng)
                txn = pay_order(client, order)
                hint(stack.ingress_url, stack.webhook_secret, txn)
                placed.append(order)
                ids.append(txn)
                progress.advance(task)
            sync = progress.add_task(f"orders into {ERP_NAMES[erp]}, statuses back to the store", total=orders)
            deadline = time.monotonic() + timeout
            done = 0
            while time.monotonic() < deadline:
                done, owed = _settled(database_url, ids)
                progress.update(sync, completed=done)
                if done >= len(ids) and owed == 0:
                    break
                time.sleep(0.5)
        _report(console, stack, database_url, placed)
        return 0 if done >= len(ids) else 1
    finally:
        with console.status("stopping..."):
            stack.stop()


def _report(console: Console, stack: Stack, database_url: str, placed: list[dict]) -> None:
    shop = requests.get(f"{stack.shop.url}/_sandbox/state", timeout=10).json()
    by_id = {o["id"]: o for o in shop["orders"]}
    erp_view = order_lines_and_stock(stack.erp, stack.erp_state())
    summary = stack.erp_summary()
    paid = {p["reference"]: p["amount"] for p in summary["payments"]}
    with session_scope(database_url) as s:
        rows = s.scalars(select(StoreOrder).order_by(StoreOrder.id)).all()
        lines = defaultdict(list)
        for line in s.scalars(select(StoreOrderLine).order_by(StoreOrderLine.order_id, StoreOrderLine.position)):
            lines[line.order_id].append(f"{int(line.quantity)}×{line.sku}")
        table = Table(title=f"Store orders in {ERP_NAMES[stack.erp]}")
        for column in ("order", "lines", "total", "ERP sales order (lines)", "stock", "payment applied",
                       "store shows"):
            table.add_column(column)
        for row in rows:
            reference = row.sales_order_ref or ""
            erp_lines = erp_view["order_lines"].get(reference, [])
            store = by_id.get(int(row.store_order_id), {})
            receipt = paid.get(f"PT{row.transaction_id}-RCP") if row.transaction_id else None
            table.add_row(row.name, ", ".join(lines[row.id]), f"{row.total_price:,.2f}",
                          f"{reference} ({len(erp_lines)})" if reference else "-", row.allocation,
                          f"{receipt:,.2f}" if receipt is not None else "-",
                          f"{store.get('financial_status', '?')} {store.get('tags', '')}".strip())
    console.print(table)
    stock = Table(title="Stock per SKU")
    for column in ("SKU", f"{ERP_NAMES[stack.erp]} on hand", "allocated", "store available"):
        stock.add_column(column, justify="right")
    levels = {level["sku"]: level["available"] for level in shop["inventory"]}
    for sku in SKUS:
        on_hand, allocated = erp_view["stock"].get(sku, (Decimal("0"), Decimal("0")))
        stock.add_row(sku, f"{on_hand:f}", f"{allocated:f}", str(levels.get(sku, "-")))
    console.print(stock)
    calls = requests.get(f"{stack.shop.url}/_sandbox/admin_calls", timeout=10).json()["calls"]
    ops = defaultdict(int)
    for call in calls:
        ops[call.get("operation") or "?"] += 1
    console.print("Admin API calls the store received: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
