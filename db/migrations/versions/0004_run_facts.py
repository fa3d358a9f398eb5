"""Facts of each run's transaction as columns, for the anomaly screen.

Revision ID: 0004_run_facts
Revises: 0003_mapping_checksum
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

from db.types import UTCDateTime

revision = "0004_run_facts"
down_revision = "0003_mapping_checksum"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("customer_key", sa.String(40), nullable=True))
        batch.add_column(sa.Column("card_profile", sa.String(120), nullable=True))
        batch.add_column(sa.Column("paid_at", UTCDateTime, nullable=True))
    op.create_index("ix_sync_run_customer_key", "sync_run", ["customer_key"])
    op.create_index("ix_sync_run_card_profile", "sync_run", ["card_profile"])


def downgrade() -> None:
    op.drop_index("ix_sync_run_card_profile", "sync_run")
    op.drop_index("ix_sync_run_customer_key", "sync_run")
    with op.batch_alter_table("sync_run") as batch:
        for column in ("paid_at", "card_profile", "customer_key", "amount"):
            batch.drop_column(column)
