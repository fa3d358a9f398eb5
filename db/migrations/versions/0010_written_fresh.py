"""step_ledger.created: the document was written because the ERP had none (not found and kept);
store_order is found by its run (every sale stage asks) through an index, not a scan.

A document the run wrote into an ERP holding none of its reference proves that the documents the
run writes only after it cannot exist yet: their first attempt need not look them up (flows/runs.py).

Revision ID: 0010_written_fresh
Revises: 0009_shop_orders
Create Date: 2026-12-07 05:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_written_fresh'
down_revision = '0009_shop_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('step_ledger') as batch:
        batch.add_column(sa.Column('created', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_store_order_run', 'store_order', ['run_id'])


def downgrade() -> None:
    op.drop_index('ix_store_order_run', table_name='store_order')
    with op.batch_alter_table('step_ledger') as batch:
        batch.drop_column('created')
