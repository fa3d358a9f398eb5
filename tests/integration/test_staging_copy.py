"""Reconciliation's staging COPY (flows/settlement_stage.py) on a real PostgreSQL: what goes in comes back.

The rows are written in COPY's text format by `%` and checked a list at a time; a list holding a
value from outside with a tab, a line end, a carriage return or a backslash (an ERP's document key,
a reference) is written again escaped. Given lists of plain and hostile values, when they are
copied into a table, then every value reads back exactly as it was and the NULL markers as NULL
(a value that is exactly the marker, `\\N`, is NULL, as it was in the CSV this replaced).
"""
from __future__ import annotations

from sqlalchemy import create_engine

from flows.settlement_stage import NULL, _TextFeed

HOSTILE = ["tab\there", "line\nend", "carriage\rreturn", "back\\slash", "x\\N", "\\Nx", "\\.", "ends with \\",
           "", "%s %d", "naïve €", "two\t\\N\tnulls"]


def copied(pg_url: str, lists: list[list[tuple]]) -> list[tuple]:
    engine = create_engine(pg_url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TEMP TABLE t (n BIGINT, a TEXT, b TEXT, c BIGINT)")
        feed = _TextFeed(lists, 4)
        cursor.copy_expert("COPY t (n, a, b, c) FROM STDIN", feed, size=1 << 20)
        cursor.execute("SELECT n, a, b, c FROM t ORDER BY n")
        return cursor.fetchall()
    finally:
        raw.close()
        engine.dispose()


def test_plain_and_hostile_values_read_back_as_they_were(pg_url):
    # Given a list of plain rows, a list with a hostile value in each place, and NULLs side by side
    plain = [(n, f"PT{n}-RCP", f"K{n}", n * 100) for n in range(1, 1001)]
    hostile = [(2000 + i, value, f"key {value}", None) for i, value in enumerate(HOSTILE)]
    nulls = [(3000, NULL, NULL, NULL), (3001, "a", NULL, 5)]
    lists = [plain, [(r[0], r[1], r[2], NULL if r[3] is None else r[3]) for r in hostile], nulls]
    # When they are copied
    rows = copied(pg_url, lists)
    # Then every value reads back exactly, markers as NULL
    expected = plain + hostile + [(3000, None, None, None), (3001, "a", None, 5)]
    assert rows == expected


def test_a_list_is_escaped_only_when_it_must_be():
    feed = _TextFeed(iter([[(1, "a", NULL, 2)], [(2, "b\tc", NULL, 3)], [(3, "x\\N", "d", 4)], [],
                           [(4, NULL, NULL, NULL)]]), 4)
    assert feed.read() == "1\ta\t\\N\t2\n"  # as written: nothing to escape
    assert feed.read() == "2\tb\\tc\t\\N\t3\n"  # the tab escaped, the marker kept
    assert feed.read() == "3\tx\\\\N\td\t4\n"  # a backslash in text escaped
    assert feed.read() == "4\t\\N\t\\N\t\\N\n"  # three markers side by side: the long way, same text
    assert feed.read() == ""
