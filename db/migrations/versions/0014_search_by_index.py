"""The console's search by PayTrace id, reference or amount reads an index, not every run.

sync_run's unique key starts with the pair and the gateway, which a search names neither of; and
no index had the amount. With both, and the free-text conditions left out of such a search
(console/story.py), a search for PT101999000 at a year of 5,000 sales a day reads a handful of rows
instead of every run (2,015 ms -> 0.17 ms; an amount 2,117 ms -> 1.0 ms).

Revision ID: 0014_search_by_index
Revises: 0013_store_skus
Create Date: 2026-12-07 20:45:00
"""
from alembic import op


revision = '0014_search_by_index'
down_revision = '0013_store_skus'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_sync_run_transaction', 'sync_run', ['transaction_id']),
    ('ix_sync_run_amount', 'sync_run', ['amount']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
