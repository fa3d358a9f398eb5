"""The poller: overlapping day windows catch a sale at the midnight boundary; repeats add nothing."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from config.settings import load_settings
from connectors.paytrace import PayTraceGateway
from db.migrate import upgrade
from db.models import InboxEvent
from db.session import session_scope
from sandbox.paytrace import create_app
from sandbox.server import SandboxServer
from tests.contract.test_paytrace_client import client_for, sale
from workers.poller import poll_once

PACIFIC = ZoneInfo("America/Los_Angeles")


class Clock:
    def __init__(self, when: datetime):
        self.when = when

    def __call__(self) -> datetime:
        return self.when.astimezone(timezone.utc)


def pacific(day: int, hh: int, mm: int, ss: int) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=PACIFIC)


@pytest.fixture
def world(pg_url):
    upgrade(pg_url)
    clock = Clock(pacific(20, 23, 59, 58))
    with SandboxServer(create_app("u", "p", "INTEG1", clock=clock)) as server:
        settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": pg_url, "PAYTRACE_BASE_URL": server.url})
        yield settings, clock, PayTraceGateway(client_for(server))


def inbox_txns(settings) -> list[int]:
    with session_scope(settings.database_url) as s:
        return sorted(r.transaction_id for r in s.query(InboxEvent).all())


def test_a_sale_stamped_before_midnight_but_seen_after_is_still_caught(world):
    settings, clock, gateway = world
    a = sale(gateway.client)["transaction_id"]
    assert len(poll_once(settings, gateway, now=pacific(20, 23, 59, 59))) == 1
    clock.when = pacific(21, 0, 0, 1)
    b = sale(gateway.client)["transaction_id"]
    assert len(poll_once(settings, gateway, now=pacific(21, 0, 0, 5))) == 1  # only b is new
    # a sale stamped 23:59:59 on the 20th that only reaches the export after that poll
    clock.when = pacific(20, 23, 59, 59)
    c = sale(gateway.client)["transaction_id"]
    assert len(poll_once(settings, gateway, now=pacific(21, 0, 1, 0))) == 1
    assert inbox_txns(settings) == sorted([a, b, c])
    assert poll_once(settings, gateway, now=pacific(21, 0, 2, 0)) == []


def test_a_malformed_export_row_is_kept_for_a_dead_letter_not_dropped(pg_url):
    upgrade(pg_url)
    settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": pg_url})

    class OneBadRow:  # a fake is fine here: the point is our handling of a row PayTrace never sends
        def transactions_between(self, start, end):
            return [{"amount": 5}, {"transaction_id": 7, "transaction_type": "SALE"}]

        def checks_between(self, start, end):
            return [{"amount": 6}, {"check_transaction_id": 7, "transaction_type": "SALE", "status_code": "Y"}]

    new = poll_once(settings, OneBadRow(), now=datetime(2026, 11, 21, 12, tzinfo=timezone.utc))
    assert len(new) == 4
    with session_scope(pg_url) as s:
        kinds = sorted((r.event_type, r.transaction_id) for r in s.query(InboxEvent).all())
    # check 7 and card sale 7 are two events: checks are numbered on their own
    assert kinds == [("export.ach.sale", 7), ("export.invalid", None), ("export.invalid", None), ("export.sale", 7)]
    assert poll_once(settings, OneBadRow(), now=datetime(2026, 11, 21, 12, 1, tzinfo=timezone.utc)) == []


def test_a_poll_while_paytrace_is_down_alerts_and_leaves_the_cursor_for_the_next_tick(pg_url, monkeypatch, caplog):
    from cli import runtime
    from config.settings import get_settings
    from db.models import DeadLetter, PollerCursor
    from workers import context, tasks

    upgrade(pg_url)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PAYTRACE_BASE_URL", f"http://127.0.0.1:{runtime.free_port()}")
    monkeypatch.setenv("HTTP_RETRIES", "0")
    get_settings.cache_clear()
    context.forget_contexts()
    try:
        assert tasks.poll_paytrace.run() == 0  # the task's own body, called directly (no broker involved)
    finally:
        get_settings.cache_clear()
        context.forget_contexts()
    assert "ALERT poll of PayTrace (pair default) failed" in caplog.text
    with session_scope(pg_url) as s:
        assert s.query(DeadLetter).count() == 0 and s.query(PollerCursor).count() == 0
