"""The poller: overlapping day windows catch a sale at the midnight boundary; repeats add nothing; a tick's
statements grow with its pages and its new records, never with the records it already knows."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import event

from config.settings import load_settings
from connectors.paytrace import PayTraceGateway
from db.migrate import upgrade
from db.models import InboxEvent
from db.session import get_engine, session_scope
from sandbox.paytrace import create_app
from sandbox.server import SandboxServer
from tests.contract.test_paytrace_client import client_for, sale
from workers.poller import poll_once, poll_tick

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
        yield settings, clock, PayTraceGateway(client_for(server)), server.url


def inbox_txns(settings) -> list[int]:
    with session_scope(settings.database_url) as s:
        return sorted(r.transaction_id for r in s.query(InboxEvent).all())


def test_a_sale_stamped_before_midnight_but_seen_after_is_caught_when_the_older_day_is_read_again(world):
    settings, clock, gateway, _ = world
    a = sale(gateway.client)["transaction_id"]
    assert len(poll_once(settings, gateway, now=pacific(20, 23, 59, 59))) == 1  # the first tick reads both days
    clock.when = pacific(21, 0, 0, 1)
    b = sale(gateway.client)["transaction_id"]
    assert len(poll_once(settings, gateway, now=pacific(21, 0, 0, 5))) == 1  # only b is new
    # a sale stamped 23:59:59 on the 20th that only reaches the export after that poll
    clock.when = pacific(20, 23, 59, 59)
    c = sale(gateway.client)["transaction_id"]
    assert poll_once(settings, gateway, now=pacific(21, 0, 1, 0)) == []  # the 20th is not read every tick
    # POLL_OLDER_EVERY_SECONDS (600) after the 20th was last read, it is read again: c is caught
    assert len(poll_once(settings, gateway, now=pacific(21, 0, 10, 0))) == 1
    assert inbox_txns(settings) == sorted([a, b, c])
    assert poll_once(settings, gateway, now=pacific(21, 0, 11, 0)) == []


@contextmanager
def statements(db_url: str):
    """Every statement sent to the database on the real engine, counted by SQLAlchemy's cursor event."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        words = statement.split(None, 3)
        sent.append("INSERT inbox" if words[:3] == ["INSERT", "INTO", "inbox"] else words[0].upper())

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def tick(settings, gateway, when) -> tuple[list[str], object]:
    with statements(settings.database_url) as sent:
        done = poll_tick(settings, gateway, now=when)
    assert done.counts.statements == len(sent)  # the tick's own count is the engine's
    return sent, done


def test_given_known_records_when_the_window_grows_tenfold_then_a_tick_runs_the_same_statements(world):
    settings, clock, gateway, url = world
    clock.when = pacific(21, 12, 0, 0)
    requests.post(f"{url}/_sandbox/generate", json={"count": 50}, timeout=30).raise_for_status()
    first, done = tick(settings, gateway, pacific(21, 12, 0, 1))
    assert (done.counts.fetched, done.counts.new, first.count("INSERT inbox")) == (50, 50, 1)  # one INSERT for the page
    fifty, done = tick(settings, gateway, pacific(21, 12, 1, 0))
    assert (done.counts.known, done.counts.new, "INSERT inbox" not in fifty) == (50, 0, True)

    requests.post(f"{url}/_sandbox/generate", json={"count": 450}, timeout=30).raise_for_status()
    _, done = tick(settings, gateway, pacific(21, 12, 2, 0))
    assert (done.counts.known, done.counts.new, len(done.new_ids)) == (50, 450, 450)  # only the new ones
    five_hundred, done = tick(settings, gateway, pacific(21, 12, 3, 0))
    assert (done.counts.fetched, done.counts.known, done.counts.new) == (500, 500, 0)
    assert five_hundred == fifty  # ten times the records, not one statement more

    # pages of 100: one query more per page, and still nothing per record
    paged, done = tick(replace(settings, poll_page_size=100), gateway, pacific(21, 12, 4, 0))
    assert len(paged) - len(five_hundred) == 5 - 1 and done.counts.new == 0
    sale(gateway.client)  # one new record among 501: one SELECT and one INSERT for its page
    one_new, done = tick(settings, gateway, pacific(21, 12, 5, 0))
    assert (done.counts.new, one_new.count("INSERT inbox"), len(one_new) - len(five_hundred)) == (1, 1, 1)
    with session_scope(settings.database_url) as s:
        assert s.query(InboxEvent).count() == 501


def test_given_the_older_day_when_ticks_pass_then_it_is_read_only_every_older_interval(world):
    settings, clock, gateway, url = world
    settings = replace(settings, paytrace=replace(settings.paytrace, ach=False))  # the card feed alone
    clock.when = pacific(21, 9, 0, 0)
    yesterday = {"count": 30, "created_at": pacific(20, 15, 0, 0).isoformat()}
    requests.post(f"{url}/_sandbox/generate", json=yesterday, timeout=30).raise_for_status()
    requests.post(f"{url}/_sandbox/generate", json={"count": 20}, timeout=30).raise_for_status()
    fetched = [poll_tick(settings, gateway, now=pacific(21, 9, minute, 0)).counts for minute in range(1, 13)]
    # the first tick reads both days, the next nine today only, the 11th (600 s on) both again
    assert [c.days for c in fetched] == [2] + [1] * 9 + [2, 1]
    assert [c.fetched for c in fetched] == [50] + [20] * 9 + [50, 20]
    assert sum(c.new for c in fetched) == 50


def test_new_records_are_masked_and_stored_in_bulk_on_sqlite_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'poller.sqlite3'}"
    upgrade(url)
    settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": url, "PAYTRACE_ACH": "false"})

    class Export:  # a record PayTrace would not send: a full card number in its description
        records = [{"transaction_id": 8, "transaction_type": "SALE", "description": "card 4111 1111 1111 1111"}]

        def transactions_between(self, start, end):
            return self.records

    export = Export()
    with statements(url) as sent:
        first = poll_once(settings, export, now=datetime(2026, 11, 21, 12, tzinfo=timezone.utc))
    assert len(first) == 1 and sent.count("INSERT inbox") == 1
    export.records = export.records + [{"transaction_id": 9, "transaction_type": "SALE"}] * 2
    again = poll_once(settings, export, now=datetime(2026, 11, 21, 12, 1, tzinfo=timezone.utc))
    assert len(again) == 1 and again[0] > first[0]  # 9 once, 8 known
    with session_scope(url) as s:
        rows = {r.transaction_id: r.payload for r in s.query(InboxEvent).all()}
    assert set(rows) == {8, 9} and "4111111111111111" not in str(rows[8]).replace(" ", "")
    assert "1111" in rows[8]["record"]["description"]  # masked, not dropped


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


def test_the_poll_task_sends_one_ingest_message_per_new_row_and_stamps_it(pg_url, redis_url, monkeypatch):
    import base64
    import json

    import redis

    from config.settings import get_settings
    from workers import context, tasks

    upgrade(pg_url)
    clock = Clock(pacific(21, 12, 0, 0))
    with SandboxServer(create_app(clock=clock)) as server:  # the demo account, which has a mapping file
        requests.post(f"{server.url}/_sandbox/generate", json={"count": 30}, timeout=30).raise_for_status()
        monkeypatch.setenv("DATABASE_URL", pg_url)
        monkeypatch.setenv("PAYTRACE_BASE_URL", server.url)
        get_settings.cache_clear()
        context.forget_contexts()
        try:
            first = tasks.poll_and_send(now=pacific(21, 12, 0, 1))  # the task's own body, with a clock
            again = tasks.poll_and_send(now=pacific(21, 12, 1, 0))
        finally:
            get_settings.cache_clear()
            context.forget_contexts()
    messages = [json.loads(m) for m in redis.Redis.from_url(redis_url).lrange("ingest", 0, -1)]
    sent = [json.loads(base64.b64decode(m["body"]))[0] for m in messages
            if m["headers"]["task"] == "paysync.ingest_event"]
    with session_scope(pg_url) as s:
        rows = s.query(InboxEvent).all()
    assert (first.new, again.new, again.known) == (30, 0, 30)
    assert sorted(sent) == sorted([r.id] for r in rows) and len(rows) == 30  # one message per new row, ids only
    assert all(r.enqueued_at is not None for r in rows)  # stamped, so the sweeper leaves them alone


def test_every_feed_cursor_of_a_pair_with_the_longest_name_fits_its_column():
    from db.models import PollerCursor
    from workers.poller import FEEDS, cursor_name

    width = PollerCursor.__table__.c.name.type.length
    names = [cursor_name(base, "p" * 31) for feed in FEEDS.values() for base in feed]
    assert all(len(name) <= width for name in names) and len(set(names)) == len(names), names
    assert cursor_name("paytrace.transactions", "west") == "paytrace.transactions:west"  # as it always was
