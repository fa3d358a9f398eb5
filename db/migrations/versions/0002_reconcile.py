"""Nightly reconciliation: runs, their items, settlement postings, and the review list.

Revision ID: 0002_reconcile
Revises: 0001_spine
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from db.types import BigId, JsonDoc, UTCDateTime

revision = "0002_reconcile"
down_revision = "0001_spine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_run",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("run_key", sa.String(80), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("erp", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("totals", JsonDoc, nullable=False),
        sa.Column("counts", JsonDoc, nullable=False),
        sa.Column("exceptions", sa.Integer, nullable=False),
        sa.Column("changes", JsonDoc, nullable=False),
        sa.Column("report_csv", sa.String(400), nullable=True),
        sa.Column("report_html", sa.String(400), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("run_key", name="uq_reconcile_run_key"),
        sa.UniqueConstraint("day", "number", name="uq_reconcile_run_day_number"),
    )
    op.create_table(
        "reconcile_item",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId, sa.ForeignKey("reconcile_run.id"), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("batch_number", BigId, nullable=True),
        sa.Column("transaction_id", BigId, nullable=True),
        sa.Column("transaction_type", sa.String(20), nullable=True),
        sa.Column("item_class", sa.String(30), nullable=False),
        sa.Column("is_exception", sa.Boolean, nullable=False),
        sa.Column("expected_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("found_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_reconcile_item_run_subject", "reconcile_item", ["run_id", "subject"])
    op.create_index("ix_reconcile_item_run_exception", "reconcile_item", ["run_id", "is_exception"])
    op.create_table(
        "settlement_posting",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("batch_number", BigId, nullable=False),
        sa.Column("erp", sa.String(20), nullable=False),
        sa.Column("journal_ref", sa.String(40), nullable=False),
        sa.Column("erp_key", sa.String(80), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("run_id", BigId, sa.ForeignKey("reconcile_run.id"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("posted_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("erp", "batch_number", name="uq_settlement_posting_batch"),
    )
    op.create_table(
        "review_item",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("group_key", sa.String(80), nullable=True),
        sa.Column("context", JsonDoc, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.Column("resolved_by", sa.String(80), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("ix_review_item_status_kind", "review_item", ["status", "kind"])
    op.create_index("ix_review_item_group", "review_item", ["group_key", "status"])


def downgrade() -> None:
    op.drop_index("ix_review_item_group", "review_item")
    op.drop_index("ix_review_item_status_kind", "review_item")
    op.drop_table("review_item")
    op.drop_table("settlement_posting")
    op.drop_index("ix_reconcile_item_run_exception", "reconcile_item")
    op.drop_index("ix_reconcile_item_run_subject", "reconcile_item")
    op.drop_table("reconcile_item")
    op.drop_table("reconcile_run")
