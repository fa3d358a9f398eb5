"""A night's plain matches as a few rows per batch, not one row per sale.

A sale the ERP holds exactly one receipt and one journal for, at the settled amount, was written as
a reconcile_item row of its own: at 100k sales, 0.37 s of PostgreSQL's time in a 2.3 s run (the
heap, the key and the (run, subject) index of 98,800 rows), and the statistics taken after it.
reconcile_match keeps them as lists of ids and amounts, a row per batch, type and ten thousand
records, with the lowest and highest id a row holds so that one transaction's rows are found by
range (console/story.py). Every other finding stays a reconcile_item row. Items written before this
stay where they are; everything that reads a run's items reads both (flows/settlement_items.py).
Downgrading drops the table and with it every plain match written since: the runs keep their
counts, but their stories and the next comparison with them no longer see those sales.

Revision ID: 0015_plain_matches
Revises: 0014_search_by_index
Create Date: 2026-12-07 22:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0015_plain_matches'
down_revision = '0014_search_by_index'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'reconcile_match',
        sa.Column('id', BigId, primary_key=True),
        sa.Column('run_id', BigId, nullable=False),
        sa.Column('batch_number', BigId, nullable=False),
        sa.Column('transaction_type', sa.String(20), nullable=False),
        sa.Column('synced', sa.Boolean(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('first_id', BigId, nullable=False),
        sa.Column('last_id', BigId, nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('transaction_ids', sa.Text(), nullable=False),
        sa.Column('cents', sa.Text(), nullable=False),
    )
    op.create_index('ix_reconcile_match_run', 'reconcile_match', ['run_id'])
    op.create_index('ix_reconcile_match_last', 'reconcile_match', ['last_id'])


def downgrade() -> None:
    op.drop_index('ix_reconcile_match_last', table_name='reconcile_match')
    op.drop_index('ix_reconcile_match_run', table_name='reconcile_match')
    op.drop_table('reconcile_match')
