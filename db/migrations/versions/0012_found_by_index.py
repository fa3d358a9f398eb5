"""Indexes for lookups that read every row ever written (an audit at a year of 5,000 sales a day).

- inbox by run and by transaction: a payment's story in the console, which asks for both (399 ms
  -> 0.04 ms); by run, a retry waiting for PayTrace to show its transaction (flows/hints.py,
  318 ms) and a chargeback's case (flows/chargebacks.py, 590 ms);
- store_order by (pair, order number): each store sale's join and each decline's, refund's or
  void's order, which name no store (the unique key has the store in the middle: 34 ms);
- review_item by (kind, reference): every decline, park and anomaly files one item and looks its
  key up first (19.5 ms, growing with every item ever filed).

Revision ID: 0012_found_by_index
Revises: 0011_items_unchecked
Create Date: 2026-12-07 20:00:00
"""
from alembic import op


revision = '0012_found_by_index'
down_revision = '0011_items_unchecked'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_inbox_run', 'inbox', ['run_id']),
    ('ix_inbox_transaction', 'inbox', ['transaction_id']),
    ('ix_store_order_number', 'store_order', ['pair', 'order_number']),
    ('ix_review_item_key', 'review_item', ['kind', 'reference']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
