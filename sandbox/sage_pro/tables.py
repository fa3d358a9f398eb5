"""Install a Sage Pro company on any SQLAlchemy URL, and the test/demo helpers that poke at it.

Only what the database itself does is modelled: the rules Sage Pro's application enforces
(known items, balances, balanced journals) are left to whoever writes the tables.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Iterator

from sqlalchemy import Engine, create_engine, func, inspect, insert, select, update
from sqlalchemy.engine import make_url

from .seed import rows as seed_rows
from .rules import violations
from .schema import FIELDS, KEYS, RIGHT_JUSTIFIED, blank_row, date_columns, metadata_for, table_name, width


def _url(url: str) -> str:
    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; the sandbox speaks psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(_url(url))
    try:
        yield engine
    finally:
        engine.dispose()  # helpers must leave no idle connection that would block a DROP DATABASE


def _table(company: str, base: str):
    return metadata_for(company).tables[table_name(base, company)]


def install(url: str, company: str = "01", seed: bool = True, character_dates: Iterable[str] = ()) -> None:
    """Create the company's tables (if missing) and, on an empty company, its seed data.

    `character_dates` ("somast.ORDATE") makes those date columns character 'MM/DD/YYYY', as some installs
    keep them [C: one public install writes ORDATE so]."""
    text_dates = set(character_dates)
    metadata = metadata_for(company, text_dates)
    with _engine(url) as engine, engine.begin() as conn:
        metadata.create_all(conn)
        _add_missing_columns(conn, metadata)
        if not seed or conn.scalar(select(func.count()).select_from(_table(company, "arcust"))):
            return
        for base, rows in seed_rows().items():
            rows = [{k: v.strftime("%m/%d/%Y") if f"{base}.{k}" in text_dates else v for k, v in r.items()}
                    for r in rows]
            conn.execute(insert(metadata.tables[table_name(base, company)]), rows)


def character_dates(conn, company: str) -> frozenset[str]:
    """The date columns this install keeps as character (read from the database itself)."""
    inspector = inspect(conn)
    found = set()
    for name in date_columns():
        base, column = name.split(".")
        types = {c["name"].upper(): c["type"] for c in inspector.get_columns(table_name(base, company))}
        try:
            if column in types and types[column].python_type is str:
                found.add(name)
        except NotImplementedError:
            continue
    return frozenset(found)


def _add_missing_columns(conn, metadata) -> None:
    """An older company (before the lifecycle columns) gets the new columns, blank, as a VFP MODIFY STRUCTURE would."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        have = {c["name"].lower() for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name.lower() in have:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = column.server_default.arg
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind} "
                                 f"NOT NULL DEFAULT '{default}'")


def check(url: str, company: str = "01") -> list[str]:
    """The Sage Pro rules the company's rows break (sandbox/sage_pro/rules.py); [] when all hold."""
    return violations(state(url, company))


def state(url: str, company: str = "01") -> dict[str, list[dict]]:
    """Every row of every table, by base name (`arcust`, ...), in key order; values as stored."""
    out = {}
    with _engine(url) as engine, engine.connect() as conn:
        metadata = metadata_for(company, character_dates(conn, company))
        for base in FIELDS:
            t = metadata.tables[table_name(base, company)]
            out[base] = [dict(r._mapping) for r in conn.execute(select(t).order_by(*(t.c[k] for k in KEYS[base])))]
    return out


def key_value(base: str, column: str, value: str) -> str:
    """`value` as the column stores it: right-justified for document numbers, else left."""
    text = str(value).strip()
    size = width(base, column)
    return text.rjust(size) if column in RIGHT_JUSTIFIED else text.ljust(size)


def lock(url: str, company: str, table: str, key: str, user: str = "ADMN") -> None:
    """Set LCKSTAT/LCKUSER/LCKDATE/LCKTIME on one row, as Sage Pro does while a user edits it."""
    now = datetime.now()
    _set_lock(url, company, table, key, {"LCKSTAT": "L", "LCKUSER": user.ljust(4)[:4], "LCKDATE": now.date(),
                                         "LCKTIME": now.strftime("%H:%M:%S")})


def unlock(url: str, company: str, table: str, key: str) -> None:
    """Clear the row's lock columns."""
    blank = blank_row(table)
    _set_lock(url, company, table, key, {c: blank[c] for c in ("LCKSTAT", "LCKUSER", "LCKDATE", "LCKTIME")})


def _set_lock(url: str, company: str, table: str, key: str, values: dict) -> None:
    [column] = KEYS[table]  # only single-key tables carry lock columns
    t = _table(company, table)
    with _engine(url) as engine, engine.begin() as conn:
        done = conn.execute(update(t).where(t.c[column] == key_value(table, column, key)).values(**values))
    if done.rowcount != 1:
        raise KeyError(f"{table_name(table, company)} has no row {column}={key!r}")


def edit_customer(url: str, company: str, custno: str, *, at: datetime | None = None, user: str = "ADMN",
                  **values) -> None:
    """Change arcust fields as a Sage Pro user's edit would, stamping CHGUSER/CHGDATE/CHGTIME [I] with `at`
    (default: now, local time): e.g. edit_customer(url, "01", "1001", EMAIL="ap@cascade.example")."""
    at = at or datetime.now()
    padded = blank_row("arcust", **values)  # raises KeyError on a column arcust lacks
    changes = {k: padded[k] for k in values}
    changes.update(CHGUSER=user.ljust(4)[:4], CHGDATE=at.date(), CHGTIME=at.strftime("%H:%M:%S"))
    t = _table(company, "arcust")
    with _engine(url) as engine, engine.begin() as conn:
        done = conn.execute(update(t).where(t.c.CUSTNO == key_value("arcust", "CUSTNO", custno)).values(**changes))
    if done.rowcount != 1:
        raise KeyError(f"{table_name('arcust', company)} has no row CUSTNO={custno!r}")


def add_item(url: str, company: str, item: str, description: str = "", on_hand: Decimal | int = 0,
             price: Decimal | int = 0) -> None:
    """Add one inventory item (icitem)."""
    row = blank_row("icitem", ITEM=item, ITMDESC=description or item, IONHAND=on_hand, PRICE=price)
    with _engine(url) as engine, engine.begin() as conn:
        conn.execute(insert(_table(company, "icitem")), [row])


def set_on_hand(url: str, company: str, item: str, on_hand: Decimal | int) -> None:
    """A person's stock count or receipt: icitem.IONHAND of one item set."""
    table = _table(company, "icitem")
    with _engine(url) as engine, engine.begin() as conn:
        conn.execute(update(table).where(table.c.ITEM == key_value("icitem", "ITEM", item)).values(IONHAND=on_hand))


class ExclusiveUse:
    """Hold tables the way Sage Pro's reindex/pack does ("Unable to open ... due to exclusive use").

    PostgreSQL: LOCK TABLE ... IN ACCESS EXCLUSIVE MODE inside a held transaction, so even reads
    wait. SQLite has no table locks: BEGIN EXCLUSIVE holds the whole file.
    """

    def __init__(self, url: str, company: str = "01", tables: Iterable[str] | None = None) -> None:
        self.url = _url(url)
        self.names = [table_name(b, company) for b in (tables or FIELDS)]
        self._engine: Engine | None = None
        self._conn = None
        self._trans = None
        self._sqlite: sqlite3.Connection | None = None

    def start(self) -> "ExclusiveUse":
        if self.active:
            return self
        parsed = make_url(self.url)
        try:
            if parsed.get_backend_name() == "sqlite":
                self._sqlite = sqlite3.connect(parsed.database, isolation_level=None, timeout=10)
                self._sqlite.execute("BEGIN EXCLUSIVE")
                return self
            self._engine = create_engine(self.url)
            self._conn = self._engine.connect()
            self._trans = self._conn.begin()
            quote = self._conn.dialect.identifier_preparer.quote
            self._conn.exec_driver_sql(f"LOCK TABLE {', '.join(quote(n) for n in self.names)} IN ACCESS EXCLUSIVE MODE")
        except BaseException:
            self.stop()  # a lock we could not take must not leave a connection behind
            raise
        return self

    def stop(self) -> None:
        if self._sqlite is not None:
            self._sqlite.rollback()
            self._sqlite.close()
            self._sqlite = None
        if self._conn is not None:
            if self._trans is not None:
                self._trans.rollback()
            self._conn.close()
            self._conn = self._trans = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def active(self) -> bool:
        return self._sqlite is not None or self._conn is not None

    def __enter__(self) -> "ExclusiveUse":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def exclusive_use(url: str, company: str = "01", tables: Iterable[str] | None = None) -> ExclusiveUse:
    """Exclusive use of `tables` (default: all) until stop() or the end of a with block."""
    return ExclusiveUse(url, company, tables)
