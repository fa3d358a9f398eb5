"""A day's sync runs by when they were created, in pages.

Reconciliation with an ERP that cannot list its day by date (Sage X3's connector) looks up the
receipts our runs of that day wrote. It paged them by id with the day as a filter, so each night
walked every run ever written to reach the day's (beside 20,000 runs of other days, a day of about
40 sales read 40,000 sync_run rows: tests/integration/test_reconcile_history.py). With this index
it pages by (created_at, id) and reads the day's.

Revision ID: 0016_runs_by_day
Revises: 0015_plain_matches
Create Date: 2026-12-07 23:00:00
"""
from alembic import op


revision = '0016_runs_by_day'
down_revision = '0015_plain_matches'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_sync_run_created', 'sync_run', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_sync_run_created', table_name='sync_run')
