"""The stock tick costs the catalogue, not every order ever received.

- store_sku: the SKUs store orders of a pair named, kept as orders arrive (flows/orders.py) and
  filled here from the order lines so far; the tick read them by joining every order line ever
  (0.75 to 0.9 s a minute at a year of 5,000 orders a day);
- a partial index of the live orders whose stocked lines the ERP has not reserved: what store
  orders still hold is summed over those only (flows/stock.py), not over every order for the few
  unallocated. An order posted with no stocked line is now marked `nothing` (flows/orders.py), so
  it leaves the index once posted; before, it stayed "unallocated" for ever.

Revision ID: 0013_store_skus
Revises: 0012_found_by_index
Create Date: 2026-12-07 20:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_store_skus'
down_revision = '0012_found_by_index'
branch_labels = None
depends_on = None

HOLDING = "allocation = 'none' AND cancelled_at IS NULL"


def upgrade() -> None:
    op.create_table('store_sku',
                    sa.Column('pair', sa.String(length=40), nullable=False),
                    sa.Column('sku', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('pair', 'sku'))
    op.execute("INSERT INTO store_sku (pair, sku) SELECT DISTINCT o.pair, l.sku FROM store_order_line l "
               "JOIN store_order o ON o.id = l.order_id WHERE l.sku <> ''")
    op.create_index('ix_store_order_holding', 'store_order', ['pair'], postgresql_where=sa.text(HOLDING),
                    sqlite_where=sa.text(HOLDING))


def downgrade() -> None:
    op.drop_index('ix_store_order_holding', table_name='store_order')
    op.drop_table('store_sku')
