"""The set-based half of matching: the statements that hold the staged records against the ledger and the ERP.

A sale is *plainly matched* when the ERP holds exactly one receipt and exactly one journal under its
references, each at the settled amount to the cent. `classify` (flows/settlement_rules.py) calls
that matched, with the detail it gives a sale with or without a sync run of ours; SQL writes those
in one statement, a few reconcile_match rows per batch (flows/settlement_items.py), with `classify`'s
own words (`matched_details`), and
tests/integration/test_reconcile_sets.py holds the SQL's verdicts against `classify`'s on both
databases. Everything else (refunds, voids, missing, extra or other-amount documents, unreadable
records) goes to `classify` record by record: rc_left.
"""
from __future__ import annotations

import string
from collections import defaultdict
from decimal import Decimal
from typing import Callable, Iterator

from sqlalchemy import bindparam, text

from connectors.errors import UnmappableError
from flows.settlement_items import MATCH_ROW_SIZE
from flows.settlement_rules import MATCHED, BatchSums, LedgerView, Settled, asks_on_account, classify
from schemas.domain import ErpDocument
from schemas.mapping import Mapping

SALE = "t.unreadable IS NULL AND t.kind NOT IN ('REFUND', 'VOID')"


def reference_sql(mapping: Mapping, step: str, column: str) -> str:
    """The SQL text of `documents.reference(mapping, <column>, step)`: the pattern's pieces, concatenated."""
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(mapping.references.pattern):
        if literal:
            parts.append(_literal(literal))
        if name is None:
            continue
        if spec or conversion:
            raise UnmappableError(f"reconciliation matches references in the database and cannot format "
                                  f"{{{name}:{spec}}}: use a plain {{{name}}}", "references.pattern")
        parts.append(f"CAST({column} AS VARCHAR(20))" if name == "transaction_id"
                     else _literal(mapping.references.codes[step]))
    return "(" + " || ".join(parts) + ")"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def matched_details(reference: Callable[[int, str], str]) -> tuple[str, str]:
    """What `classify` says of a plainly matched sale: with a sync run of ours, and without one."""
    probe = Settled(1, "SALE", Decimal("1.00"), 0)
    docs = {kind: [ErpDocument(kind, "K", reference(1, kind), Decimal("1.00"))] for kind in ("payment", "journal")}
    synced = classify(probe, LedgerView(1, "succeeded", None, None, {}), docs, reference)
    unsynced = classify(probe, None, docs, reference)
    assert {synced.item_class, unsynced.item_class} == {MATCHED} and {synced.then, unsynced.then} == {"nothing"}
    return synced.detail, unsynced.detail


def summarize_documents(st) -> None:
    """rc_docsum on SQLite: per kind and reference, how many documents, how many at whole cents, the
    lowest (its nested loops need them indexed). PostgreSQL counts each kind inside the join pass
    instead (`_counts`): writing two million counts down cost more than counting (1M: 7.5 s -> 5.7 s)."""
    st.analyze("rc_txn", "rc_doc")
    if st.pg:
        return
    st.index("rc_doc", "kind, reference")
    st.run("CREATE TEMP TABLE rc_docsum AS SELECT kind, reference, COUNT(*) AS docs, COUNT(cents) AS whole, "
           "MIN(cents) AS cents FROM rc_doc WHERE kind IN ('payment', 'journal') GROUP BY kind, reference")
    st.index("rc_docsum", "kind, reference")
    st.conn.commit()


def _counts(st, kind: str) -> str:
    """The counts of one kind's documents by reference, as a join source."""
    if st.pg:
        return (f"(SELECT reference, COUNT(*) AS docs, COUNT(cents) AS whole, MIN(cents) AS cents FROM rc_doc "
                f"WHERE kind = '{kind}' GROUP BY reference)")
    return f"(SELECT reference, docs, whole, cents FROM rc_docsum WHERE kind = '{kind}')"


def leave_unplain(st) -> None:
    """rc_left: every record that is not a plainly matched sale (by what the ERP listed), in one pass.

    On PostgreSQL the pass also keeps the listed receipts' references no staged record has (rc_outref,
    for `outside_receipts`): the receipts' counts are joined to the records in full, not left, so
    the day's million references are hashed once, not again for an anti-join (1M: 1.1 s).
    """
    column = "t.transaction_id"
    plain = ("p.docs = 1 AND p.whole = 1 AND p.cents = t.cents AND j.docs = 1 AND j.whole = 1 AND j.cents = t.cents")
    record = ("t.seq, t.batch, t.transaction_id, t.kind, t.cents, t.brand, t.original_id, t.unreadable, "
              "CASE WHEN p.docs = 1 AND p.whole = 1 AND p.cents = t.cents THEN 1 ELSE 0 END AS paid")
    left = f"t.unreadable IS NOT NULL OR (CASE WHEN {SALE} AND {plain} THEN 1 ELSE 0 END) = 0"
    joins = (f"{_counts(st, 'payment')} p ON p.reference = {st.ref['payment'](column)} "
             f"LEFT JOIN {_counts(st, 'journal')} j ON j.reference = {st.ref['journal'](column)}")
    if st.pg:
        st.run(f"CREATE TEMP TABLE rc_pass AS SELECT {record}, p.reference AS outside FROM rc_txn t "
               f"FULL JOIN {joins} WHERE t.seq IS NULL OR {left}")
        st.run("CREATE TEMP TABLE rc_left AS SELECT seq, batch, transaction_id, kind, cents, brand, original_id, "
               "unreadable, paid FROM rc_pass WHERE seq IS NOT NULL")
        st.run("CREATE TEMP TABLE rc_outref AS SELECT outside AS reference FROM rc_pass WHERE seq IS NULL")
        st.run("DROP TABLE rc_pass")
    else:
        st.run(f"CREATE TEMP TABLE rc_left AS SELECT {record} FROM rc_txn t LEFT JOIN {joins} WHERE {left}")
    st.index("rc_left", "seq")
    st.conn.commit()


#: The documents a left sale's verdict needs: step -> the kind `find` takes.
STEPS = (("payment", "payment"), ("journal", "journal"), ("on_account", "payment"))


def gather_left_documents(st, find_many: Callable[[str, list[str]], dict], chunk: int) -> None:
    """rc_leftdoc: every document under a left sale's references, from the listing, then from `find_many`
    for each reference the listing lacks (the receipt on account only when the receipt is not plain)."""
    column = "l.transaction_id"
    st.run("CREATE TEMP TABLE rc_leftref AS " + " UNION ALL ".join(
        f"SELECT l.seq, l.transaction_id, '{step}' AS step, '{kind}' AS kind, {st.ref[step](column)} AS reference "
        f"FROM rc_left l WHERE {SALE.replace('t.', 'l.')}" + (" AND l.paid = 0" if step == "on_account" else "")
        for step, kind in STEPS))
    # Statistics first: without them PostgreSQL took the few left references for many and hashed
    # every listed document instead of them (100k: 65 ms).
    st.analyze("rc_leftref")
    st.run("CREATE TEMP TABLE rc_leftdoc AS SELECT r.seq, d.n, r.step, d.reference, d.erp_key, d.amount "
           "FROM rc_leftref r JOIN rc_doc d ON d.kind = r.kind AND d.reference = r.reference")
    st.index("rc_leftref", "seq")
    st.index("rc_leftdoc", "seq")
    st.conn.commit()
    for step, kind in STEPS:
        asked = (f"SELECT r.seq, r.transaction_id FROM rc_leftref r WHERE r.step = '{step}' AND NOT EXISTS "
                 "(SELECT 1 FROM rc_leftdoc d WHERE d.seq = r.seq AND d.step = r.step)")
        for rows in _keyset(st, asked, chunk):
            asked = [(seq, st.ctx.reference(txn_id, step)) for seq, txn_id in rows]
            found = find_many(kind, [reference for _, reference in asked])
            st.load_left_found(step, [(seq, found.get(reference, [])) for seq, reference in asked])


def insert_plain_matches(st, run_id: int, details: tuple[str, str]) -> None:
    """The plainly matched sales, in one statement: `classify`'s verdict, written by SQL as reconcile_match
    rows (a batch, a type, whether we synced them, up to MATCH_ROW_SIZE records a row), which
    flows/settlement_items.py reads back as items. A row per sale cost 0.37 s of 2.3 s at 100k."""
    # Whether we have a sync run of it: a probe of ix_sync_run_transaction per plain match (100k: about
    # 0.15 s beside 5M older runs), which grows with the day, never with the runs of every day before.
    # Hashing the pair's runs read them all (beside 3M older runs, 870 ms a night); bounded by the day's
    # lowest and highest id, one authorization captured weeks later widened that to weeks of runs;
    # as an IN list or EXISTS, PostgreSQL still chose to hash every run (5M: 1.9 to 4 s at 100k). A
    # LATERAL ... LIMIT 1 cannot be hashed; SQLite probes a correlated EXISTS by the index anyway.
    # Ids and amounts are concatenated in the same pass over a group's rows, so in the same order.
    if st.pg:
        concat = "string_agg(CAST({} AS VARCHAR(20)), ',')"
        synced = ("r.found IS NOT NULL AS synced FROM rc_txn t LEFT JOIN LATERAL (SELECT 1 AS found FROM sync_run r "
                  "WHERE r.transaction_id = t.transaction_id AND r.pair = :pair AND r.gateway = 'paytrace' "
                  "AND r.erp = :erp LIMIT 1) r ON true")
    else:
        concat = "group_concat(CAST({} AS VARCHAR(20)), ',')"
        synced = ("EXISTS (SELECT 1 FROM sync_run r WHERE r.transaction_id = t.transaction_id AND r.pair = :pair "
                  "AND r.gateway = 'paytrace' AND r.erp = :erp) AS synced FROM rc_txn t")
    st.run(
        "INSERT INTO reconcile_match (run_id, batch_number, transaction_type, synced, detail, first_id, last_id, "
        "count, transaction_ids, cents) "
        "SELECT :run_id, batch, kind, synced, CASE WHEN synced THEN :synced ELSE :unsynced END, "
        f"MIN(transaction_id), MAX(transaction_id), COUNT(*), {concat.format('transaction_id')}, "
        f"{concat.format('cents')} FROM (SELECT t.seq, t.batch, t.kind, t.transaction_id, t.cents, {synced} "
        "WHERE t.unreadable IS NULL AND NOT EXISTS (SELECT 1 FROM rc_left l WHERE l.seq = t.seq)) x "
        "GROUP BY batch, kind, synced, seq / :size",
        run_id=run_id, pair=st.ctx.pair, erp=st.ctx.erp_kind, synced=details[0], unsynced=details[1],
        size=MATCH_ROW_SIZE)
    st.conn.commit()


def left_rows(st, chunk: int) -> Iterator[tuple[list, dict[int, list]]]:
    """The left records in order, a chunk at a time, each with its documents (seq -> rows)."""
    after = -1
    while True:
        rows = st.run("SELECT seq, batch, transaction_id, kind, cents, brand, original_id, unreadable FROM rc_left "
                      "WHERE seq > :after ORDER BY seq LIMIT :n", after=after, n=chunk).all()
        if not rows:
            st.conn.commit()
            return
        docs: dict[int, list] = defaultdict(list)
        for row in st.run("SELECT seq, step, reference, erp_key, amount FROM rc_leftdoc WHERE seq > :after "
                          "AND seq <= :last ORDER BY seq, n", after=after, last=rows[-1].seq):
            docs[row.seq].append(row)
        st.conn.commit()  # no read left open while the rows are worked on (SQLite's writers wait for it)
        yield rows, docs
        after = rows[-1].seq


def documents(t: Settled, rows: list) -> dict[str, list[ErpDocument]]:
    """A left sale's documents as `classify` takes them; the receipt on account only when it counts."""
    if t.kind in ("REFUND", "VOID"):
        return {}
    by_step: dict[str, list[ErpDocument]] = {"payment": [], "journal": [], "on_account": []}
    for row in rows:
        kind = "journal" if row.step == "journal" else "payment"
        by_step[row.step].append(ErpDocument(kind, row.erp_key, row.reference,
                                             None if row.amount is None else Decimal(row.amount)))
    out = {"payment": by_step["payment"], "journal": by_step["journal"]}
    if asks_on_account(t, by_step["payment"]):
        out["on_account"] = by_step["on_account"]
    return out


def batch_sums(st) -> dict[int, BatchSums]:
    """Each staged batch's sums, added up by the database a kind and brand at a time."""
    sums: dict[int, BatchSums] = defaultdict(BatchSums)
    kind = "CASE WHEN t.kind IN ('REFUND', 'VOID') THEN t.kind ELSE 'SALE' END"
    for batch, group, brand, count, cents in st.run(
            f"SELECT t.batch, {kind}, t.brand, COUNT(*), SUM(t.cents) FROM rc_txn t WHERE t.unreadable IS NULL "
            f"GROUP BY t.batch, {kind}, t.brand"):
        sums[int(batch)].add_many(group, brand, int(count), money_of(int(cents)))
    for batch, count in st.run("SELECT batch, COUNT(*) FROM rc_txn WHERE unreadable IS NOT NULL GROUP BY batch"):
        sums[int(batch)].unreadable += int(count)
    st.conn.commit()
    return sums


def outside_receipts(st, chunk: int) -> Iterator[list]:
    """The receipts the ERP listed for the day under no reference of a staged record (few, on a good day)."""
    if st.pg:  # the references the join pass found no record for (`leave_unplain`)
        st.analyze("rc_outref")
        st.run("CREATE TEMP TABLE rc_outside AS SELECT d.n, d.reference, d.erp_key, d.amount FROM rc_doc d "
               "WHERE d.kind = 'payment' AND d.reference IN (SELECT reference FROM rc_outref)")
    else:
        st.index("rc_txn", st.ref["payment"]("transaction_id"))
        st.run("CREATE TEMP TABLE rc_outside AS SELECT d.n, d.reference, d.erp_key, d.amount FROM rc_doc d "
               f"LEFT JOIN rc_txn t ON t.unreadable IS NULL AND {st.ref['payment']('t.transaction_id')} = d.reference "
               "WHERE d.kind = 'payment' AND t.seq IS NULL")
    st.index("rc_outside", "n")
    st.analyze("rc_outside")
    after = -1
    while True:
        rows = st.run("SELECT n, reference, erp_key, amount FROM rc_outside WHERE n > :after ORDER BY n LIMIT :k",
                      after=after, k=chunk).all()
        st.conn.commit()
        if not rows:
            return
        yield [ErpDocument("payment", r.erp_key, r.reference, None if r.amount is None else Decimal(r.amount))
               for r in rows]
        after = rows[-1].n


def staged(st, txn_ids: set[int]) -> set[int]:
    """Which of these transactions are readable records of the day's batches.

    A receipt outside the batches by reference may still be a staged sale's: `transaction_of` reads
    references as the ERP keeps them (any case, leading zeros) and rc_outside compares them exactly.
    A scan of rc_txn the first time (a good day has a handful of such receipts); from the second, an
    index of its transaction ids.
    """
    if not txn_ids:
        return set()
    st.staged_asked += 1
    if st.staged_asked == 2:
        st.index("rc_txn", "transaction_id")
    found = st.conn.execute(text("SELECT DISTINCT transaction_id FROM rc_txn WHERE unreadable IS NULL "
                                 "AND transaction_id IN :ids").bindparams(bindparam("ids", expanding=True)),
                            {"ids": sorted(txn_ids)}).scalars().all()
    st.conn.commit()
    return set(found)


def _keyset(st, sql: str, chunk: int) -> Iterator[list[tuple[int, int]]]:
    """(seq, transaction id) of what a `SELECT seq, transaction_id` names, a chunk at a time, no read left open."""
    after = -1
    while True:
        rows = st.run(f"SELECT * FROM ({sql}) x WHERE seq > :after ORDER BY seq LIMIT :n", after=after, n=chunk).all()
        st.conn.commit()
        if not rows:
            return
        yield [(int(r.seq), int(r.transaction_id)) for r in rows]
        after = rows[-1].seq


def money_of(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
