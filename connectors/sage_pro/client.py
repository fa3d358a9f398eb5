"""SQL to the Sage Pro tables: one engine per URL, Core tables built from config, locks, and the error policy."""
from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

from sqlalchemy import Column, Date, MetaData, Numeric, String, Table, Text, create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError,
                            SQLAlchemyError)

from connectors import gate
from connectors.errors import (ConfigurationError, ConnectorError, PermanentError, RetriableError)
from connectors.sage_pro.config import SYSTEM, SageProConfig, column_spec

# The fields paysync reads or writes, as VFP types: C(n) character, N(p,s) numeric, Y currency
# (four decimals), D date, M memo. Names are [C] for the six documented tables (sage.md §3);
# widths the reference does not give, and all of arcash and gltran, are [I] (docs/sage-pro.md).
# The lifecycle columns are [I] too: armast.APPLYTO (the invoice a credit memo credits),
# somast/armast.USTATUS (a free-text user status field), arcash.TRANTYPE (receipt, refund or
# reversal) and arcash.REVCASH (the receipt a reversal undoes). A site renames them with SAGEPRO_COLUMNS.
# The matching columns are [I] as well: arcust.CHGUSER/CHGDATE/CHGTIME (the last change, modelled on
# ADDUSER/ADDDATE/ADDTIME), armast.DUEDATE (as apmast.DUEDATE [C]) and armast.REF (the customer's PO,
# as somast.REF [C]). arcust.PTERMS/PNET and armast.SOTRACK are [C] names.
Y = ("Y", 19, 4)
_AUDIT = (("ADDUSER", "C", 4), ("ADDDATE", "D"), ("ADDTIME", "C", 8))
_CHANGED = (("CHGUSER", "C", 4), ("CHGDATE", "D"), ("CHGTIME", "C", 8))
_LOCKS = (("LCKSTAT", "C", 1), ("LCKUSER", "C", 4), ("LCKDATE", "D"), ("LCKTIME", "C", 8))
SPEC: dict[str, tuple] = {
    "arcust": (("CUSTNO", "C", 6), ("COMPANY", "C", 35), ("CONTACT", "C", 20), ("ADDRESS1", "C", 35),
               ("ADDRESS2", "C", 35), ("CITY", "C", 20), ("STATE", "C", 10), ("ZIP", "C", 10), ("COUNTRY", "C", 20),
               ("PHONE", "C", 20), ("EMAIL", "M"), ("PTERMS", "C", 20), ("PNET", "N", 3, 0), ("BALANCE", *Y),
               ("ONORDER", *Y), ("LPYMT", *Y), ("LASTPAY", "D"), ("LSALE", *Y), ("CUSTGEN", "C", 20), *_AUDIT,
               *_CHANGED, *_LOCKS),
    "somast": (("SONO", "C", 10), ("CUSTNO", "C", 6), ("SODATE", "D"), ("ORDATE", "D"), ("ORDAMT", *Y),
               ("PONUM", "C", 20), ("SOSTAT", "C", 1), ("SOTYPE", "C", 1), ("REF", "C", 20), ("USTATUS", "C", 20),
               *_AUDIT, *_LOCKS),
    # sotran's line number is `lineno` [C: public inserts]; C(4) right-justified is [I].
    "sotran": (("SONO", "C", 10), ("LINENO", "C", 4), ("CUSTNO", "C", 6), ("ITEM", "C", 20),
               ("DESCRIP", "C", 40), ("PRICE", *Y), ("QTYORD", "N", 12, 3), ("QTYSHP", "N", 12, 3),
               ("EXTPRICE", *Y), ("RQDATE", "D"), ("SOSTAT", "C", 1), ("QTYALLOC", "N", 12, 3), *_AUDIT),
    "armast": (("INVNO", "C", 8), ("CUSTNO", "C", 6), ("INVDTE", "D"), ("ARTYPE", "C", 1), ("ARSTAT", "C", 1),
               ("ORNUM", "C", 10), ("PONUM", "C", 20), ("SOTRACK", "C", 10), ("INVAMT", *Y), ("PAIDAMT", *Y),
               ("BALANCE", *Y), ("DTEPAID", "D"), ("APPLYTO", "C", 8), ("USTATUS", "C", 20), ("DUEDATE", "D"),
               ("REF", "C", 20), *_AUDIT, *_LOCKS),
    "artran": (("INVNO", "C", 8), ("TRANLINE", "C", 4), ("CUSTNO", "C", 6), ("PONUM", "C", 20), ("ITEM", "C", 20),
               ("DESCRIP", "C", 40), ("PRICE", *Y), ("QTYORD", "N", 12, 3), ("QTYSHP", "N", 12, 3),
               ("EXTPRICE", *Y), ("ARTYPE", "C", 1), ("INVDTE", "D"), ("ADDUSER", "C", 4)),
    "icitem": (("ITEM", "C", 20), ("ITMDESC", "C", 40), ("IONHAND", "N", 12, 3), ("PRICE", *Y),
               ("IALLOC", "N", 12, 3), ("ITYPE", "C", 1)),
    "arcash": (("CASHNO", "C", 8), ("CUSTNO", "C", 6), ("INVNO", "C", 8), ("DTEPAID", "D"), ("PAIDAMT", *Y),
               ("REFNO", "C", 20), ("PAYCODE", "C", 10), ("CASHACCT", "C", 24), ("TRANTYPE", "C", 1),
               ("REVCASH", "C", 8), *_AUDIT),
    "gltran": (("TRANNO", "C", 10), ("TRANLINE", "C", 4), ("GLACNT", "C", 24), ("TRANDATE", "D"), ("DEBIT", *Y),
               ("CREDIT", *Y), ("REF", "C", 20), ("DESCRIP", "C", 40), ("SOURCE", "C", 2), *_AUDIT),
}
#: Character keys Sage Pro stores right-justified, left-padded with spaces ([C] for SONO; [I] others).
RIGHT_JUSTIFIED = frozenset({"CUSTNO", "SONO", "INVNO", "ORNUM", "CASHNO", "TRANNO", "TRANLINE", "LINENO", "APPLYTO",
                             "REVCASH"})

# The error policy as a table: what a database answer means for the caller. Checked in order.
_RETRIABLE_SQLSTATES = {"55P03", "40001", "40P01", "57014", "57P01", "57P03"}  # lock timeout, serialization,
# deadlock, cancelled, admin shutdown, cannot connect now (plus every class 08: connection lost)
_RETRIABLE_TEXT = ("database is locked", "database table is locked", "lock request time out", "deadlock")
_CONFIG_TEXT = ("no such table", "no such column", "does not exist", "invalid object name", "invalid column name",
                "unable to open database file")
ERROR_POLICY: tuple[tuple[type[SQLAlchemyError], type[ConnectorError]], ...] = (
    (IntegrityError, PermanentError),      # a key or NOT NULL refused our row: a bug or a bad mapping
    (DataError, PermanentError),           # a value does not fit its column
    (ProgrammingError, ConfigurationError),  # table or column names wrong for this site
    (OperationalError, RetriableError),    # server gone, connection dropped
    (InterfaceError, RetriableError),
)


def _type(kind: str, size: list[int]):
    if kind == "C":
        return String(size[0])
    if kind in ("N", "Y"):
        return Numeric(size[0], size[1])
    return Date if kind == "D" else Text


def build_tables(config: SageProConfig) -> dict[str, Table]:
    """Core tables keyed by base name; a column keeps its reference name as `key` whatever the site calls it.

    A SAGEPRO_COLUMNS value may also give the site's type ("somast.ORDATE=ORDATE C(10)": a date kept as
    character 'MM/DD/YYYY'); see config.column_spec."""
    renames = dict(config.columns)
    metadata = MetaData()
    tables = {}
    for base, fields in SPEC.items():
        columns = []
        for name, kind, *size in fields:
            spec = renames.pop(f"{base}.{name}", None)
            physical, site_kind, site_width = column_spec(spec) if spec else (name, None, None)
            if site_kind is not None:
                kind, size = site_kind, ([site_width] if site_kind == "C" else [])
            columns.append(Column(physical, _type(kind, size), key=name, nullable=False,
                                  info={"kind": kind, "width": size[0] if kind == "C" else 0,
                                        "rjust": name in RIGHT_JUSTIFIED}))
        tables[base] = Table(config.table(base), metadata, *columns)
    if renames:
        raise ConfigurationError(f"unknown columns to rename: {', '.join(sorted(renames))}", system=SYSTEM,
                                 operation="config")
    return tables


@lru_cache(maxsize=8)
def _engine(url: str, lock_timeout: float, pid: int) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=5, max_overflow=5, pool_recycle=1800)
    engine = create_engine(url, connect_args={"timeout": lock_timeout})

    @event.listens_for(engine, "connect")
    def _manual_transactions(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook below say how a transaction starts

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn) -> None:
        # Take the write lock up front: SQLite then waits `timeout` seconds for another writer
        # (or the sandbox's exclusive use) and says "database is locked", never a mid-way upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _driver_url(url: str) -> str:
    """A PostgreSQL URL pinned to psycopg2, the driver installed (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def engine_for(url: str, lock_timeout: float) -> Engine:
    """The engine for one URL in this process (a forked worker builds its own pool)."""
    return _engine(_driver_url(url), lock_timeout, os.getpid())


class SageProClient:
    """Transactions on one company's tables; every database error leaves here as a ConnectorError."""

    def __init__(self, config: SageProConfig) -> None:
        self.config = config
        self.tables = build_tables(config)
        self.engine = engine_for(config.database_url, config.lock_timeout_seconds)
        self.dialect = self.engine.dialect.name

    @contextmanager
    def transaction(self, operation: str) -> Iterator[Connection]:
        """One short transaction with a lock timeout, in a slot of the database's shared cap
        (connectors/gate.py); commits on success, rolls back on any error."""
        try:
            with gate.current().slot(SYSTEM), self.engine.begin() as conn:
                millis = int(self.config.lock_timeout_seconds * 1000)
                if self.dialect == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
                elif self.dialect == "mssql":
                    conn.exec_driver_sql(f"SET LOCK_TIMEOUT {millis}")
                yield conn
        except SQLAlchemyError as exc:
            raise self.error(exc, operation) from exc

    def lock_table(self, conn: Connection, base: str) -> None:
        """Serialise writers of one table until commit (numbering, re-checking a reference); readers go on."""
        table = self.tables[base]
        if self.dialect == "postgresql":
            name = conn.dialect.identifier_preparer.format_table(table)
            conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")
        elif self.dialect == "mssql":
            conn.execute(select(func.count()).select_from(table).with_hint(table, "WITH (TABLOCKX, HOLDLOCK)"))
        # SQLite: BEGIN IMMEDIATE already holds the database's only write lock.

    def next_number(self, conn: Connection, base: str, column: str) -> str:
        """The next document number after the highest numeric one; call under lock_table."""
        col = self.tables[base].c[column]
        top = (conn.scalar(select(func.max(col))) or "").strip()
        if top and not top.isdigit():
            # Right-justified digits sort as numbers; a site with letters in its numbers needs a scan.
            top = str(max((int(k) for k in conn.scalars(select(col)) if k and k.strip().isdigit()), default=0))
        number = str(int(top or 0) + 1)
        if len(number) > col.info["width"]:
            raise PermanentError(f"{base} {column} numbers are exhausted at {top}", system=SYSTEM, operation=base)
        return number

    def one(self, conn: Connection, base: str, for_update: bool = False, **where: str) -> dict | None:
        """The one row matching `where` (stored values), locked for update if asked; None if absent."""
        table = self.tables[base]
        stmt = select(table).where(*(table.c[k] == v for k, v in where.items()))
        row = conn.execute(stmt.with_for_update() if for_update else stmt).first()
        return None if row is None else {c.key: row._mapping[c] for c in table.c}

    def check_unlocked(self, base: str, row: dict, operation: str) -> None:
        """Sage Pro marks a row a user has open with LCKSTAT: writing it now would be overwritten."""
        if (row.get("LCKSTAT") or "").strip():
            who = (row.get("LCKUSER") or "").strip() or "another user"
            raise RetriableError(f"{self.config.table(base)} row is locked by {who} since "
                                 f"{row.get('LCKDATE')} {(row.get('LCKTIME') or '').strip()}",
                                 system=SYSTEM, operation=operation)

    def error(self, exc: SQLAlchemyError, operation: str) -> ConnectorError:
        """validate_response: the one place where a database exception becomes an error of the tree."""
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip()
        first = text.splitlines()[0] if text else type(orig).__name__
        state = getattr(orig, "pgcode", None) or ""
        kw = {"system": SYSTEM, "operation": operation, "body": text}
        if (state in _RETRIABLE_SQLSTATES or state.startswith("08") or getattr(exc, "connection_invalidated", False)
                or any(t in text.lower() for t in _RETRIABLE_TEXT)):
            return RetriableError(f"busy or locked: {first}", **kw)
        if any(t in text.lower() for t in _CONFIG_TEXT):
            return ConfigurationError(f"table or column missing (check company and names): {first}", **kw)
        for kind, cls in ERROR_POLICY:
            if isinstance(exc, kind):
                return cls(f"{type(orig).__name__}: {first}", **kw)
        return PermanentError(f"{type(orig).__name__}: {first}", **kw)

    def close(self) -> None:
        self.engine.dispose()
