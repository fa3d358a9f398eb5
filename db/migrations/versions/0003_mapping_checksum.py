"""The mapping file's checksum on every step ledger row (which rules wrote which document).

Revision ID: 0003_mapping_checksum
Revises: 0002_reconcile
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_mapping_checksum"
down_revision = "0002_reconcile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_ledger") as batch:
        batch.add_column(sa.Column("mapping_checksum", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("step_ledger") as batch:
        batch.drop_column("mapping_checksum")
