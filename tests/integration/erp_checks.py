"""Assertions on what the Sage 50 sandbox holds: the outcome, not which call was made."""
from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import func, select

from db.models import SyncRun
from db.session import session_scope

TERMINAL = ("succeeded", "skipped", "dead")


def wait_for_runs(database_url: str, transaction_ids, timeout: float, statuses=TERMINAL) -> int:
    """Wait until every transaction has a run in `statuses`; return how many do."""
    ids = list(transaction_ids)
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        with session_scope(database_url) as s:
            done = s.scalar(select(func.count()).select_from(SyncRun).where(
                SyncRun.transaction_id.in_(ids), SyncRun.status.in_(statuses))) or 0
        if done >= len(ids):
            return done
        time.sleep(0.5)
    return done


def dead_reasons(database_url: str) -> list[str]:
    """Why each dead-lettered run died: for a failing assertion's message."""
    from db.models import DeadLetter

    with session_scope(database_url) as s:
        return [f"{d.task_name} {d.reason}"[:300] for d in s.scalars(select(DeadLetter).limit(20))]


def run_statuses(database_url: str) -> Counter:
    with session_scope(database_url) as s:
        return Counter(dict(s.execute(select(SyncRun.status, func.count()).group_by(SyncRun.status)).all()))


def assert_erp_exactly(summary: dict, sales) -> None:
    """Every approved sale once, fully applied and balanced; nothing for declines; nothing else of ours.

    `summary` is sandbox.summary.summarize(erp, state): the same check holds for every ERP.
    Documents the ERP held before (seed data, references not ours) are left out.
    """
    approved = {s.transaction_id: s for s in sales if not s.declined}
    declined = {s.transaction_id for s in sales if s.declined}
    expected = {"invoices": "INV", "payments": "RCP", "journals": "JE"}
    summary = {k: [r for r in v if r["reference"].startswith("PT")] if isinstance(v, list) else v
               for k, v in summary.items()}
    for kind, code in expected.items():
        have = Counter(r["reference"] for r in summary[kind])
        want = Counter({f"PT{t}-{code}": 1 for t in approved})
        assert have == want, f"{kind}: extra {have - want}, missing {want - have}"
    # a declined payment leaves its order, marked with the mapped failed status, and nothing else
    have = Counter(r["reference"] for r in summary["sales_orders"])
    want = Counter({f"PT{t}-SO": 1 for t in (*approved, *declined)})
    assert have == want, f"sales_orders: extra {have - want}, missing {want - have}"
    for order in summary["sales_orders"]:
        if "status" in order and int(order["reference"][2:-3]) in declined:
            assert order["status"] == "Payment Failed", order
    invoices = {i["reference"]: i for i in summary["invoices"]}
    for payment in summary["payments"]:
        txn = int(payment["reference"][2:-4])
        sale = approved[txn]
        assert payment["amount"] == sale.amount
        invoice = invoices[f"PT{txn}-INV"]
        assert payment["applied"] == [(invoice["key"], sale.amount)], "receipt not applied to its invoice"
        assert invoice["open"] == 0 and invoice["amount"] == sale.amount
    for entry in summary["journals"]:
        assert entry["debits"] == entry["credits"], f"unbalanced journal {entry['reference']}"
        assert entry["debits"] == approved[int(entry["reference"][2:-3])].amount
