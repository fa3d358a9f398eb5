"""Assertions on what the Sage 50 sandbox holds: the outcome, not which call was made."""
from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

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


def run_statuses(database_url: str) -> Counter:
    with session_scope(database_url) as s:
        return Counter(dict(s.execute(select(SyncRun.status, func.count()).group_by(SyncRun.status)).all()))


def assert_erp_exactly(state: dict, sales) -> None:
    """Every approved sale once, fully applied and balanced; nothing for declines; nothing else."""
    approved = {s.transaction_id: s for s in sales if not s.declined}
    by_ref = {kind: Counter(r["ReferenceNumber"] for r in state[kind])
              for kind in ("sales_orders", "invoices", "payments", "journal_entries")}
    expected = {"sales_orders": "SO", "invoices": "INV", "payments": "RCP", "journal_entries": "JE"}
    for kind, code in expected.items():
        want = Counter({f"PT{t}-{code}": 1 for t in approved})
        assert by_ref[kind] == want, f"{kind}: extra {by_ref[kind] - want}, missing {want - by_ref[kind]}"
    invoices = {i["ReferenceNumber"]: i for i in state["invoices"]}
    for payment in state["payments"]:
        txn = int(payment["ReferenceNumber"][2:-4])
        sale = approved[txn]
        assert Decimal(payment["Amount"]) == sale.amount
        [line] = payment["InvoiceLines"]
        invoice = invoices[f"PT{txn}-INV"]
        assert line["InvoiceKey"] == invoice["Key"], "receipt applied to another invoice"
        assert Decimal(line["AmountPaid"]) == sale.amount
        assert Decimal(invoice["AmountDue"]) == 0 and Decimal(invoice["Amount"]) == sale.amount
    for entry in state["journal_entries"]:
        amounts = [Decimal(l["Amount"]) for l in entry["Lines"]]
        assert sum(amounts) == 0, f"unbalanced journal {entry['ReferenceNumber']}"
        txn = int(entry["ReferenceNumber"][2:-3])
        assert sum(a for a in amounts if a > 0) == approved[txn].amount
