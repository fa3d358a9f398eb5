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

# One Redis database of the shared server, emptied before use, so tests never touch db 0.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
# Every integration stack of this session shares the broker; the one Celery app is built once.
os.environ.setdefault("REDIS_URL", REDIS_URL)

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


def _admin_engine():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"paysync_t_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    from db.session import get_engine

    get_engine(f"{base}/{name}").dispose()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def redis_url():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def stack_factory(pg_url, redis_url, tmp_path: Path):
    """Build Stacks on PostgreSQL and the shared Redis; everything is stopped at teardown."""
    from cli.stack import Stack
    from config.settings import get_settings

    stacks = []

    def make(**extra_env: str):
        stack = Stack(home=tmp_path / f"stack{len(stacks)}", database_url=pg_url, redis_url=redis_url,
                      extra_env={**FAST_ENV, **extra_env})
        stacks.append(stack)
        stack.start_services()
        # The test process speaks as this paysync too (dlq replay, assertions through Settings).
        os.environ.update(stack.env)
        get_settings.cache_clear()
        return stack

    yield make
    for stack in stacks:
        stack.stop()
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
