"""Sage Pro with its sandbox for the contract suite: a fresh SQLite file or a scratch PostgreSQL database.

`sage_pro()` picks the backend from SAGEPRO_TEST_BACKEND (postgresql, the default, or sqlite).
"""
from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text

from sandbox import sage_pro as sandbox

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
COMPANY = "01"


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A new, empty database URL of `backend`, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sagepro-") as folder:
            yield f"sqlite:///{Path(folder) / 'sagepro.sqlite3'}"
        return
    name = f"sagepro_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def custno_of(url: str, customer_id: str) -> str:
    """The CUSTNO under which the connector filed one of our customer ids (arcust CUSTGEN)."""
    rows = [r for r in sandbox.state(url, COMPANY)["arcust"] if r["CUSTGEN"].strip() == customer_id]
    assert len(rows) == 1, f"{customer_id}: {len(rows)} arcust rows"
    return rows[0]["CUSTNO"]


@contextmanager
def sage_pro(backend: str | None = None) -> Iterator["ErpUnderTest"]:
    from connectors.sage_pro import SageProConfig, SageProConnector
    from tests.contract.erps import ErpUnderTest  # here, so erps.py may import this module at its top

    backend = backend or os.environ.get("SAGEPRO_TEST_BACKEND", "postgresql")
    with scratch_database(backend) as url:
        sandbox.install(url, COMPANY)
        connector = SageProConnector(SageProConfig(database_url=url, company=COMPANY, lock_timeout_seconds=0.5))
        busy = sandbox.exclusive_use(url, COMPANY)
        try:
            yield ErpUnderTest(
                "sage_pro", connector, item="PAYMENT", cash_account="1200-00", other_account="1205-00",
                set_busy=lambda on: busy.start() if on else busy.stop(),
                lock_customer=lambda cid: sandbox.lock(url, COMPANY, "arcust", custno_of(url, cid)),
                add_item=lambda item: sandbox.add_item(url, COMPANY, item))
        finally:
            busy.stop()
            connector.close()
