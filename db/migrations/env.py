"""Alembic environment: the URL comes from the caller's config, the metadata from db.models."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from db.models import MIGRATION_ONLY_INDEXES, Base
import db.reconcile_models  # noqa: F401,E402  (the reconciliation tables join Base.metadata)
import db.store_models  # noqa: F401,E402  (the e-commerce tables join Base.metadata)

config = context.config
target_metadata = Base.metadata


def compared(obj, name, type_, reflected, compare_to) -> bool:
    """What autogenerate compares: not the indexes only a migration makes (db/models.py MIGRATION_ONLY_INDEXES),
    which it would otherwise drop."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True,
                      include_object=compared)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_object=compared)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
