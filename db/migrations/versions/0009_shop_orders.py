"""The e-commerce path: store orders and lines, statuses owed to the store, stock pushed, shared refunds.

Revision ID: 0009_shop_orders
Revises: 0008_console
Create Date: 2026-12-07 04:14:39.109215
"""
from alembic import op
import sqlalchemy as sa

import db.types


revision = '0009_shop_orders'
down_revision = '0008_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('store_inventory',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pair', sa.String(length=40), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('erp_item', sa.String(length=40), nullable=False),
    sa.Column('inventory_item_id', sa.String(length=80), nullable=True),
    sa.Column('erp_quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('read_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pushed_quantity', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('pushed_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair', 'sku', name='uq_store_inventory_sku')
    )
    op.create_table('store_order',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pair', sa.String(length=40), nullable=False),
    sa.Column('store', sa.String(length=40), nullable=False),
    sa.Column('store_order_id', sa.String(length=64), nullable=False),
    sa.Column('order_number', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('financial_status', sa.String(length=30), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_discounts', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_tax', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_shipping', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('customer_name', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('bill_line1', sa.String(length=120), nullable=False),
    sa.Column('bill_line2', sa.String(length=120), nullable=False),
    sa.Column('bill_city', sa.String(length=80), nullable=False),
    sa.Column('bill_state', sa.String(length=80), nullable=False),
    sa.Column('bill_postal_code', sa.String(length=20), nullable=False),
    sa.Column('bill_country', sa.String(length=80), nullable=False),
    sa.Column('ship_name', sa.String(length=120), nullable=False),
    sa.Column('ship_line1', sa.String(length=120), nullable=False),
    sa.Column('ship_city', sa.String(length=80), nullable=False),
    sa.Column('ship_state', sa.String(length=80), nullable=False),
    sa.Column('ship_postal_code', sa.String(length=20), nullable=False),
    sa.Column('ship_country', sa.String(length=80), nullable=False),
    sa.Column('placed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('store_updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('joined_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sales_order_key', sa.String(length=80), nullable=True),
    sa.Column('sales_order_ref', sa.String(length=40), nullable=True),
    sa.Column('allocation', sa.String(length=20), nullable=False),
    sa.Column('allocated_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sync_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair', 'store', 'order_number', name='uq_store_order_number'),
    sa.UniqueConstraint('pair', 'store', 'store_order_id', name='uq_store_order_store_id')
    )
    with op.batch_alter_table('store_order', schema=None) as batch_op:
        batch_op.create_index('ix_store_order_status_deadline', ['status', 'deadline_at'], unique=False)
        batch_op.create_index('ix_store_order_transaction', ['pair', 'transaction_id'], unique=False)

    op.create_table('store_order_line',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('discount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['store_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'position', name='uq_store_order_line_position')
    )
    op.create_table('store_refund',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pair', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('store_refund_id', sa.String(length=64), nullable=True),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('memo_reference', sa.String(length=40), nullable=False),
    sa.Column('memo_key', sa.String(length=80), nullable=True),
    sa.Column('memo_state', sa.String(length=20), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claimed_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['store_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair', 'store_refund_id', name='uq_store_refund_store_id'),
    sa.UniqueConstraint('pair', 'transaction_id', name='uq_store_refund_transaction')
    )
    with op.batch_alter_table('store_refund', schema=None) as batch_op:
        batch_op.create_index('ix_store_refund_order', ['order_id', 'amount'], unique=False)

    op.create_table('store_status',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pair', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['store_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'status', name='uq_store_status_order_status')
    )
    with op.batch_alter_table('store_status', schema=None) as batch_op:
        batch_op.create_index('ix_store_status_state_next', ['state', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('store_status', schema=None) as batch_op:
        batch_op.drop_index('ix_store_status_state_next')

    op.drop_table('store_status')
    with op.batch_alter_table('store_refund', schema=None) as batch_op:
        batch_op.drop_index('ix_store_refund_order')

    op.drop_table('store_refund')
    op.drop_table('store_order_line')
    with op.batch_alter_table('store_order', schema=None) as batch_op:
        batch_op.drop_index('ix_store_order_transaction')
        batch_op.drop_index('ix_store_order_status_deadline')

    op.drop_table('store_order')
    op.drop_table('store_inventory')
