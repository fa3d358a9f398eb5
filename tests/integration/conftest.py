"""Fixtures shared by the integration tier's modules."""
from __future__ import annotations

import pytest

from db.migrate import upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path):
    """A migrated database, once on PostgreSQL and once on SQLite (a module may define its own)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    return url
