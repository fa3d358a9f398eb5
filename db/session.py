"""Engines and sessions: one engine per database URL per process, short transactions."""
from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2 (SQLAlchemy 2.1 would otherwise pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


@lru_cache(maxsize=8)
def _engine(url: str, pid: int) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            # WAL lets the worker, beat and ingress processes read while one writes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # No pre-ping: it doubles the round trips of every short transaction; a connection that died
    # raises OperationalError, which the tasks retry, and the pool discards it.
    connect, statement, pool = _timeouts()
    # A server that accepts and never answers must not hold a request or a task: the connection,
    # each statement and the wait for a pooled connection are all bounded (issue 11).
    args = {"connect_timeout": connect, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
            "keepalives_count": 3, "tcp_user_timeout": max(connect, 10) * 1000}
    if statement:
        args["options"] = f"-c statement_timeout={int(statement * 1000)}"
    return create_engine(url, pool_size=5, max_overflow=5, pool_recycle=1800, pool_timeout=pool, connect_args=args)


def _timeouts() -> tuple[int, float, float]:
    """(connect, statement, pool wait) seconds from the settings; the defaults if they cannot be read."""
    from config.settings import Settings, SettingsError, get_settings

    try:
        s = get_settings()
    except SettingsError:  # the command that needs them reports the settings; the engine stays bounded
        s = None
    if s is None:
        defaults = {f.name: f.default for f in Settings.__dataclass_fields__.values()}
        return defaults["db_connect_timeout"], defaults["db_statement_timeout"], defaults["db_pool_timeout"]
    return s.db_connect_timeout, s.db_statement_timeout, s.db_pool_timeout


def get_engine(url: str) -> Engine:
    """The engine for `url` in this process (a forked child gets its own pool)."""
    return _engine(url, os.getpid())


@lru_cache(maxsize=8)
def _factory(url: str, pid: int) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = _factory(url, os.getpid())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
