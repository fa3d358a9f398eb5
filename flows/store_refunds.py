"""A store refund and a PayTrace refund of the same money meet in one credit memo.

When a shopper is refunded in the store (refunds/create) the store's gateway refunds the card in
PayTrace too, so paysync hears of the same money twice. Both sides claim one `store_refund` row:
the PayTrace refund of a store order's sale takes the row the store's refund of the same amount
made (or makes it), and the other way round. The row fixes the memo's reference when it is made
and is claimed like a ledger step while the memo is written, so whichever side writes it, it is
written once; the other side's step records that memo (the PayTrace refund then pays it out).
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.errors import PermanentError, RetriableError, StepBusy
from db.models import SyncRun
from db.session import session_scope
from db.store_models import StoreOrder, StoreRefund
from db.types import utcnow
from flows import documents, orders
from flows.ledger import claimer, done_keys
from schemas.domain import CreditMemo, ErpDocument, GatewayTransaction
from schemas.store import StoreRefundData

if TYPE_CHECKING:
    from flows.runs import FlowContext


def memo_reference(store_refund_id: str, max_length: int = 20) -> str:
    """`SR<refund id>-CM`, or a stable hash of it when the store's id is too long for the ERP."""
    candidate = f"SR{store_refund_id}-CM"
    if len(candidate) <= max_length:
        return candidate
    digest = base64.b32encode(hashlib.sha1(store_refund_id.encode()).digest()).decode()
    return f"SR{digest[: max_length - 5]}-CM"


def _claim(db_url: str, pair: str, order_id: int, amount: Decimal, *, transaction_id: int | None = None,
           store_refund_id: str | None = None, reference: str) -> int:
    """The refund row this side of the money claims: its own, the other side's of the same amount, or a new one."""
    mine = (StoreRefund.transaction_id == transaction_id) if transaction_id is not None \
        else (StoreRefund.store_refund_id == store_refund_id)
    # The other side's row: PayTrace's refund takes one the store made (no transaction yet), and back.
    theirs = StoreRefund.transaction_id.is_(None) if transaction_id is not None \
        else StoreRefund.store_refund_id.is_(None)
    for _ in range(3):
        try:
            with session_scope(db_url) as s:
                row = s.scalar(select(StoreRefund).where(StoreRefund.pair == pair, mine))
                if row is not None:
                    return row.id
                row = s.scalar(select(StoreRefund).where(StoreRefund.pair == pair, StoreRefund.order_id == order_id,
                                                         StoreRefund.amount == amount, theirs)
                               .order_by(StoreRefund.id).limit(1).with_for_update())
                if row is None:
                    row = StoreRefund(pair=pair, order_id=order_id, amount=amount, memo_reference=reference,
                                      memo_state="none", created_at=utcnow())
                    s.add(row)
                if transaction_id is not None:
                    row.transaction_id = transaction_id
                else:
                    row.store_refund_id = store_refund_id
                s.flush()
                return row.id
        except IntegrityError:
            continue  # the other side claimed it in the meantime: look again
    raise RetriableError("refund claim contended; retry", system="paysync", operation="store refund")


def _post(ctx: "FlowContext", claim_id: int, memo: CreditMemo, lease_seconds: float) -> ErpDocument:
    """Write the claim's memo once, under the claim's own lease (like a ledger step)."""
    me = claimer()
    with session_scope(ctx.db_url) as s:
        row = s.scalar(select(StoreRefund).where(StoreRefund.id == claim_id).with_for_update())
        if row.memo_state == "posted":
            return ErpDocument("credit_memo", row.memo_key, row.memo_reference, amount=Decimal(row.amount),
                               customer_id=memo.customer_id)
        live = row.memo_state == "posting" and row.claimed_by != me and \
            row.claimed_at > utcnow() - timedelta(seconds=lease_seconds)
        if live:
            raise StepBusy(f"credit memo {row.memo_reference} is being written by another worker", retry_after=2,
                           system="paysync", operation="credit_memo")
        row.memo_state, row.claimed_by, row.claimed_at = "posting", me, utcnow()
        reference = row.memo_reference
    try:
        doc = ctx.erp.ensure_credit_memo(replace(memo, reference=reference))
    except BaseException:
        with session_scope(ctx.db_url) as s:
            row = s.get(StoreRefund, claim_id)
            if row.memo_state == "posting" and row.claimed_by == me:
                row.memo_state = "none"
        raise
    with session_scope(ctx.db_url) as s:
        row = s.get(StoreRefund, claim_id)
        row.memo_state, row.memo_key = "posted", doc.key
    return doc


def ensure_memo(ctx: "FlowContext", sale_transaction_id: int, txn: GatewayTransaction,
                memo: CreditMemo) -> ErpDocument:
    """The PayTrace refund's credit memo: shared with the store's refund of the same money, if there is one."""
    order_id = orders.order_of_sale(ctx.db_url, ctx.pair, sale_transaction_id)
    if order_id is None:
        return ctx.erp.ensure_credit_memo(memo)
    claim = _claim(ctx.db_url, ctx.pair, order_id, memo.amount, transaction_id=txn.transaction_id,
                   reference=memo.reference)
    return _post(ctx, claim, memo, ctx.lease_seconds)


def store_refund(ctx: "FlowContext", data: StoreRefundData) -> str | None:
    """A refund the store made: its credit memo (shared with PayTrace's refund of it); the memo's reference."""
    if data.amount <= 0:
        return None  # a refund that moved no money (a restock only): nothing to credit
    with session_scope(ctx.db_url) as s:
        order = s.scalar(select(StoreOrder).where(StoreOrder.pair == ctx.pair, StoreOrder.store == data.store,
                                                  StoreOrder.store_order_id == data.store_order_id))
        order_id, name = (order.id, order.name) if order else (None, data.store_order_id)
        run_id = order.run_id if order else None
        run = s.get(SyncRun, run_id) if run_id else None
        posted = run is not None and run.status == "succeeded"
    if order_id is None or not posted:
        # Out of order (the refund before its order or its sale): wait with the usual backoff.
        raise RetriableError(f"store refund {data.store_refund_id} waits for order {name} and its sale to be posted",
                             system="paysync", operation="store refund")
    with session_scope(ctx.db_url) as s:
        refs = done_keys(s, run_id)
    if "invoice" not in refs or "customer" not in refs:
        raise PermanentError(f"store refund {data.store_refund_id}: the sale of order {name} has no invoice to "
                             f"credit (it was posted on account); credit it by hand", system="paysync",
                             operation="store refund")
    reference = memo_reference(data.store_refund_id, ctx.erp.max_reference_length)
    claim = _claim(ctx.db_url, ctx.pair, order_id, data.amount, store_refund_id=data.store_refund_id,
                   reference=reference)
    memo = documents.store_refund_memo(ctx.mapping, reference, refs["customer"], refs["invoice"], data.amount,
                                       data.created_at, f"Store refund {data.store_refund_id} of order {name}"[:40])
    return _post(ctx, claim, memo, ctx.lease_seconds).reference
