"""The lean sale path: decisions and holds in columns, the transaction's facts loaded once, stages on the ledger.

Revision ID: 0007_lean_path
Revises: 0006_pairs_customers_recurring
Create Date: 2026-12-07
"""
from decimal import Decimal

from alembic import op
import sqlalchemy as sa

from db.types import BigId

revision = "0007_lean_path"
down_revision = "0006_pairs_customers_recurring"
branch_labels = None
depends_on = None

_MATCH_VIA = {"id": "invoice_id", "po": "customer_reference_id", "desc": "description", "amt": "amount_and_customer"}
_STAGES = {"customer": "customer", "sales_order": "order", "invoice": "order", "credit_memo": "order",
           "payment": "payment", "on_account": "payment", "refund": "payment", "reversal": "payment",
           "journal": "gl"}


def upgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("invoice_ref", sa.String(50), nullable=True))
        batch.add_column(sa.Column("masked_card", sa.String(24), nullable=True))
        batch.add_column(sa.Column("hold", sa.String(20), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("facts", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
                                   nullable=True))
        batch.add_column(sa.Column("fx_rate", sa.Numeric(18, 8), nullable=True))
        batch.add_column(sa.Column("erp_customer", sa.String(40), nullable=True))
        batch.add_column(sa.Column("sale_run_id", BigId, nullable=True))
        batch.add_column(sa.Column("match_outcome", sa.String(12), nullable=True))
        batch.add_column(sa.Column("match_invoice_key", sa.String(80), nullable=True))
        batch.add_column(sa.Column("match_invoice_reference", sa.String(80), nullable=True))
        batch.add_column(sa.Column("match_customer", sa.String(40), nullable=True))
        batch.add_column(sa.Column("match_applied", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("match_via", sa.String(30), nullable=True))
        batch.create_foreign_key("fk_sync_run_sale_run", "sync_run", ["sale_run_id"], ["id"])
    op.create_index("ix_sync_run_sale_run_id", "sync_run", ["sale_run_id"])
    op.create_index("ix_sync_run_invoice_ref", "sync_run", ["invoice_ref"])
    op.create_index("ix_sync_run_masked_card", "sync_run", ["masked_card"])
    op.create_index("ix_sync_run_match_invoice_key", "sync_run", ["match_invoice_key"])
    with op.batch_alter_table("step_ledger") as batch:
        batch.add_column(sa.Column("stage", sa.String(20), nullable=True))
    _carry_over()


def _carry_over() -> None:
    """Decisions kept as text in the ledger's `match` rows, and holds kept as text in last_error, into columns."""
    conn = op.get_bind()
    ledger = sa.table("step_ledger", sa.column("id"), sa.column("run_id"), sa.column("step"), sa.column("stage"),
                      sa.column("status"), sa.column("erp_ref"), sa.column("erp_reference_number"))
    runs = sa.table("sync_run", sa.column("id"), sa.column("status"), sa.column("last_error"), sa.column("hold"),
                    sa.column("note"), sa.column("match_outcome"), sa.column("match_invoice_key"),
                    sa.column("match_applied"), sa.column("match_via"))
    for row in conn.execute(sa.select(ledger.c.run_id, ledger.c.erp_ref, ledger.c.erp_reference_number)
                            .where(ledger.c.step == "match", ledger.c.status == "done")).all():
        outcome, applied, via = ((row.erp_reference_number or "unmatched:0.00:").split(":", 3) + ["", ""])[:3]
        conn.execute(runs.update().where(runs.c.id == row.run_id).values(
            match_outcome=outcome, match_invoice_key=row.erp_ref or None, match_applied=Decimal(applied or "0"),
            match_via=_MATCH_VIA.get(via, via)))
    conn.execute(ledger.delete().where(ledger.c.step == "match"))
    for step, stage in _STAGES.items():
        conn.execute(ledger.update().where(ledger.c.step == step).values(stage=stage))
    skipped = runs.c.status == "skipped"
    for hold, pattern in (("authorized", "authorized, not captured yet%"), ("parked", "parked for review%"),
                          ("declined", "declined%")):
        conn.execute(runs.update().where(skipped, runs.c.last_error.like(pattern))
                     .values(hold=hold, note=runs.c.last_error, last_error=None))


def downgrade() -> None:
    with op.batch_alter_table("step_ledger") as batch:
        batch.drop_column("stage")
    op.drop_index("ix_sync_run_match_invoice_key", "sync_run")
    op.drop_index("ix_sync_run_masked_card", "sync_run")
    op.drop_index("ix_sync_run_invoice_ref", "sync_run")
    op.drop_index("ix_sync_run_sale_run_id", "sync_run")
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_constraint("fk_sync_run_sale_run", type_="foreignkey")
        for column in ("match_via", "match_applied", "match_customer", "match_invoice_reference",
                       "match_invoice_key", "match_outcome", "sale_run_id", "erp_customer", "fx_rate", "facts", "note", "hold", "masked_card", "invoice_ref"):
            batch.drop_column(column)
