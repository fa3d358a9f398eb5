"""Tables of the nightly reconciliation: its runs, their findings, their plain matches, and the
settlement journals claimed per batch.

A run's items are read as one through flows/settlement_items.py (findings and plain matches).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base
from db.types import BigId, JsonDoc, UTCDateTime, utcnow


class ReconcileRun(Base):
    """One reconciliation of a merchant-local day; `run_key` is unique so a beat tick runs once."""

    __tablename__ = "reconcile_run"
    __table_args__ = (
        UniqueConstraint("run_key", name="uq_reconcile_run_key"),
        UniqueConstraint("pair", "day", "number", name="uq_reconcile_run_pair_day_number"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default", server_default="default")
    day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first run of the day, then 2, 3, ...
    run_key: Mapped[str] = mapped_column(String(80))  # beat:<day> for the scheduled run, else unique
    trigger: Mapped[str] = mapped_column(String(20))
    erp: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    totals: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # per batch: PayTrace vs items
    counts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # items by class
    exceptions: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)  # since the previous run of the day
    report_csv: Mapped[str | None] = mapped_column(String(400), nullable=True)
    report_html: Mapped[str | None] = mapped_column(String(400), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReconcileItem(Base):
    """One finding of a run: a batch transaction, an ERP document PayTrace does not know, or a batch."""

    __tablename__ = "reconcile_item"
    __table_args__ = (
        Index("ix_reconcile_item_run_subject", "run_id", "subject"),
        # A run's exceptions only (0011): a matched item, most of a day, costs no entry here.
        Index("ix_reconcile_item_exceptions", "run_id", "id", postgresql_where=text("is_exception"),
              sqlite_where=text("is_exception = 1")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key (0011): only the run that owns them writes its items, and no run is ever
    # deleted (a run started again deletes its own items); the check cost 6 s a million items.
    run_id: Mapped[int] = mapped_column(BigId)
    subject: Mapped[str] = mapped_column(String(40))  # T<transaction id> or B<batch number>
    batch_number: Mapped[int | None] = mapped_column(BigId, nullable=True)
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    transaction_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    item_class: Mapped[str] = mapped_column(String(30))
    is_exception: Mapped[bool] = mapped_column(Boolean, default=False)
    expected_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    found_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    action: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class ReconcileMatch(Base):
    """A run's plain matches (0015): sales of one batch and type the ERP holds exactly one receipt and one
    journal for at the settled amount, up to ten thousand a row, as comma-separated ids and amounts in
    cents (in the same order). flows/settlement_items.py reads them back as items."""

    __tablename__ = "reconcile_match"
    __table_args__ = (
        Index("ix_reconcile_match_run", "run_id"),
        # One transaction's rows: those whose range holds it, among those that end at or after it.
        Index("ix_reconcile_match_last", "last_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId)
    batch_number: Mapped[int] = mapped_column(BigId)
    transaction_type: Mapped[str] = mapped_column(String(20))
    synced: Mapped[bool] = mapped_column(Boolean)  # whether we have a sync run of them (it picks `detail`)
    detail: Mapped[str] = mapped_column(Text)
    first_id: Mapped[int] = mapped_column(BigId)
    last_id: Mapped[int] = mapped_column(BigId)
    count: Mapped[int] = mapped_column(Integer)
    transaction_ids: Mapped[str] = mapped_column(Text)
    cents: Mapped[str] = mapped_column(Text)


class SettlementPosting(Base):
    """The settlement journal of one batch in one ERP, claimed before the ERP is touched."""

    __tablename__ = "settlement_posting"
    __table_args__ = (UniqueConstraint("pair", "erp", "batch_number", name="uq_settlement_posting_pair_batch"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair: Mapped[str] = mapped_column(String(40), default="default", server_default="default")
    batch_number: Mapped[int] = mapped_column(BigId)
    erp: Mapped[str] = mapped_column(String(20))
    journal_ref: Mapped[str] = mapped_column(String(40))
    erp_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reconcile_run.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
