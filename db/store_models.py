"""Tables of the e-commerce path: store orders and their lines, statuses owed to the store, stock pushed.

Every fact of an order is a column (totals, addresses, the PayTrace sale it joined, the ERP's
sales order and its allocation), so a join, a cancel or a review is a query, not a parse.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base
from db.types import BigId, UTCDateTime, utcnow

MONEY = Numeric(14, 2)
QTY = Numeric(12, 3)
#: A live order whose stocked lines the ERP has not reserved: what they hold is still the store's (flows/stock.py).
HOLDING = "allocation = 'none' AND cancelled_at IS NULL"


class StoreOrder(Base):
    """One order from an online store, as its newest webhook told it, and what paysync did with it.

    `status`: waiting (for its payment), joined (a PayTrace sale pays it), unpaid (the window
    passed; on the review list), cancelled. `allocation`: none, allocated, released, or nothing (its
    sales order is in the ERP and no line of it is stocked: there was nothing to reserve).
    """

    __tablename__ = "store_order"
    __table_args__ = (
        UniqueConstraint("pair", "store", "store_order_id", name="uq_store_order_store_id"),
        UniqueConstraint("pair", "store", "order_number", name="uq_store_order_number"),
        Index("ix_store_order_status_deadline", "status", "deadline_at"),
        Index("ix_store_order_transaction", "pair", "transaction_id"),
        Index("ix_store_order_run", "run_id"),  # each sale stage asks for its run's order
        Index("ix_store_order_number", "pair", "order_number"),  # 0012: found by number without its store
        # 0013: the orders whose quantities the ERP has not reserved (the stock tick's), and only those
        Index("ix_store_order_holding", "pair", postgresql_where=text(HOLDING), sqlite_where=text(HOLDING)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    store: Mapped[str] = mapped_column(String(40))  # shopify, or the generic sender's name
    store_order_id: Mapped[str] = mapped_column(String(64))
    order_number: Mapped[str] = mapped_column(String(20))  # 1001 (Shopify order_number), the join key
    name: Mapped[str] = mapped_column(String(64))  # "#1001", as the shopper saw it
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    financial_status: Mapped[str] = mapped_column(String(30), default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_discounts: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_tax: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_shipping: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    total_price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    email: Mapped[str] = mapped_column(String(200), default="")
    customer_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    bill_line1: Mapped[str] = mapped_column(String(120), default="")
    bill_line2: Mapped[str] = mapped_column(String(120), default="")
    bill_city: Mapped[str] = mapped_column(String(80), default="")
    bill_state: Mapped[str] = mapped_column(String(80), default="")
    bill_postal_code: Mapped[str] = mapped_column(String(20), default="")
    bill_country: Mapped[str] = mapped_column(String(80), default="")
    ship_name: Mapped[str] = mapped_column(String(120), default="")
    ship_line1: Mapped[str] = mapped_column(String(120), default="")
    ship_city: Mapped[str] = mapped_column(String(80), default="")
    ship_state: Mapped[str] = mapped_column(String(80), default="")
    ship_postal_code: Mapped[str] = mapped_column(String(20), default="")
    ship_country: Mapped[str] = mapped_column(String(80), default="")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The store's own updated_at of the version kept: an older webhook never overwrites a newer one.
    store_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a payment that has not come by then puts the order on the review list.
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"), nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sales_order_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    sales_order_ref: Mapped[str | None] = mapped_column(String(40), nullable=True)
    allocation: Mapped[str] = mapped_column(String(20), default="none")
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)


class StoreOrderLine(Base):
    """One line of a store order: what was bought, at what price, less its discount, with its tax."""

    __tablename__ = "store_order_line"
    __table_args__ = (UniqueConstraint("order_id", "position", name="uq_store_order_line_position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("store_order.id"))
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[Decimal] = mapped_column(QTY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))


class StoreStatus(Base):
    """A status owed to the store (paid, failed, refunded, cancelled), pushed once, retried until done."""

    __tablename__ = "store_status"
    __table_args__ = (
        UniqueConstraint("order_id", "status", name="uq_store_status_order_status"),
        Index("ix_store_status_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    order_id: Mapped[int] = mapped_column(ForeignKey("store_order.id"))
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StoreSku(Base):
    """A SKU some store order of the pair named (0013): what the stock tick reads, kept as orders
    arrive, so the tick costs the catalogue, not every order line ever received."""

    __tablename__ = "store_sku"

    pair: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)


class StoreInventory(Base):
    """The newest ERP quantity of one SKU and what the store was last told: the newest reading wins."""

    __tablename__ = "store_inventory"
    __table_args__ = (UniqueConstraint("pair", "sku", name="uq_store_inventory_sku"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    sku: Mapped[str] = mapped_column(String(64))
    erp_item: Mapped[str] = mapped_column(String(40))
    inventory_item_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    erp_quantity: Mapped[Decimal] = mapped_column(QTY)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pushed_quantity: Mapped[Decimal | None] = mapped_column(QTY, nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class StoreRefund(Base):
    """One refund of a store order's money, however many sides announce it: one credit memo for it.

    A store refund (refunds/create) and a PayTrace refund of the same order and amount claim the
    same row; `memo_state` (none, posting, posted) is claimed like a ledger step, so the memo is
    written once whichever side comes first.
    """

    __tablename__ = "store_refund"
    __table_args__ = (
        UniqueConstraint("pair", "store_refund_id", name="uq_store_refund_store_id"),
        UniqueConstraint("pair", "transaction_id", name="uq_store_refund_transaction"),
        Index("ix_store_refund_order", "order_id", "amount"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    order_id: Mapped[int] = mapped_column(ForeignKey("store_order.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    store_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    memo_reference: Mapped[str] = mapped_column(String(40))
    memo_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    memo_state: Mapped[str] = mapped_column(String(20), default="none")
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
