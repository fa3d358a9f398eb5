"""The console's free-text search reads indexes, not every run (PostgreSQL).

A search that is not an id, a reference or an amount (console/story.py `search`) asks for the
customer key, the invoice id and the customer id in the stored export record, and a substring of
the payer's name. Only the customer key had an index, so such a search read runs newest first until
it had 50: a name that matches nothing read every run (0.9 to 2.1 s at a year of 5,000 sales a day;
420 ms at 500,000 runs). With an index on each expression, the same text as the query's, and a
trigram index (pg_trgm) for the name's substring, PostgreSQL ORs the four indexes: 0.12 ms for a name
that matches nothing, 16 ms for one matching 2,000 runs (500,000 runs).

pg_trgm is a trusted extension since PostgreSQL 13 (a database owner may create it). Where it
cannot be created (not installed, no privilege), the name's index is left out and said so; the
search then reads as before. SQLite (the demo) is left as it is.

Revision ID: 0017_search_by_name
Revises: 0016_runs_by_day
Create Date: 2026-12-07 23:30:00
"""
import logging

from alembic import op

revision = '0017_search_by_name'
down_revision = '0016_runs_by_day'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# The expressions exactly as SQLAlchemy renders console/story.py's conditions, so the planner matches them.
INVOICE = "(CAST((transaction ->> 'invoice_id') AS VARCHAR))"
CUSTOMER = "(lower(CAST((transaction ->> 'customer_id') AS VARCHAR)))"
NAME = "(lower(CAST(((transaction -> 'billing_address') ->> 'name') AS VARCHAR)))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX ix_sync_run_invoice_text ON sync_run ({INVOICE})")
    op.execute(f"CREATE INDEX ix_sync_run_customer_text ON sync_run ({CUSTOMER})")
    op.execute("SAVEPOINT trgm")
    try:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # Where it was created before, perhaps in a schema of its own (managed servers keep one for
        # extensions), its operator class is named with that schema.
        schema = op.get_bind().exec_driver_sql(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'").scalar_one()
        op.execute(f'CREATE INDEX ix_sync_run_name_trgm ON sync_run USING gin ({NAME} "{schema}".gin_trgm_ops)')
    except Exception as exc:  # not installed, no privilege, ...: the search reads names as before
        op.execute("ROLLBACK TO SAVEPOINT trgm")
        log.warning("the console's search by name stays unindexed: pg_trgm could not serve it (%s)",
                    str(exc).splitlines()[0])
    else:
        op.execute("RELEASE SAVEPOINT trgm")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("ix_sync_run_name_trgm", "ix_sync_run_customer_text", "ix_sync_run_invoice_text"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
