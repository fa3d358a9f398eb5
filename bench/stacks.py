"""What the end-to-end benches share: a fresh PostgreSQL database, a stack on it, sales pushed, runs waited for.

PostgreSQL is what a deployment at volume runs on; each bench gets a database of its own (dropped
after) on the server BENCH_PG_ADMIN_URL names (127.0.0.1's `test` database by default), and falls
back to SQLite when that server does not answer (the figure says so).
"""
from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, func, select, text

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def kept_environment() -> Iterator[None]:
    """Give this process's environment back as it was after a figure that set a stack's in it.

    `make bench` runs every figure in one process: a stack's settings left behind (its poll and
    sweep intervals of an hour) became the next figure's "defaults" (p5 read an interval of 3,600 s).
    """
    from config.settings import get_settings

    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@contextmanager
def fresh_database(home: Path) -> Iterator[str]:
    """A PostgreSQL database of the bench's own (or a SQLite file when PostgreSQL is not there)."""
    name = f"paysync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg2://", 1),
                          isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # no PostgreSQL here: the embedded default
        admin.dispose()
        yield f"sqlite:///{home / 'bench.sqlite3'}"
        return
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_finished(database_url: str, ids: list[int], timeout: float = 900.0) -> int:
    """Until every run of these transactions has finished (succeeded or dead); how many times it looked."""
    from db.models import SyncRun
    from db.session import session_scope

    looks = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        looks += 1
        with session_scope(database_url) as s:
            done = s.scalar(select(func.count()).select_from(SyncRun).where(
                SyncRun.transaction_id.in_(ids), SyncRun.status.in_(("succeeded", "dead")))) or 0
        if done >= len(ids):
            return looks
        time.sleep(0.05)
    raise TimeoutError(f"only {done} of {len(ids)} runs finished within {timeout:g} s")


def dead_runs(database_url: str) -> int:
    from db.models import SyncRun
    from db.session import session_scope

    with session_scope(database_url) as s:
        return s.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "dead")) or 0
