"""Bring a database to the newest schema with Alembic, from code or the CLI."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from db.session import normalize_url

    url = normalize_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from db.session import get_engine

    if url.startswith("sqlite"):
        get_engine(url)  # creates the folder of the SQLite file
    command.upgrade(alembic_config(url), revision)
