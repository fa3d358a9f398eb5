"""The console's queries on PostgreSQL (JSONB paths, the day's bounds), where production runs them."""
from __future__ import annotations

from console import queries, story
from db.migrate import upgrade
from tests.console.seed import DAY, seed


def test_search_story_and_day_read_the_same_on_postgresql(pg_url):
    # given the seeded day on PostgreSQL
    upgrade(pg_url)
    ids = seed(pg_url)
    # when a person searches by invoice, customer name, customer id, amount and reference
    for query in ("INV-1002", "grace", "cust-1002", "80.00", "PT1002-RCP"):
        assert [f.transaction_id for f in story.search(pg_url, query)] == [1002], query
    # then the story and the day read as on SQLite
    told = story.story(pg_url, "default", "paytrace", 1001)
    assert [r.run.kind for r in told.runs] == ["sale", "refund"] and told.settlement[0]["batch"] == 77
    [day] = queries.day_summary(pg_url, DAY, "America/Los_Angeles")
    assert (day.counts["in"], day.counts["failed"], str(day.not_in_erp)) == (3, 1, "80.00")
    assert queries.dead_letter(pg_url, ids["letter"])[1].transaction_id == 1002
