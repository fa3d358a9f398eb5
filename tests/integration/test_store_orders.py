"""E-commerce order-to-cash over all three ERPs (fast tier: flows driven in-process, everything else real).

Judged by what the ERP sandbox and the store simulator hold afterwards: the sales order's real
lines, the stock allocated once, the status the store shows, one credit memo for one refund.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from db.models import InboxEvent, StepLedger, SyncRun
from db.session import session_scope
from db.store_models import StoreOrder
from db.types import utcnow
from flows.kinds import KINDS
from flows.runs import run_stage
from tests.integration.shop_world import ShopWorld

ERPS = ("sage50", "sage_x3", "sage_pro")
LINES = [{"sku": "WIDGET-1", "quantity": 3, "discount": "1.00"}, {"sku": "GADGET-1", "quantity": 2}]
#: What the store simulator makes of LINES: WIDGET-1 3 x 25.00 less 1.00 = 74.00 (split 2 x 24.66 + 1 x 24.68),
#: GADGET-1 2 x 12.50 = 25.00, tax 8% = 5.92 + 2.00, shipping 7.50: 114.42.
EXPECTED = [("WIDGET-1", Decimal("2"), Decimal("24.66")), ("WIDGET-1", Decimal("1"), Decimal("24.68")),
            ("GADGET-1", Decimal("2"), Decimal("12.50")), ("SALESTAX", Decimal("1"), Decimal("7.92")),
            ("FREIGHT", Decimal("1"), Decimal("7.50"))]


@pytest.fixture(params=ERPS)
def world(request, pg_url, tmp_path):
    w = ShopWorld(request.param, pg_url, tmp_path, duplicates=3)
    yield w
    w.close()


def _sale_run(w: ShopWorld, txn: int) -> SyncRun:
    with session_scope(w.db_url) as s:
        run = s.scalar(select(SyncRun).where(SyncRun.transaction_id == txn, SyncRun.kind == "sale"))
        s.expunge(run)
        return run


def _lines(w: ShopWorld, reference: str) -> list[tuple]:
    return [(i, Decimal(q).normalize(), Decimal(p)) for i, q, p in w.erp_orders_and_stock()["order_lines"][reference]]


def _expected() -> list[tuple]:
    return [(i, q.normalize(), p) for i, q, p in EXPECTED]


def test_order_first_posts_its_lines_allocates_once_and_the_store_learns_it_is_paid(world):
    # Given a store order of two SKUs with a discount, tax and shipping, its webhooks delivered 3 times
    w = world
    before = w.erp_orders_and_stock()["stock"]
    order = w.place(LINES)
    assert order["total_price"] == "114.42"
    w.drain()
    # When the shopper's PayTrace payment arrives, announced 3 times
    txn = w.pay(order, hints=3)
    w.drain()
    run = _sale_run(w, txn)
    assert run.status == "succeeded", (run.last_error, w.dead)
    # And a worker dies after the ERP wrote the sales order but before the ledger said so: the step runs again
    with session_scope(w.db_url) as s:
        s.execute(update(StepLedger).where(StepLedger.run_id == run.id, StepLedger.step == "sales_order")
                  .values(status="running", claimed_by="gone-host:1", started_at=utcnow() - timedelta(hours=1)))
        s.execute(update(SyncRun).where(SyncRun.id == run.id).values(status="running"))
    run_stage(w.ctx, run.id, "order", KINDS)
    # Then the ERP holds one sales order with the order's real lines, summing to what was paid
    summary = w.erp_summary()
    reference = f"PT{txn}-SO"
    assert [o["reference"] for o in summary["sales_orders"]].count(reference) == 1
    assert _lines(w, reference) == _expected()
    assert [i["amount"] for i in summary["invoices"] if i["reference"] == f"PT{txn}-INV"] == [Decimal("114.42")]
    assert [i["open"] for i in summary["invoices"] if i["reference"] == f"PT{txn}-INV"] == [Decimal("0.00")]
    # And its stock is allocated once (X3 allocates what the site has; all of it here)
    after = w.erp_orders_and_stock()["stock"]
    assert after["WIDGET-1"][1] - before["WIDGET-1"][1] == 3
    assert after["GADGET-1"][1] - before["GADGET-1"][1] == 2
    # And one inbox row per webhook, however often it came
    with session_scope(w.db_url) as s:
        shopify = s.scalars(select(InboxEvent).where(InboxEvent.source == "shopify")).all()
    assert len(shopify) == 1 and shopify[0].status == "done"
    # When the owed statuses are pushed (twice: the second finds nothing to do)
    assert w.push_statuses().done == 1
    assert w.push_statuses().done == 0
    shop_order = w.shop_order(order["id"])
    assert shop_order["financial_status"] == "paid"
    assert "paid-in-erp" in shop_order["tags"]


def test_payment_first_waits_for_its_order_and_joins_it(world):
    # Given a payment naming store order #1001 before the store has sent it
    w = world
    order_body = w.place(LINES)
    # (the store delivers at once: its stored event is held back from the workers to play "not yet here")
    w.settle_webhooks()
    held = [w.inbox.get() for _ in range(w.inbox.qsize())]
    assert len(held) == 1  # three deliveries, one event
    txn = w.pay(order_body)
    w.drain()
    run = _sale_run(w, txn)
    # Then the sale waits (nothing posted yet)
    assert run.status in ("pending", "running")
    assert f"PT{txn}-SO" not in [o["reference"] for o in w.erp_summary()["sales_orders"]]
    # When the order's webhook reaches the workers
    w.inbox.put(held[0])
    w.drain()
    # Then the payment joins it and posts its lines
    assert _sale_run(w, txn).status == "succeeded", w.dead
    assert _lines(w, f"PT{txn}-SO") == _expected()
    with session_scope(w.db_url) as s:
        row = s.scalar(select(StoreOrder))
        assert (row.status, row.transaction_id, row.allocation) == ("joined", txn, "allocated")


def test_a_cancelled_order_releases_its_stock(world):
    w = world
    before = w.erp_orders_and_stock()["stock"]
    order = w.place(LINES)
    txn = w.pay(order)
    w.drain()
    assert _sale_run(w, txn).status == "succeeded", w.dead
    assert w.erp_orders_and_stock()["stock"]["WIDGET-1"][1] == before["WIDGET-1"][1] + 3
    # When the merchant cancels the order in the store
    w.shop_call(f"/orders/{order['id']}/cancel", {"reason": "customer"})
    w.drain()
    # Then the ERP holds none of its stock any more, and cancelling again changes nothing
    assert w.erp_orders_and_stock()["stock"]["WIDGET-1"][1] == before["WIDGET-1"][1]
    assert w.erp_orders_and_stock()["stock"]["GADGET-1"][1] == before["GADGET-1"][1]
    with session_scope(w.db_url) as s:
        assert s.scalar(select(StoreOrder.allocation)) == "released"


def test_a_store_refund_and_a_paytrace_refund_of_the_same_money_post_one_credit_memo(world):
    w = world
    order = w.place(LINES)
    txn = w.pay(order)
    w.drain()
    assert _sale_run(w, txn).status == "succeeded", w.dead
    w.push_statuses()  # the store shows it paid
    # When the store refunds 20.00 (refunds/create) and PayTrace refunds the same 20.00
    w.shop_call(f"/orders/{order['id']}/refunds", {"amount": "20.00"})
    w.drain()
    refund = w.refund_in_paytrace(txn, "20.00")
    w.drain()
    # Then the ERP has one credit memo of 20.00 for the sale's invoice, paid out once
    summary = w.erp_summary()
    invoice = next(i["key"] for i in summary["invoices"] if i["reference"] == f"PT{txn}-INV")
    memos = [m for m in summary["credit_memos"] if m["invoice"] == invoice]
    assert [m["amount"] for m in memos] == [Decimal("20.00")], (memos, w.dead)
    refunds = [r for r in summary["refunds"] if r["reference"] == f"PT{refund}-RFD"]
    assert [r["amount"] for r in refunds] == [Decimal("20.00")]
    assert _sale_run_kind(w, refund, "refund").status == "succeeded"


def _sale_run_kind(w: ShopWorld, txn: int, kind: str) -> SyncRun:
    with session_scope(w.db_url) as s:
        run = s.scalar(select(SyncRun).where(SyncRun.transaction_id == txn, SyncRun.kind == kind))
        s.expunge(run)
        return run


def test_an_erp_stock_change_reaches_the_store(world):
    w = world
    order = w.place(LINES)
    w.pay(order)
    w.drain()
    # When a person counts 9 more widgets in the ERP than it had
    on_hand, allocated = w.erp_orders_and_stock()["stock"]["WIDGET-1"]
    w.set_erp_on_hand("WIDGET-1", int(on_hand) + 9)
    outcome = w.sync_stock()
    # Then the store's available quantity is the ERP's on hand less what is allocated
    assert outcome.pushed >= 1
    assert w.shop_available("WIDGET-1") == int(on_hand) + 9 - int(allocated)
    # And a second run with nothing new pushes nothing
    assert w.sync_stock().pushed == 0


def test_an_unknown_sku_is_a_readable_dead_letter(world):
    w = world
    order = w.place([{"sku": "NOPE-9", "quantity": 1, "price": "30.00", "title": "Mystery box"}])
    txn = w.pay(order)
    w.drain()
    assert _sale_run(w, txn).status == "dead"
    reasons = w.dead_letters()
    assert len(reasons) == 1
    assert "SKU 'NOPE-9'" in reasons[0] and "store.skus" in reasons[0] and order["name"] in reasons[0]
    assert f"PT{txn}-SO" not in [o["reference"] for o in w.erp_summary()["sales_orders"]]


@pytest.fixture
def world50(pg_url, tmp_path):
    w = ShopWorld("sage50", pg_url, tmp_path)
    yield w
    w.close()


def _review_kinds(w: ShopWorld) -> list[str]:
    from db.models import ReviewItem

    with session_scope(w.db_url) as s:
        return [r.kind for r in s.scalars(select(ReviewItem))]


def test_an_order_no_payment_joins_within_the_window_goes_on_the_review_list(world50, monkeypatch):
    from flows import orders

    w = world50
    w.place(LINES)
    w.drain()
    orders.file_unpaid(w.ctx)
    assert "store_unpaid" not in _review_kinds(w)  # not yet: the window is open
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr(orders, "utcnow", lambda: later)
    assert orders.file_unpaid(w.ctx) == 1
    assert orders.file_unpaid(w.ctx) == 0  # filed once
    assert _review_kinds(w) == ["store_unpaid"]


def test_a_payment_whose_order_never_comes_posts_alone_after_the_window_and_is_reviewed(world50, monkeypatch):
    from flows import orders

    w = world50
    txn = w.pay({"name": "#9999", "total_price": "42.00"})
    w.drain(rounds=2)
    assert _sale_run(w, txn).status in ("pending", "running")  # waiting for order #9999
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr(orders, "utcnow", lambda: later)
    w.drain()
    assert _sale_run(w, txn).status == "succeeded", w.dead
    assert _lines(w, f"PT{txn}-SO") == [("PAYMENT", Decimal("1"), Decimal("42.00"))]
    assert _review_kinds(w) == ["store_payment"]


def test_a_declined_payment_tells_the_store_it_failed(world50):
    w = world50
    order = w.place([{"sku": "WIDGET-1", "quantity": 1, "price": "1.12"}], shipping="0", tax_rate="0")
    w.drain()
    txn = w.pay(order, kind="transaction.declined")  # 1.12 is a PayTrace sandbox decline trigger
    w.drain()
    assert _sale_run_kind(w, txn, "decline").status == "succeeded", w.dead
    assert w.push_statuses().done == 1
    shop_order = w.shop_order(order["id"])
    assert "payment-failed" in shop_order["tags"] and shop_order["financial_status"] == "pending"
