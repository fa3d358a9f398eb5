"""Store orders meet their PayTrace payments: kept, joined, posted with their lines, their stock reserved.

An order (a store webhook) and its payment (a PayTrace sale naming the order in the field the
mapping's `store.join` says) may come in either order. The order is kept in `store_order` as it
arrives. The sale run joins it at its customer step: found, the run's customer, sales order and
invoice are the order's (its lines, tax and shipping, flows/order_documents.py) and the order's
stock is reserved with the sales order; not found yet, the run waits (a retry every
`recheck_seconds`, not counted against the retry budget) until the window closes, then posts the
payment as any other and files a review item. An order no payment joins within the window goes
on the review list too (`file_unpaid`, a beat job). What the store is told back is queued in
`store_status` and pushed by flows/store_status.py.

The sale flow calls in through a few hooks (`join`, `customer_for`, `sales_order_for`,
`ensure_order`, `invoice_for`, `sale_posted`); every other function is used by the store's own tasks.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from connectors.errors import PartnerPending, PermanentError
from db.models import SyncRun
from db.session import session_scope
from db.store_models import StoreOrder, StoreOrderLine, StoreSku, StoreStatus
from db.types import utcnow
from flows import order_documents as documents
from flows.review import Finding, file_findings
from schemas.domain import Address, Customer, ErpDocument, GatewayTransaction, SalesOrder
from schemas.mapping import ERP_NAMES
from schemas.store import StoreLine, StoreOrderData
from schemas.store_mapping import StoreRules

if TYPE_CHECKING:
    from flows.runs import FlowContext

log = logging.getLogger(__name__)
alert_log = logging.getLogger("paysync.alert")


def rules_of(ctx: "FlowContext") -> StoreRules | None:
    return getattr(ctx.mapping, "store", None) if ctx.mapping is not None else None


# -- keeping what the store says -------------------------------------------------------------------
def record_order(db_url: str, pair: str, data: StoreOrderData, window_minutes: int) -> tuple[int, bool]:
    """Keep the order as its newest webhook tells it; (order id, whether it was cancelled just now).

    An older webhook (a retry overtaken by a newer one) changes nothing. Once a payment has joined
    the order its lines are frozen: the ERP documents were built from them.
    """
    for _ in range(2):
        try:
            with session_scope(db_url) as s:
                row = s.scalar(select(StoreOrder).where(
                    StoreOrder.pair == pair, StoreOrder.store == data.store,
                    StoreOrder.store_order_id == data.store_order_id).with_for_update())
                if row is None:
                    row = StoreOrder(pair=pair, store=data.store, store_order_id=data.store_order_id,
                                     status="waiting", received_at=utcnow(), allocation="none", reviewed=False,
                                     deadline_at=data.placed_at + timedelta(minutes=window_minutes))
                    s.add(row)
                    _fill(row, data)
                    s.flush()
                    _lines(s, row, data)
                    return row.id, data.cancelled_at is not None
                if data.updated_at < row.store_updated_at:
                    return row.id, False
                was_cancelled = row.cancelled_at is not None
                _fill(row, data, lines_frozen=row.status == "joined")
                if row.status != "joined":
                    _lines(s, row, data)
                return row.id, row.cancelled_at is not None and not was_cancelled
        except IntegrityError:
            continue  # a concurrent first delivery inserted it: now it is an update
    raise PermanentError(f"store order {data.store_order_id} could not be kept", system="paysync",
                         operation="store order")


def _fill(row: StoreOrder, d: StoreOrderData, lines_frozen: bool = False) -> None:
    row.order_number, row.name, row.financial_status = d.order_number, d.name[:64], d.financial_status[:30]
    row.store_updated_at = d.updated_at
    if d.cancelled_at is not None and row.cancelled_at is None:
        row.cancelled_at = d.cancelled_at
        if row.status == "waiting":
            row.status = "cancelled"
    if lines_frozen:
        return
    row.placed_at, row.currency = d.placed_at, d.currency
    row.subtotal, row.total_discounts, row.total_tax = d.subtotal, d.total_discounts, d.total_tax
    row.total_shipping, row.total_price = d.total_shipping, d.total_price
    row.email, row.customer_name, row.phone = d.email[:200], d.customer_name[:120], d.phone[:40]
    b, sh = d.billing, d.shipping
    row.bill_line1, row.bill_line2, row.bill_city = b.line1[:120], b.line2[:120], b.city[:80]
    row.bill_state, row.bill_postal_code, row.bill_country = b.state[:80], b.postal_code[:20], b.country[:80]
    row.ship_name, row.ship_line1, row.ship_city = sh.name[:120], sh.line1[:120], sh.city[:80]
    row.ship_state, row.ship_postal_code, row.ship_country = sh.state[:80], sh.postal_code[:20], sh.country[:80]


def _lines(s, row: StoreOrder, d: StoreOrderData) -> None:
    for old in s.scalars(select(StoreOrderLine).where(StoreOrderLine.order_id == row.id)):
        s.delete(old)
    s.flush()
    for n, line in enumerate(d.lines, 1):
        s.add(StoreOrderLine(order_id=row.id, position=n, sku=line.sku, title=line.title, quantity=line.quantity,
                             unit_price=line.unit_price, discount=line.discount, tax=line.tax))
    skus = sorted({line.sku for line in d.lines if line.sku})
    if skus:  # the pair's known SKUs, what the stock tick reads (flows/stock.py known_skus)
        insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(insert(StoreSku).values([{"pair": row.pair, "sku": sku} for sku in skus])
                  .on_conflict_do_nothing(index_elements=["pair", "sku"]))


def order_data(db_url: str, order_id: int) -> tuple[StoreOrder, StoreOrderData]:
    """A kept order and its lines, back in the shape the document builder takes."""
    with session_scope(db_url) as s:
        row = s.get(StoreOrder, order_id)
        lines = s.scalars(select(StoreOrderLine).where(StoreOrderLine.order_id == order_id)
                          .order_by(StoreOrderLine.position)).all()
        s.expunge_all()
    billing = Address(row.customer_name, row.bill_line1, row.bill_line2, row.bill_city, row.bill_state,
                      row.bill_postal_code, row.bill_country)
    shipping = Address(row.ship_name, row.ship_line1, "", row.ship_city, row.ship_state, row.ship_postal_code,
                       row.ship_country)
    data = StoreOrderData(
        row.store, row.store_order_id, row.order_number, row.name, row.financial_status, row.currency, row.email,
        row.customer_name, row.phone, billing, shipping, row.placed_at, row.store_updated_at, row.cancelled_at,
        tuple(StoreLine(l.sku, l.title, Decimal(l.quantity), Decimal(l.unit_price), Decimal(l.discount),
                        Decimal(l.tax)) for l in lines),
        Decimal(row.total_shipping), Decimal(row.total_tax), Decimal(row.total_discounts), Decimal(row.total_price))
    return row, data


def find_order(db_url: str, pair: str, order_number: str) -> StoreOrder | None:
    with session_scope(db_url) as s:
        row = s.scalar(select(StoreOrder).where(StoreOrder.pair == pair, StoreOrder.order_number == order_number)
                       .order_by(StoreOrder.id).limit(1))
        if row is not None:
            s.expunge(row)
        return row


def order_of_run(db_url: str, run_id: int) -> int | None:
    with session_scope(db_url) as s:
        return s.scalar(select(StoreOrder.id).where(StoreOrder.run_id == run_id))


def order_of_sale(db_url: str, pair: str, transaction_id: int) -> int | None:
    with session_scope(db_url) as s:
        return s.scalar(select(StoreOrder.id).where(StoreOrder.pair == pair,
                                                    StoreOrder.transaction_id == transaction_id))


# -- the sale run's hooks --------------------------------------------------------------------------
def join(ctx: "FlowContext", run: SyncRun, txn: GatewayTransaction) -> int | None:
    """The store order this sale pays, joined to it now; None when it pays none (or none came in time)."""
    rules = rules_of(ctx)
    if rules is None or run.kind != "sale":
        return None
    number = rules.join.order_number(getattr(txn, rules.join.field, "") or "")
    if number is None:
        return None
    with session_scope(ctx.db_url) as s:
        row = s.scalar(select(StoreOrder).where(StoreOrder.pair == ctx.pair, StoreOrder.order_number == number)
                       .order_by(StoreOrder.id).limit(1).with_for_update())
        if row is not None and row.run_id == run.id:
            return row.id
        if row is not None and row.transaction_id is None and row.cancelled_at is None:
            row.transaction_id, row.run_id, row.status, row.joined_at = txn.transaction_id, run.id, "joined", utcnow()
            return row.id
        state = None if row is None else ("cancelled" if row.cancelled_at else f"paid by {row.transaction_id}")
    if state is None and utcnow() - txn.created_at < timedelta(minutes=rules.join.window_minutes):
        with session_scope(ctx.db_url) as s:  # a sign of life, so the sweeper leaves the waiting run alone
            s.execute(update(SyncRun).where(SyncRun.id == run.id).values(updated_at=utcnow()))
        raise PartnerPending(f"payment {txn.transaction_id} waits for store order {number}",
                             retry_after=rules.join.recheck_seconds, system="paysync", operation="store order")
    why = (f"names store order {number}, which the store has not sent within {rules.join.window_minutes} minutes"
           if state is None else f"names store order {number}, which is {state}")
    _review(ctx, "store_payment", f"{ctx.pair}:PT{txn.transaction_id}",
            f"payment {txn.transaction_id} of {txn.amount} {why}; posted as a payment of its own, without the "
            f"order's lines", {"transaction_id": txn.transaction_id, "order_number": number})
    return None


def customer_for(ctx: "FlowContext", order_id: int | None, customer: Customer) -> Customer:
    """The payer as the order tells them (name, email, phone, billing address), under the payer's own id."""
    if order_id is None:
        return customer
    _, data = order_data(ctx.db_url, order_id)
    return replace(customer, name=data.customer_name or customer.name, email=data.email or customer.email,
                   phone=data.phone or customer.phone,
                   address=data.billing if data.billing.line1 or data.billing.city else customer.address)


def _lines_for(ctx: "FlowContext", order_id: int, txn_amount: Decimal):
    """(sales lines, stock lines) of a joined order; None when its total is not the money paid."""
    rules = rules_of(ctx)
    row, data = order_data(ctx.db_url, order_id)
    items = {rules.item_for(l.sku) for l in data.lines if l.sku} | {rules.tax_item, rules.shipping_item}
    if rules.fallback_item:
        items.add(rules.fallback_item)
    levels = ctx.erp.stock_levels(items)
    erp = ERP_NAMES.get(ctx.erp.kind, ctx.erp.kind)
    try:
        lines = documents.sales_lines(data, rules, levels, erp)
    except documents.UnknownSku as exc:
        raise PermanentError(str(exc), system="paysync", operation="store order lines") from None
    except documents.TotalMismatch as exc:
        _review(ctx, "store_total", f"{ctx.pair}:{row.name}", f"{exc}; posted as one line of the payment",
                {"order": row.name, "total": str(data.total_price)})
        return None
    if data.total_price != txn_amount:
        _review(ctx, "store_total", f"{ctx.pair}:{row.name}",
                f"order {row.name} totals {data.total_price} but its payment is {txn_amount}; posted as one line "
                f"of the payment", {"order": row.name, "total": str(data.total_price), "paid": str(txn_amount)})
        return None
    stocked = {item for item, level in levels.items() if level.stocked}
    return lines, documents.stock_lines(data, rules, stocked)


def sales_order_for(ctx: "FlowContext", order_id: int | None, txn: GatewayTransaction,
                    order: SalesOrder) -> SalesOrder:
    """The run's sales order with its store order's real lines (or as given, for any other payment)."""
    parts = _lines_for(ctx, order_id, txn.amount) if order_id is not None else None
    return order if parts is None else replace(order, lines=parts[0])


def invoice_for(ctx: "FlowContext", order_id: int | None, txn: GatewayTransaction,
                invoice: SalesOrder) -> SalesOrder:
    """The invoice of the same lines; not drawn on the order's lines, so the order's stock stays reserved
    until the warehouse ships it (X3 and Sage Pro would issue it on an invoice that bills the order)."""
    parts = _lines_for(ctx, order_id, txn.amount) if order_id is not None else None
    return invoice if parts is None else replace(invoice, lines=parts[0], order_ref=None)


def ensure_order(ctx: "FlowContext", order_id: int | None, txn: GatewayTransaction,
                 order: SalesOrder) -> ErpDocument:
    """The sales order, once; for a store order also its stock, reserved once (ERP-side state decides)."""
    doc = ctx.erp.ensure_sales_order(order)
    if order_id is None:
        return doc
    parts = _lines_for(ctx, order_id, txn.amount)
    if parts and parts[1]:
        ctx.erp.allocate(doc.key, parts[1])
    with session_scope(ctx.db_url) as s:
        row = s.get(StoreOrder, order_id)
        row.sales_order_key, row.sales_order_ref = doc.key, doc.reference
        if row.allocation == "none" and parts and parts[1]:
            row.allocation, row.allocated_at = "allocated", utcnow()
        elif row.allocation == "none" and parts is not None:
            row.allocation = "nothing"  # posted, and no line of it stocked: it holds nothing (flows/stock.py)
    # Cancelled while we reserved? The cancel task wrote cancelled_at before it read `allocation`,
    # and we wrote `allocation` before reading cancelled_at: one of the two sees the other.
    release_if_cancelled(ctx, order_id)
    return doc


def release_if_cancelled(ctx: "FlowContext", order_id: int) -> bool:
    """Give a cancelled order's reserved stock back, once; True if anything was released now."""
    with session_scope(ctx.db_url) as s:
        row = s.get(StoreOrder, order_id)
        key, go = row.sales_order_key, row.cancelled_at is not None and row.allocation == "allocated"
    if not go or not key:
        return False
    ctx.erp.release(key)
    with session_scope(ctx.db_url) as s:
        changed = s.execute(update(StoreOrder).where(StoreOrder.id == order_id, StoreOrder.allocation == "allocated")
                            .values(allocation="released", released_at=utcnow())).rowcount
    log.info("store order %s cancelled: its stock in sales order %s released", order_id, key)
    return bool(changed)


def sale_posted(ctx: "FlowContext", order_id: int | None) -> None:
    """The sale is in the ERP: the store is told its order is paid (if the mapping says what to tell it)."""
    if order_id is not None:
        queue_status(ctx, order_id, "paid")


def payment_event(ctx: "FlowContext", txn: GatewayTransaction, status: str, sale_id: int | None = None) -> None:
    """A decline (failed), refund (refunded) or void (cancelled) of a store order's payment: tell the store."""
    rules = rules_of(ctx)
    if rules is None:
        return
    order_id = order_of_sale(ctx.db_url, ctx.pair, sale_id) if sale_id is not None else None
    if order_id is None and sale_id is None:
        number = rules.join.order_number(getattr(txn, rules.join.field, "") or "")
        row = find_order(ctx.db_url, ctx.pair, number) if number else None
        order_id = row.id if row is not None and row.transaction_id is None else None
    if order_id is not None:
        queue_status(ctx, order_id, status)


def queue_status(ctx: "FlowContext", order_id: int, status: str) -> None:
    """Owe the store `status` for the order, once (the push itself retries until it is done)."""
    rules = rules_of(ctx)
    if rules is None or status not in rules.statuses:
        return
    try:
        with session_scope(ctx.db_url) as s:
            s.add(StoreStatus(pair=ctx.pair, order_id=order_id, status=status, state="pending", attempts=0,
                              next_attempt_at=utcnow()))
    except IntegrityError:
        pass  # owed already


# -- the store's own events ----------------------------------------------------------------------
def file_unpaid(ctx: "FlowContext") -> int:
    """Orders no payment joined within the window: on the review list, once each."""
    now = utcnow()
    with session_scope(ctx.db_url) as s:
        rows = s.scalars(select(StoreOrder).where(StoreOrder.pair == ctx.pair, StoreOrder.status == "waiting",
                                                  StoreOrder.deadline_at < now, StoreOrder.reviewed.is_(False))
                         .limit(500).with_for_update(skip_locked=True)).all()
        found = [(r.id, r.name, r.total_price, r.store) for r in rows]
        for r in rows:
            r.status, r.reviewed = "unpaid", True
    for order_id, name, total, store in found:
        _review(ctx, "store_unpaid", f"{ctx.pair}:{store}:{name}",
                f"store order {name} of {total} has no PayTrace payment after the mapping's window; "
                f"find the payment or cancel the order in the store", {"order_id": order_id, "order": name})
    return len(found)


def _review(ctx: "FlowContext", kind: str, reference: str, reason: str, context: dict) -> None:
    alert_log.warning("REVIEW %s", reason)
    file_findings(ctx.db_url, f"{kind}:{utcnow().date().isoformat()}", [Finding(kind, reference[:80], reason,
                                                                                 context)])
