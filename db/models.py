"""The tables: one inbox row per inbound event, one sync run per gateway transaction, its steps."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import BigId, JsonDoc, UTCDateTime, utcnow


class Base(DeclarativeBase):
    """Declarative base of every paysync table."""


class InboxEvent(Base):
    """One inbound event (poll row, webhook, silent post), stored before anyone is told 2xx."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("pair", "source", "event_id", name="uq_inbox_pair_source_event"),
        Index("ix_inbox_status_received", "status", "received_at"),
        Index("ix_inbox_run", "run_id"),  # 0012: a run's events (the console's story, hints, chargebacks)
        Index("ix_inbox_transaction", "transaction_id"),  # 0012: a transaction's events (the console's story)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The integration pair (PayTrace account -> ERP) the event came in for (config/settings.py pairs).
    pair: Mapped[str] = mapped_column(String(40), default="default", server_default="default")
    source: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # Card data is masked before this is written (schemas.masking), never after.
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(20), default="received")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


#: Indexes on expressions of sync_run's stored export record, PostgreSQL only, made by migration 0017 for the
#: console's free-text search: written there in the query's own text (the planner matches it), and left out
#: of these models, which cannot say "PostgreSQL only" to Alembic's comparison.
MIGRATION_ONLY_INDEXES = frozenset({"ix_sync_run_invoice_text", "ix_sync_run_customer_text", "ix_sync_run_name_trgm"})


class SyncRun(Base):
    """The sync of one gateway transaction into one ERP; its steps are in the ledger."""

    __tablename__ = "sync_run"
    __table_args__ = (
        UniqueConstraint("pair", "gateway", "transaction_id", "erp", "kind", name="uq_sync_run_pair_txn_kind"),
        Index("ix_sync_run_status_updated", "status", "updated_at"),
        Index("ix_sync_run_paid_at", "paid_at"),  # the console's day page reads one day of payments
        Index("ix_sync_run_transaction", "transaction_id"),  # 0014: the console's search by id or reference
        Index("ix_sync_run_amount", "amount"),  # 0014: and by amount
        Index("ix_sync_run_created", "created_at", "id"),  # 0016: a day's runs, in pages (reconciliation)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The integration pair whose PayTrace account, ERP and mapping the run posts with.
    pair: Mapped[str] = mapped_column(String(40), default="default", server_default="default")
    #: Whose id space `transaction_id` is in: "paytrace" (card transactions) or "paytrace_ach"
    #: (check transactions, numbered on their own: a check and a card sale may share a number).
    gateway: Mapped[str] = mapped_column(String(20), default="paytrace")
    transaction_id: Mapped[int] = mapped_column(BigId)
    erp: Mapped[str] = mapped_column(String(20))
    #: What the run posts for the transaction: "sale", "refund" or "void" (a voided sale keeps its id).
    kind: Mapped[str] = mapped_column(String(20), default="sale", server_default="sale")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    transaction: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    current_step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Facts of the transaction kept as columns (set when it is fetched) so the anomaly screen can
    # ask "this customer's usual amount" and "this card's last ten minutes" with an index.
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    customer_key: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    card_profile: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The merchant's invoice id and the masked card of the transaction: what links a refund to its sale.
    invoice_ref: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    masked_card: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
    #: For a refund, the sale it gives money back from.
    parent_transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    # -- decided once, at ingest (flows/payment_sync.py prepare), read by every stage ---------
    #: Why a run posts nothing (more): declined, authorized (waits for its capture), parked (a person decides).
    hold: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: What a person reads about the run's outcome (the error of a failure stays in `last_error`).
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The transaction as the domain sees it (schemas/domain.py facts): loaded and checked once.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    #: Base-currency units per unit of the PayTrace account's currency, fixed when the run was prepared.
    fx_rate: Mapped[Decimal | None] = mapped_column(Numeric(18, 8), nullable=True)
    #: The ERP customer the run posts for when known at ingest (a linked vault profile, the invoice's customer).
    erp_customer: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: For a refund, void or chargeback: the sale run it builds on (and how it was linked, `match_via`).
    sale_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"), nullable=True, index=True)
    #: The sale's match decision (flows/decision.py): which ERP invoice it pays, how much, found how.
    match_outcome: Mapped[str | None] = mapped_column(String(12), nullable=True)
    match_invoice_key: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    match_invoice_reference: Mapped[str | None] = mapped_column(String(80), nullable=True)
    match_customer: Mapped[str | None] = mapped_column(String(40), nullable=True)
    match_applied: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    match_via: Mapped[str | None] = mapped_column(String(30), nullable=True)

    steps: Mapped[list["StepLedger"]] = relationship(back_populates="run", order_by="StepLedger.id",
                                                      foreign_keys="StepLedger.run_id")


class StepLedger(Base):
    """One row per (run, step), written before the ERP is touched; holds the ERP's document ref."""

    __tablename__ = "step_ledger"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_step_ledger_run_step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id"))
    #: The document the row is for (sales_order, invoice, payment, on_account, journal, credit_memo, ...).
    step: Mapped[str] = mapped_column(String(40))
    #: The stage (task) that writes it: customer, order, payment or gl.
    stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    erp_ref: Mapped[str | None] = mapped_column(String(80), nullable=True)
    erp_reference_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: Written into an ERP that held no document of its reference (not found and kept): what the
    #: run writes after it cannot exist yet (flows/runs.py Post.after).
    created: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # host:pid of the process that claimed the step; a dead claimer's step can be taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # sha256 of the mapping file the document was written with (config/mapping.checksum).
    mapping_checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    run: Mapped[SyncRun] = relationship(back_populates="steps")


class DeadLetter(Base):
    """Work that failed for good (permanent error or retries exhausted), with why and how to resume."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_status", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"), nullable=True)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"), nullable=True)
    task_name: Mapped[str] = mapped_column(String(80))
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    error_type: Mapped[str] = mapped_column(String(80))
    context: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PollerCursor(Base):
    """How far a poller has read a gateway's export; the next window starts before it."""

    __tablename__ = "poller_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# -- nightly reconciliation (flows/settlement.py) and the review list ------------------------
class ReviewItem(Base):
    """The one list of what a person must look at (reconciliation exceptions, later more kinds)."""

    __tablename__ = "review_item"
    __table_args__ = (
        Index("ix_review_item_status_kind", "status", "kind"),
        Index("ix_review_item_group", "group_key", "status"),
        Index("ix_review_item_key", "kind", "reference"),  # 0012: every filing looks its key up
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. reconcile.amount_mismatch
    reference: Mapped[str] = mapped_column(String(80))  # what it is about: PT<txn>, PTB<batch>, ...
    reason: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str | None] = mapped_column(String(80), nullable=True)  # e.g. reconcile:2026-11-21
    context: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


# -- customers both ways (flows/customers.py) and recurring billing (flows/recurring.py) -------
class CustomerLink(Base):
    """A PayTrace vault profile and the ERP customer it is, with what each side last said.

    The fingerprints are hashes of the contact details (never card data) last synced from each
    side, so a change is noticed once and an echo of our own write is not taken for a change.
    """

    __tablename__ = "customer_link"
    __table_args__ = (
        UniqueConstraint("pair", "paytrace_customer_id", name="uq_customer_link_profile"),
        Index("ix_customer_link_erp_customer", "pair", "erp_customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    erp: Mapped[str] = mapped_column(String(20))
    paytrace_customer_id: Mapped[str] = mapped_column(String(64))
    erp_customer_id: Mapped[str] = mapped_column(String(40))
    #: linked | review (a duplicate rule matched and the mapping says a person decides)
    status: Mapped[str] = mapped_column(String(20), default="linked")
    paytrace_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    erp_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Masked card or account number of the profile (first 6 / last 4 at most): the most we keep.
    masked_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RecurringCharge(Base):
    """One attempt to charge one ERP invoice through PayTrace, written before PayTrace is called.

    `status`: charging (written, PayTrace not yet answered: after a crash, PayTrace is asked by
    invoice id before anything is charged again), charged, declined, failed (refused before any
    money moved) or superseded. Unique per (pair, erp, invoice, attempt): one charge per attempt.
    """

    __tablename__ = "recurring_charge"
    __table_args__ = (
        UniqueConstraint("pair", "erp", "invoice_key", "attempt", name="uq_recurring_charge_attempt"),
        Index("ix_recurring_charge_status_next", "status", "next_attempt_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default")
    erp: Mapped[str] = mapped_column(String(20))
    invoice_key: Mapped[str] = mapped_column(String(80))
    invoice_reference: Mapped[str] = mapped_column(String(80))
    erp_customer_id: Mapped[str] = mapped_column(String(40))
    paytrace_customer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    due_date: Mapped[date] = mapped_column(Date)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="charging")
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# -- the operator's console (console/) and alerts that leave the process (alerts/) -----------
class ConsoleUser(Base):
    """A person who may sign in to the console; the password is kept only as a salted hash."""

    __tablename__ = "console_user"
    __table_args__ = (UniqueConstraint("name", name="uq_console_user_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    #: viewer (reads everything) or operator (also replays dead letters and resolves review items)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConsoleAudit(Base):
    """One line per console action (sign-in, replay, resolve, ...): who, what, on what, when, outcome."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[str] = mapped_column(Text, default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class AlertNotice(Base):
    """When an alert key was last sent: the same key is not sent again inside its quiet period.

    Rows keyed `rate:<pair>:<hour>` count the alerts sent for a pair in that hour (the rate limit).
    Both are claimed with one conditional UPDATE, so two processes never both send.
    """

    __tablename__ = "alert_notice"
    __table_args__ = (UniqueConstraint("key", name="uq_alert_notice_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    pair: Mapped[str] = mapped_column(String(40), default="default")
    kind: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
