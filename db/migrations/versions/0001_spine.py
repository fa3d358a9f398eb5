"""The spine: inbox, sync runs, step ledger, dead letters, poller cursor.

Revision ID: 0001_spine
Revises:
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

from db.types import BigId, JsonDoc, UTCDateTime

revision = "0001_spine"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_run",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("gateway", sa.String(20), nullable=False),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("erp", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("transaction", JsonDoc, nullable=True),
        sa.Column("current_step", sa.String(40), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("gateway", "transaction_id", "erp", name="uq_sync_run_txn"),
    )
    op.create_index("ix_sync_run_status_updated", "sync_run", ["status", "updated_at"])
    op.create_table(
        "inbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("transaction_id", BigId, nullable=True),
        sa.Column("payload", JsonDoc, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("run_id", BigId, sa.ForeignKey("sync_run.id"), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("enqueued_at", UTCDateTime, nullable=True),
        sa.Column("processed_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
    )
    op.create_index("ix_inbox_status_received", "inbox", ["status", "received_at"])
    op.create_table(
        "step_ledger",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId, sa.ForeignKey("sync_run.id"), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("erp_ref", sa.String(80), nullable=True),
        sa.Column("erp_reference_number", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(80), nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("run_id", "step", name="uq_step_ledger_run_step"),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId, sa.ForeignKey("sync_run.id"), nullable=True),
        sa.Column("inbox_id", BigId, sa.ForeignKey("inbox.id"), nullable=True),
        sa.Column("task_name", sa.String(80), nullable=False),
        sa.Column("step", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error_type", sa.String(80), nullable=False),
        sa.Column("context", JsonDoc, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("replay_count", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("replayed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_dead_letter_status", "dead_letter", ["status"])
    op.create_table(
        "poller_cursor",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("position", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("poller_cursor")
    op.drop_index("ix_dead_letter_status", "dead_letter")
    op.drop_table("dead_letter")
    op.drop_table("step_ledger")
    op.drop_index("ix_inbox_status_received", "inbox")
    op.drop_table("inbox")
    op.drop_index("ix_sync_run_status_updated", "sync_run")
    op.drop_table("sync_run")
