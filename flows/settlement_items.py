"""A reconciliation run's items, read as one: its findings (reconcile_item) and its plain matches (reconcile_match).

Most of a night is plain matches: a sale the ERP holds exactly one receipt and one journal for, at
the settled amount. Since migration 0015 they are written a few rows per batch (flows/settlement_match.py,
`insert_plain_matches`), each holding up to `MATCH_ROW_SIZE` ids and amounts; every other finding
is a row of its own. Whatever reads a run's items (the comparison with the previous run, the counts,
the console's story of a payment) reads both, through here.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.reconcile_models import ReconcileItem, ReconcileMatch, ReconcileRun
from flows.settlement_rules import MATCHED

#: Ids a reconcile_match row holds at most: a payment's story reads one such row (about 110 kB).
MATCH_ROW_SIZE = 10_000


@dataclass(frozen=True)
class Item:
    """One finding of a run, wherever it is kept (the columns of reconcile_item)."""

    run_id: int
    subject: str
    batch_number: int | None
    transaction_id: int | None
    transaction_type: str | None
    item_class: str
    is_exception: bool
    expected_amount: Decimal | None
    found_amount: Decimal | None
    action: str
    detail: str


def _from_row(i: ReconcileItem) -> Item:
    return Item(i.run_id, i.subject, i.batch_number, i.transaction_id, i.transaction_type, i.item_class,
                i.is_exception, i.expected_amount, i.found_amount, i.action, i.detail)


def expand(m: ReconcileMatch) -> Iterator[Item]:
    """The items a reconcile_match row holds, in the order they were staged."""
    for txn, cents in zip(m.transaction_ids.split(","), m.cents.split(",")):
        amount = (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))
        yield Item(m.run_id, f"T{txn}", m.batch_number, int(txn), m.transaction_type, MATCHED, False,
                   amount, amount, "", m.detail)


def run_items(s: Session, run_id: int) -> Iterator[Item]:
    """Every item of a run: its findings, then its plain matches."""
    for row in s.scalars(select(ReconcileItem).where(ReconcileItem.run_id == run_id).order_by(ReconcileItem.id)):
        yield _from_row(row)
    for m in s.scalars(select(ReconcileMatch).where(ReconcileMatch.run_id == run_id).order_by(ReconcileMatch.id)):
        yield from expand(m)


def counts(s: Session, run_id: int) -> dict[str, int]:
    """Items of a run by class, plain matches included."""
    found = dict(s.execute(select(ReconcileItem.item_class, func.count()).where(ReconcileItem.run_id == run_id)
                           .group_by(ReconcileItem.item_class)).all())
    plain = s.scalar(select(func.sum(ReconcileMatch.count)).where(ReconcileMatch.run_id == run_id)) or 0
    if plain:
        found[MATCHED] = found.get(MATCHED, 0) + int(plain)
    return found


def delete_run(s: Session, run_id: int) -> None:
    """A run started again starts with no items."""
    s.execute(delete(ReconcileItem).where(ReconcileItem.run_id == run_id))
    s.execute(delete(ReconcileMatch).where(ReconcileMatch.run_id == run_id))


def subjects_sql(dialect: str, run: str) -> str:
    """SQL of (subject, item_class) for every item of the run whose id is the bind parameter `run`."""
    if dialect == "postgresql":
        expanded = (f"SELECT 'T' || x.id AS subject, '{MATCHED}' AS item_class FROM reconcile_match m "
                    f"CROSS JOIN LATERAL unnest(string_to_array(m.transaction_ids, ',')) AS x(id) WHERE m.run_id = :{run}")
    else:
        expanded = (f"SELECT 'T' || x.value AS subject, '{MATCHED}' AS item_class FROM reconcile_match m, "
                    f"json_each('[' || m.transaction_ids || ']') AS x WHERE m.run_id = :{run}")
    return f"SELECT subject, item_class FROM reconcile_item WHERE run_id = :{run} UNION ALL {expanded}"


def matches_of(s: Session, pair: str, transaction_id: int) -> list[tuple[Item, ReconcileRun]]:
    """A transaction's plain matches in runs of the pair, newest run first.

    Found by range: the rows whose lowest and highest id hold it, among those ending at or after it
    (ix_reconcile_match_last), then looked for in each such row's list. PayTrace's ids grow with
    time, so for a recent payment that is a few rows; for one a year old, every row written since
    (about 100 a night at a million sales), still without reading their lists.
    """
    rows = s.execute(select(ReconcileMatch, ReconcileRun).join(ReconcileRun, ReconcileMatch.run_id == ReconcileRun.id)
                     .where(ReconcileMatch.last_id >= transaction_id, ReconcileMatch.first_id <= transaction_id,
                            ReconcileRun.pair == pair)
                     .order_by(ReconcileRun.id.desc(), ReconcileMatch.id)).all()
    wanted, out = str(transaction_id), []
    for m, run in rows:
        ids = m.transaction_ids.split(",")
        if wanted in ids:
            cents = m.cents.split(",")[ids.index(wanted)]
            amount = (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))
            out.append((Item(m.run_id, f"T{wanted}", m.batch_number, transaction_id, m.transaction_type, MATCHED,
                             False, amount, amount, "", m.detail), run))
    return out
