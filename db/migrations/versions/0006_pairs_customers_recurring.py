"""Several integration pairs in one deployment; customer links; recurring charges.

Revision ID: 0006_pairs_customers_recurring
Revises: 0005_run_kind
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

from db.types import BigId, UTCDateTime

revision = "0006_pairs_customers_recurring"
down_revision = "0005_run_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("pair", sa.String(40), nullable=False, server_default="default"))
        batch.drop_constraint("uq_inbox_source_event", type_="unique")
        batch.create_unique_constraint("uq_inbox_pair_source_event", ["pair", "source", "event_id"])
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("pair", sa.String(40), nullable=False, server_default="default"))
        batch.drop_constraint("uq_sync_run_txn_kind", type_="unique")
        batch.create_unique_constraint("uq_sync_run_pair_txn_kind",
                                       ["pair", "gateway", "transaction_id", "erp", "kind"])
    with op.batch_alter_table("reconcile_run") as batch:
        batch.add_column(sa.Column("pair", sa.String(40), nullable=False, server_default="default"))
        batch.drop_constraint("uq_reconcile_run_day_number", type_="unique")
        batch.create_unique_constraint("uq_reconcile_run_pair_day_number", ["pair", "day", "number"])
    with op.batch_alter_table("settlement_posting") as batch:
        batch.add_column(sa.Column("pair", sa.String(40), nullable=False, server_default="default"))
        batch.drop_constraint("uq_settlement_posting_batch", type_="unique")
        batch.create_unique_constraint("uq_settlement_posting_pair_batch", ["pair", "erp", "batch_number"])
    op.create_table(
        "customer_link",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("erp", sa.String(20), nullable=False),
        sa.Column("paytrace_customer_id", sa.String(64), nullable=False),
        sa.Column("erp_customer_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("paytrace_fingerprint", sa.String(64), nullable=True),
        sa.Column("erp_fingerprint", sa.String(64), nullable=True),
        sa.Column("masked_number", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("pair", "paytrace_customer_id", name="uq_customer_link_profile"),
    )
    op.create_index("ix_customer_link_erp_customer", "customer_link", ["pair", "erp_customer_id"])
    op.create_table(
        "recurring_charge",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("erp", sa.String(20), nullable=False),
        sa.Column("invoice_key", sa.String(80), nullable=False),
        sa.Column("invoice_reference", sa.String(80), nullable=False),
        sa.Column("erp_customer_id", sa.String(40), nullable=False),
        sa.Column("paytrace_customer_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("transaction_id", BigId, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("next_attempt_on", sa.Date, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("pair", "erp", "invoice_key", "attempt", name="uq_recurring_charge_attempt"),
    )
    op.create_index("ix_recurring_charge_status_next", "recurring_charge", ["status", "next_attempt_on"])


def downgrade() -> None:
    op.drop_index("ix_recurring_charge_status_next", "recurring_charge")
    op.drop_table("recurring_charge")
    op.drop_index("ix_customer_link_erp_customer", "customer_link")
    op.drop_table("customer_link")
    with op.batch_alter_table("settlement_posting") as batch:
        batch.drop_constraint("uq_settlement_posting_pair_batch", type_="unique")
        batch.create_unique_constraint("uq_settlement_posting_batch", ["erp", "batch_number"])
        batch.drop_column("pair")
    with op.batch_alter_table("reconcile_run") as batch:
        batch.drop_constraint("uq_reconcile_run_pair_day_number", type_="unique")
        batch.create_unique_constraint("uq_reconcile_run_day_number", ["day", "number"])
        batch.drop_column("pair")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_constraint("uq_sync_run_pair_txn_kind", type_="unique")
        batch.create_unique_constraint("uq_sync_run_txn_kind", ["gateway", "transaction_id", "erp", "kind"])
        batch.drop_column("pair")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_constraint("uq_inbox_pair_source_event", type_="unique")
        batch.create_unique_constraint("uq_inbox_source_event", ["source", "event_id"])
        batch.drop_column("pair")
