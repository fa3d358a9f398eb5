"""/metrics on the ingress: events in by source as they are stored, and gauges read from the database."""
from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from config.settings import load_settings
from db.inbox import store_event
from ingress.app import create_app


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_events_in_by_source_and_read_runs_letters_and_backlog_from_the_database(db_url, seeded,
                                                                                              tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYSYNC_HOME": str(tmp_path)})
    client = create_app(settings, enqueue=lambda inbox_id: None).test_client()
    before = scrape(client).get(("paysync_events_in_total", (("pair", "default"), ("source", "poll"))), 0)
    # when two new events and one repeat are stored
    for event_id in ("a", "b", "a"):
        store_event(db_url, source="poll", event_id=event_id, event_type="SALE", transaction_id=None, payload={})
    seen = scrape(client)
    # then the counters moved by what was new and what was a repeat
    assert seen[("paysync_events_in_total", (("pair", "default"), ("source", "poll")))] == before + 2
    assert seen[("paysync_events_repeated_total", (("pair", "default"), ("source", "poll")))] >= 1
    # and the database gauges tell runs by kind and status, open dead letters and the inbox backlog
    assert seen[("paysync_dead_letters_open", ())] == 1
    assert seen[("paysync_backlog", (("what", "inbox"),))] == 2  # the two stored, not yet processed
    assert seen[("paysync_database_up", ())] == 1
    assert seen[("paysync_reconcile_exceptions", (("day", "2026-11-21"), ("pair", "default")))] == 0


def test_metrics_need_the_bearer_token_when_one_is_set(db_url, tmp_path, monkeypatch):
    from config.console import get_console_settings

    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    get_console_settings.cache_clear()
    try:
        settings = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYSYNC_HOME": str(tmp_path)})
        client = create_app(settings, enqueue=lambda inbox_id: None).test_client()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert re.search(r"paysync_database_up 1", client.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-token"}).get_data(as_text=True))
    finally:
        get_console_settings.cache_clear()
