"""A reconciliation run's working set in the database: the day's settled records and the ERP's documents.

flows/settlement.py matches them with a few set-based statements instead of a query per record.
They live in temporary tables of one connection held for the run (nothing to migrate, nothing
left behind, nothing shared between runs or pairs):

- rc_txn: a row per batch record: what `settled_from` (flows/settlement_rules.py, the one reading of a
  record) made of it, or why it could not be read. PostgreSQL takes the rows by COPY as the export
  streams in; SQLite by executemany.
- rc_doc: the receipts and journals the ERP lists for the day (`list_documents`), with each
  amount in cents when it is whole cents, counted by reference in the join pass.
- rc_left: the records not plainly matched (flows/settlement_match.py says what plainly is), and
  rc_leftdoc their documents: the listing's, then what `find_many` answers for the references the
  listing lacks. Each left record is classified in Python by `classify`, the one source of the rules.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any, Callable, Iterable, Iterator

import msgspec
from sqlalchemy import text

from connectors.paytrace.blocks import NotBlockShaped
from db.session import get_engine
from flows.settlement_match import reference_sql
from flows.settlement_rules import READ_FIELDS, settled_from
from flows.settlement_run import ReconcileContext
from schemas.domain import ErpDocument

log = logging.getLogger("paysync.reconcile")

#: A batch record as the export is read: only the fields `settled_from` reads (missing ones None).
RecordFields = msgspec.defstruct("RecordFields", [(name, Any, None) for name in READ_FIELDS])
TXN_COLUMNS = ("seq", "batch", "transaction_id", "kind", "cents", "brand", "original_id", "unreadable")
DOC_COLUMNS = ("n", "kind", "reference", "erp_key", "amount", "cents")
TABLES = ("rc_txn", "rc_doc", "rc_docsum", "rc_pass", "rc_left", "rc_outref", "rc_leftref", "rc_leftdoc", "rc_outside",
          "rc_finding")
NULL = "\\N"
BIGINT = 1 << 63


class Staging:
    """The run's temporary tables on their own connection; `close` drops them."""

    def __init__(self, ctx: ReconcileContext) -> None:
        self.ctx = ctx
        self.conn = get_engine(ctx.db_url).connect()
        self.pg = self.conn.dialect.name == "postgresql"
        self.null = NULL if self.pg else None
        self.ref = {step: (lambda column, step=step: reference_sql(ctx.mapping, step, column))
                    for step in ("payment", "journal", "on_account")}
        self.seq = self.docs = self.indexes = self.staged_asked = 0
        self.listed = False  # whether the ERP listed the day's receipts (else the ledger's are checked)
        if self.pg:
            # A day of a million records takes longer than a web request's statement timeout; and
            # a run that dies is run again whole, so its commits need not wait for the disk.
            self.run("SET statement_timeout = 0")
            self.run("SET synchronous_commit = off")
            # Temporary tables' statistics only steer hash joins and their sizes: a small sample will do.
            self.run("SET default_statistics_target = 10")
            # Hashes of a million references and ids: in memory, not in batches on disk (at 64MB the
            # join pass's counts by reference spilled at 1M, 147 MB in five batches: 4.7 s, 3.x s so).
            self.run("SET work_mem = '256MB'")
            # Joins of temporary tables PostgreSQL misjudges by orders of magnitude (122M rows for 1,200):
            # compiling them (JIT) cost 0.31 s of a 0.71 s join at 100k, and saves nothing on a hash join.
            self.run("SET jit = off")
        self._drop()
        self.run("CREATE TEMP TABLE rc_txn (seq BIGINT, batch BIGINT, transaction_id BIGINT, kind VARCHAR(20), "
                 "cents BIGINT, brand VARCHAR(20), original_id TEXT, unreadable TEXT)")
        self.run("CREATE TEMP TABLE rc_doc (n BIGINT, kind VARCHAR(20), reference TEXT, erp_key TEXT, "
                 "amount TEXT, cents BIGINT)")
        self.conn.commit()

    def run(self, sql: str, **params: Any):
        return self.conn.execute(text(sql), params)

    def index(self, table: str, columns: str, *, sqlite_only: bool = False) -> None:
        """Indexes PostgreSQL's hash joins do without, but SQLite's nested loops need."""
        if not (sqlite_only and self.pg):
            self.indexes += 1
            self.run(f"CREATE INDEX rc_ix{self.indexes} ON {table} ({columns})")

    def analyze(self, *tables: str) -> None:
        """Statistics for temporary tables, which autovacuum never gathers: without them PostgreSQL
        plans for an empty table and joins a million rows by nested loop."""
        if self.pg:
            for table in tables:
                self.run(f"ANALYZE {table}")
        self.conn.commit()

    def close(self) -> None:
        try:
            self.conn.rollback()
            self._drop()
            if self.pg:
                self.run("RESET statement_timeout")
                self.run("RESET synchronous_commit")
                self.run("RESET default_statistics_target")
                self.run("RESET work_mem")
                self.run("RESET jit")
            self.conn.commit()
        finally:
            self.conn.close()

    def _drop(self) -> None:
        for table in TABLES:
            self.run(f"DROP TABLE IF EXISTS {table}")

    # -- the export ----------------------------------------------------------------------------
    def load_batch(self, number: int, counted: Callable[[int], None]) -> None:
        """Stage every record of batch `number`; `counted(n)` as each block of n records is in."""
        first = self.seq
        try:
            self._copy("rc_txn", TXN_COLUMNS, self._rows(number, self._blocks(number), counted))
        except NotBlockShaped as exc:
            # An answer the block reader cannot cut: the batch again, record by record (ijson).
            log.info("batch %s read record by record (%s)", number, exc)
            self.conn.rollback()
            self.seq = first
            records = self.ctx.gateway.batch_transactions(number)
            self._copy("rc_txn", TXN_COLUMNS, self._rows(number, _in_lists(records, 1000), counted))
        self.conn.commit()

    def _blocks(self, number: int) -> Iterator[list]:
        for block in self.ctx.gateway.batch_transaction_blocks(number, RecordFields):
            yield [msgspec.structs.asdict(record) for record in block]

    def _rows(self, number: int, blocks: Iterable[list[dict]], counted: Callable[[int], None]) -> Iterator[list]:
        null = self.null
        for records in blocks:
            rows = []
            for record in records:
                try:
                    t = settled_from(record, number)
                    cents = int(t.amount * 100)
                    if not (-BIGINT < t.transaction_id < BIGINT and -BIGINT < cents < BIGINT):
                        raise ValueError("transaction_id or amount out of range")
                except (KeyError, TypeError, ValueError) as exc:
                    rows.append((self.seq, number, null, null, null, null, null, f"unreadable batch record: {exc}"))
                else:
                    original = null if t.original_id is None else str(t.original_id)
                    rows.append((self.seq, number, t.transaction_id, t.kind, cents, t.brand, original, null))
                self.seq += 1
            yield rows
            counted(len(records))

    # -- the ERP's documents -------------------------------------------------------------------
    def load_listing(self, kinds: Iterable[str], day: date) -> bool:
        """The ERP's documents of these kinds dated `day`; False when it cannot list by date."""
        try:
            for kind in kinds:
                self._copy("rc_doc", DOC_COLUMNS, self._doc_lists(kind, self.ctx.erp.list_documents(kind, day)))
        except NotImplementedError:
            self.conn.rollback()
            self.run("DELETE FROM rc_doc")
            return False
        self.conn.commit()
        return True

    def load_left_found(self, step: str, found: Iterable[tuple[int, list[ErpDocument]]]) -> None:
        """What `find_many` answered for left records ((seq, documents), ...), as documents of `step`."""
        null = self.null
        rows = []
        for seq, docs in found:
            for d in docs:
                self.docs += 1
                rows.append((seq, self.docs, step, (d.reference or "").strip(), d.key,
                             null if d.amount is None else str(d.amount)))
        self._copy("rc_leftdoc", ("seq", "n", "step", "reference", "erp_key", "amount"), [rows])
        self.conn.commit()

    def _doc_lists(self, kind: str, docs: Iterable[ErpDocument], size: int = 5000) -> Iterator[list[tuple]]:
        """Rows of rc_doc: the amount as the ERP gave it, and in cents when it is whole cents (else NULL)."""
        null, rows, n = self.null, [], self.docs
        for d in docs:
            n += 1
            amount = d.amount
            if amount is None:
                rows.append((n, kind, (d.reference or "").strip(), d.key, null, null))
            else:
                shown = str(amount)
                # "12.34" is 1234 cents as it reads; anything else (25, 1E+2, 1.005) the long way.
                cents = int(shown.replace(".", "")) if len(shown) > 3 and shown[-3] == "." else _cents(amount)
                rows.append((n, kind, (d.reference or "").strip(), d.key, shown, null if cents is None else cents))
            if len(rows) >= size:
                self.docs = n
                yield rows
                rows = []
        self.docs = n
        yield rows

    # -- moving rows ---------------------------------------------------------------------------
    def _copy(self, table: str, columns: tuple[str, ...], lists: Iterable[list[tuple]]) -> None:
        """Append rows, a list at a time: COPY on PostgreSQL (streamed as the lists come), else executemany."""
        if not self.pg:
            insert = text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                          f"({', '.join(':' + c for c in columns)})")
            for rows in lists:
                if rows:
                    self.conn.execute(insert, [dict(zip(columns, row)) for row in rows])
            return
        feed = _TextFeed(lists, len(columns))
        if not self.conn.in_transaction():
            self.conn.begin()  # so that commit and rollback reach the COPY, which SQLAlchemy does not see
        cursor = self.conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", feed, size=1 << 20)
        except Exception:
            if feed.error is not None:
                raise feed.error from None  # what went wrong while reading, not COPY's report of it
            raise


class _TextFeed:
    """A file COPY reads: each list of rows in COPY's text format, as the lists come.

    A list is written line by line with `%` (a million records: about 1.2 s less than the csv
    module), then checked as a whole: as many tabs and line ends as its rows have separators, no
    carriage return, and no backslash but in the NULL markers standing alone between separators.
    A list that fails (a value from outside holding a tab, a line end or a backslash) is written
    again with every value escaped. A value that is exactly the marker is NULL either way, as it
    was in the CSV this replaced.
    """

    def __init__(self, lists: Iterable[list[tuple]], width: int) -> None:
        self.lists, self.error, self.width = iter(lists), None, width
        self.line = "\t".join(["%s"] * width) + "\n"

    def read(self, size: int = -1) -> str:
        try:
            for rows in self.lists:
                if rows:
                    line = self.line
                    text = "".join([line % row for row in rows])
                    return text if self._plain(text, len(rows)) else "".join(map(self._escaped, rows))
        except BaseException as exc:
            self.error = exc
            raise
        return ""

    def _plain(self, text: str, rows: int) -> bool:
        marks = text.count("\\")
        return (text.count("\t") == (self.width - 1) * rows and text.count("\n") == rows and "\r" not in text
                and marks == text.count(NULL) == text.count(f"\t{NULL}\t") + text.count(f"\t{NULL}\n"))

    @staticmethod
    def _escaped(row: tuple) -> str:
        return "\t".join(value if value == NULL else str(value).replace("\\", "\\\\").replace("\t", "\\t")
                         .replace("\n", "\\n").replace("\r", "\\r") for value in row) + "\n"


def _cents(amount) -> int | None:
    """An amount in whole cents, or None when it is not (or too large for a BIGINT)."""
    scaled = amount * 100
    return int(scaled) if scaled == scaled.to_integral_value() and -BIGINT < scaled < BIGINT else None


def _in_lists(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for one in items:
        batch.append(one)
        if len(batch) >= size:
            yield batch
            batch = []
    yield batch
