"""The operator's console: users, the audit of their actions; when each alert was last sent.

Revision ID: 0008_console
Revises: 0007_lean_path
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from db.types import BigId, UTCDateTime

revision = "0008_console"
down_revision = "0007_lean_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sync_run_paid_at", "sync_run", ["paid_at"])  # the day page: one day of payments
    op.create_table(
        "console_user",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("name", name="uq_console_user_name"),
    )
    op.create_table(
        "console_audit",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("user", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(20), nullable=False, server_default="ok"),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("remote_addr", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_table(
        "alert_notice",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("pair", sa.String(40), nullable=False, server_default="default"),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Column("sent_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("suppressed", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("key", name="uq_alert_notice_key"),
    )


def downgrade() -> None:
    op.drop_table("alert_notice")
    op.drop_index("ix_console_audit_at", "console_audit")
    op.drop_table("console_audit")
    op.drop_table("console_user")
    op.drop_index("ix_sync_run_paid_at", "sync_run")
