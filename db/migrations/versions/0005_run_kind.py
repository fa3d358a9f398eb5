"""A run per (transaction, kind): a voided sale has a sale run and a void run under one id.

Revision ID: 0005_run_kind
Revises: 0004_run_facts
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

from db.types import BigId

revision = "0005_run_kind"
down_revision = "0004_run_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="sale"))
        batch.add_column(sa.Column("parent_transaction_id", BigId, nullable=True))
        batch.drop_constraint("uq_sync_run_txn", type_="unique")
        batch.create_unique_constraint("uq_sync_run_txn_kind", ["gateway", "transaction_id", "erp", "kind"])
    op.create_index("ix_sync_run_parent_transaction_id", "sync_run", ["parent_transaction_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_run_parent_transaction_id", "sync_run")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("parent_transaction_id")
        batch.drop_constraint("uq_sync_run_txn_kind", type_="unique")
        batch.create_unique_constraint("uq_sync_run_txn", ["gateway", "transaction_id", "erp"])
        batch.drop_column("kind")
