"""reconcile_item written cheaper: a reconciliation of a million transactions writes a million items.

run_id without a foreign key: checking it cost about 6 s of PostgreSQL's CPU at a million items
(40% of writing the plain matches, EXPLAIN ANALYZE).

The check guards nothing a run does: items are written only by the run that owns them
(flows/settlement.py, after `open_run` committed the run), and nothing deletes a run; a run
started again deletes its own items first. The index on (run_id, subject) stays.

The index by (run_id, is_exception) becomes (run_id, id) of the exceptions only: read only for a
run's exceptions (the review filing, the report), it took an entry per matched item too (about
1 s of a million).

Revision ID: 0011_items_unchecked
Revises: 0010_written_fresh
Create Date: 2026-12-07 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_items_unchecked'
down_revision = '0010_written_fresh'
branch_labels = None
depends_on = None

#: PostgreSQL's own name for the key 0002 created unnamed; on SQLite (unnamed there) batch mode
#: reflects the table and gives the key this name through the naming convention, to drop it.
NAME = 'reconcile_item_run_id_fkey'
CONVENTION = {'fk': '%(table_name)s_%(column_0_name)s_fkey'}


def upgrade() -> None:
    with op.batch_alter_table('reconcile_item', naming_convention=CONVENTION) as batch:
        batch.drop_constraint(NAME, type_='foreignkey')
    op.drop_index('ix_reconcile_item_run_exception', table_name='reconcile_item')
    op.create_index('ix_reconcile_item_exceptions', 'reconcile_item', ['run_id', 'id'],
                    postgresql_where=sa.text('is_exception'), sqlite_where=sa.text('is_exception = 1'))


def downgrade() -> None:
    op.drop_index('ix_reconcile_item_exceptions', table_name='reconcile_item')
    op.create_index('ix_reconcile_item_run_exception', 'reconcile_item', ['run_id', 'is_exception'])
    with op.batch_alter_table('reconcile_item', naming_convention=CONVENTION) as batch:
        batch.create_foreign_key(NAME, 'reconcile_run', ['run_id'], ['id'])
