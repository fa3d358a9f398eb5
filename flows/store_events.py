"""An inbox event from a store (a Shopify webhook or a generic signed order event), acted on once.

Orders are kept (flows/orders.py: the newest version wins); a cancelled order gives back the stock
its sales order reserved; a refund meets PayTrace's refund of the same money in one credit memo
(flows/store_refunds.py). Every payload was validated at the ingress and is validated again here,
so a stored row that no longer loads (a schema change) is a dead letter with every bad field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from connectors.errors import PermanentError
from db.models import InboxEvent
from db.session import session_scope
from db.types import utcnow
from flows import orders, store_refunds
from schemas.store import generic_order, generic_refund, shopify_order, shopify_refund

if TYPE_CHECKING:
    from flows.runs import FlowContext

#: inbox.source of store events: Shopify's webhooks and the generic format.
STORE_SOURCES = ("shopify", "store")


def is_store_event(db_url: str, inbox_id: int) -> bool:
    with session_scope(db_url) as s:
        return s.scalar(select(InboxEvent.source).where(InboxEvent.id == inbox_id)) in STORE_SOURCES


def handle(ctx: "FlowContext", inbox_id: int) -> str:
    """Act on one stored store event; what it did, in a few words."""
    with session_scope(ctx.db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        if event is None:
            raise PermanentError(f"inbox event {inbox_id} does not exist", system="paysync", operation="store event")
        source, kind, payload, status = event.source, event.event_type, event.payload, event.status
    if status in ("done", "duplicate"):
        return "already done"
    rules = orders.rules_of(ctx)
    if rules is None:
        raise PermanentError("a store event came in, but the pair's mapping file has no store section",
                             system="paysync", operation="store event")
    outcome = _act(ctx, source, kind, payload, rules.join.window_minutes)
    with session_scope(ctx.db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        event.status, event.processed_at, event.attempts = "done", utcnow(), event.attempts + 1
    return outcome


def _act(ctx: "FlowContext", source: str, kind: str, payload: dict, window: int) -> str:
    if source == "shopify" and kind == "refunds/create":
        reference = store_refunds.store_refund(ctx, shopify_refund(payload))
        return f"refund: credit memo {reference}" if reference else "refund of no money"
    if source == "shopify":
        data = shopify_order(payload)
    else:
        data = generic_order(payload["data"])
    order_id, _ = orders.record_order(ctx.db_url, ctx.pair, data, window)
    # Always, not only when this event cancelled it: a retry of a cancel whose release failed must release.
    released = orders.release_if_cancelled(ctx, order_id)
    if source == "store" and kind == "order.refunded":
        reference = store_refunds.store_refund(ctx, generic_refund(payload["data"]))
        return f"refund: credit memo {reference}"
    return f"order {data.name} kept" + ("; its stock released" if released else "")
