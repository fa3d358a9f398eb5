"""Shared fixtures: real PostgreSQL and Redis for integration tests, one fresh database per stack.

The shared services are the machine's own (PostgreSQL on 127.0.0.1:5432, Redis on 6379);
override with TEST_PG_ADMIN_URL and TEST_REDIS_URL. Tests that kill a server start their own.
"""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandboxes' per-request log

REDIS_SERVER = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
_OWNER_KEY = "paysync:pytest:owner"


def _claim_redis_db() -> str:
    """A database of the shared Redis that no other test session holds (never db 0).

    Two sessions on one machine (a developer's run beside CI's) would otherwise empty each
    other's queues. The claim is a key set only if absent, renewed after each flush.
    """
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    for db in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{db}")
        if client.set(_OWNER_KEY, os.getpid(), nx=True, ex=3 * 3600):
            return f"{REDIS_SERVER}/{db}"
        owner = client.get(_OWNER_KEY)
        if owner and not _alive(int(owner)):
            client.set(_OWNER_KEY, os.getpid(), ex=3 * 3600)
            return f"{REDIS_SERVER}/{db}"
    raise RuntimeError("every Redis database 1-15 is held by another test session")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# The sandboxes' addresses and credentials are defaults only outside production (config/settings.py).
os.environ["PAYSYNC_ENV"] = "test"

FAST_ENV = {
    # Small numbers so retries, leases and the sweeper act within a test's patience; the
    # Settings cross-checks still hold (visibility > backoff cap + time limit, etc.).
    "POLL_INTERVAL_SECONDS": "2",
    "SWEEP_INTERVAL_SECONDS": "3",
    "SWEEP_STALL_SECONDS": "30",
    "RETRY_BACKOFF_BASE": "0.2",
    "RETRY_BACKOFF_MAX": "4",
    "RETRY_MAX_ATTEMPTS": "12",
    "TASK_TIME_LIMIT": "20",
    "VISIBILITY_TIMEOUT": "30",
    "HTTP_RETRIES": "1",
    "SAGE50_TIMEOUT": "5",
    "PAYTRACE_TIMEOUT": "5",
}


@pytest.fixture(scope="session")
def redis_server_url():
    """A Redis database of the shared server claimed for this session (unit tests never ask for one).

    Every integration stack of the session shares it as its broker, and this process speaks to it
    too (dlq replay from a test): the one Celery app is pointed at it before its first use.
    """
    url = _claim_redis_db()
    os.environ["REDIS_URL"] = url
    from config.celery import celery_app
    from config.settings import get_settings

    get_settings.cache_clear()
    celery_app.conf.broker_url = url
    yield url
    client = redis.Redis.from_url(url)
    if client.get(_OWNER_KEY) == str(os.getpid()).encode():
        client.delete(_OWNER_KEY)


def _admin_engine():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_factory():
    """Make fresh, empty PostgreSQL databases; every one is dropped after the test."""
    engine = _admin_engine()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    names = []

    def make() -> str:
        name = f"paysync_t_{uuid.uuid4().hex[:12]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return f"{base}/{name}"

    yield make
    from db.session import get_engine

    for name in names:
        get_engine(f"{base}/{name}").dispose()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def pg_url(pg_factory):
    """A fresh, empty PostgreSQL database for one test."""
    return pg_factory()


@pytest.fixture
def redis_url(redis_server_url):
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.set(_OWNER_KEY, os.getpid(), ex=3 * 3600)
    yield redis_server_url
    client.flushdb()
    client.set(_OWNER_KEY, os.getpid(), ex=3 * 3600)


@pytest.fixture
def stack_factory(pg_url, pg_factory, redis_url, tmp_path: Path):
    """Build Stacks on PostgreSQL and the shared Redis; everything is stopped at teardown.

    `make(erp=...)` picks the ERP sandbox; Sage Pro gets its own PostgreSQL database.
    """
    from cli.stack import Stack
    from config.settings import get_settings

    stacks = []
    saved_environ = os.environ.copy()

    def make(erp: str = "sage50", with_shop: bool = False, **extra_env: str):
        stack = Stack(home=tmp_path / f"stack{len(stacks)}", database_url=pg_url, redis_url=redis_url, erp=erp,
                      sage_pro_url=pg_factory() if erp == "sage_pro" else None,
                      extra_env={**FAST_ENV, **extra_env}, with_shop=with_shop)
        stacks.append(stack)
        stack.start_services()
        # The test process speaks as this paysync too (dlq replay, assertions through Settings).
        os.environ.update(stack.env)
        get_settings.cache_clear()
        return stack

    yield make
    for stack in stacks:
        stack.stop()
    # A stack's environment (an odd item, a short timeout) must not leak into the next test.
    os.environ.clear()
    os.environ.update(saved_environ)
    get_settings.cache_clear()


def dump_logs(stack) -> str:
    """The children's logs, for a failing assertion's message."""
    out = []
    for child in stack.processes.children:
        try:
            out.append(f"--- {child.name} ---\n" + child.log_path.read_text()[-4000:])
        except OSError:
            continue
    return "\n".join(out)
