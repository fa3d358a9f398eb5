"""Rows as the flows write them: a synced sale, a dead-lettered sale, a declined one, a refund, a review item."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from db.models import DeadLetter, InboxEvent, ReviewItem, StepLedger, SyncRun
from db.reconcile_models import ReconcileItem, ReconcileRun, SettlementPosting
from db.session import session_scope

NOON = datetime(2026, 11, 21, 20, 0, tzinfo=timezone.utc)  # 12:00 in Los Angeles
DAY = date(2026, 11, 21)
#: A public test card number that reached a free-text field by a path nobody foresaw.
LEAKED_PAN = "4111111111111111"


def record(txn: int, amount: str, *, name: str, invoice: str, masked: str = "411111xxxxxx1111",
           kind: str = "SALE") -> dict:
    return {"transaction_id": txn, "transaction_type": kind, "amount": amount, "status_code": "Y",
            "status_message": "Your transaction was successfully approved.", "created": {"at": "11/21/2026 12:00:00 PM"},
            "credit_card": {"masked_number": masked, "expiration_month": 12, "expiration_year": 29},
            "invoice_id": invoice, "customer_reference_id": f"PO-{txn}", "description": "web order",
            "customer_id": f"cust-{txn}", "email": f"{name.split()[0].lower()}@example.com", "tax_amount": "0.00",
            "billing_address": {"name": name, "street_address": "1 Main St", "city": "Seattle", "state": "WA",
                                "zip": "98101", "country": "US"}, "approval_code": "TAS123"}


def _run(s, txn: int, amount: str, status: str, *, name: str, invoice: str, kind: str = "sale",
         masked: str = "411111xxxxxx1111", parent: int | None = None, error: str | None = None) -> SyncRun:
    run = SyncRun(pair="default", gateway="paytrace", transaction_id=txn, erp="sage50", kind=kind, status=status,
                  transaction=record(txn, amount, name=name, invoice=invoice, masked=masked,
                                     kind={"decline": "DECLINED", "refund": "REFUND"}.get(kind, "SALE")),
                  current_step=None, last_error=error, created_at=NOON, updated_at=NOON,
                  amount=Decimal(amount), customer_key=f"cust-{txn}", paid_at=NOON, parent_transaction_id=parent)
    s.add(run)
    s.flush()
    s.add(InboxEvent(pair="default", source="webhook", event_id=f"evt-{txn}-{kind}", event_type="transaction.created",
                     transaction_id=txn, payload={"type": "transaction.created", "data": {"transaction_id": txn}},
                     status="processed", run_id=run.id, attempts=1, received_at=NOON, enqueued_at=NOON,
                     processed_at=NOON))
    return run


def _step(s, run: SyncRun, step: str, status: str, ref: str | None = None, attempts: int = 1,
          error: str | None = None) -> None:
    s.add(StepLedger(run_id=run.id, step=step, idempotency_key=f"{run.transaction_id}:{step}", status=status,
                     erp_ref=ref, erp_reference_number=ref, attempts=attempts, last_error=error,
                     started_at=NOON, completed_at=NOON + timedelta(seconds=2) if status == "done" else None))


def seed(db_url: str) -> dict[str, int]:
    """The day of 2026-11-21: ids of what a test looks for."""
    with session_scope(db_url) as s:
        synced = _run(s, 1001, "125.50", "succeeded", name="Ada Lovelace", invoice="INV-1001")
        for step, ref in (("customer", "cust-1001"), ("sales_order", "PT1001-SO"), ("invoice", "PT1001-INV"),
                          ("payment", "PT1001-RCP"), ("journal", "PT1001-JE")):
            _step(s, synced, step, "done", ref, attempts=2 if step == "invoice" else 1)
        dead = _run(s, 1002, "80.00", "dead", name="Grace Hopper", invoice="INV-1002",
                    masked="549974xxxxxx0057", error="ItemID GADGET-9 does not exist")
        _step(s, dead, "customer", "done", "cust-1002")
        _step(s, dead, "sales_order", "failed", attempts=3, error=f"422 ItemID GADGET-9 unknown (card {LEAKED_PAN})")
        s.flush()
        letter = DeadLetter(run_id=dead.id, task_name="paysync.order", step="order",
                            reason="Sage 50 refused the sales order: item GADGET-9 does not exist [field ItemID]",
                            error_type="ValidationError", context={"attempts": 3, "exhausted": False, "status": 422,
                                                                   "kind": "sale", "transaction_id": 1002},
                            status="open", replay_count=0, created_at=NOON)
        s.add(letter)
        _run(s, 1003, "42.00", "succeeded", name="Alan Turing", invoice="INV-1003", kind="decline")
        _run(s, 1004, "25.50", "succeeded", name="Ada Lovelace", invoice="INV-1001", kind="refund", parent=1001)
        item = ReviewItem(kind="anomaly:amount", reference="PT1001", group_key="anomaly:2026-11-21",
                          reason=f"amount 125.50 is far from the customer's usual; card {LEAKED_PAN}",
                          context={"transaction_id": 1001, "amount": "125.50"}, status="open", created_at=NOON,
                          last_seen_at=NOON)
        s.add(item)
        run = ReconcileRun(pair="default", day=DAY, number=1, run_key="beat:2026-11-21", trigger="beat", erp="sage50",
                           status="done", started_at=NOON, finished_at=NOON, exceptions=0, counts={"matched": 1},
                           totals={}, changes={"previous_run": None})
        s.add(run)
        s.flush()
        s.add(ReconcileItem(run_id=run.id, subject="T1001", batch_number=77, transaction_id=1001,
                            transaction_type="SALE", item_class="matched", is_exception=False,
                            expected_amount=Decimal("125.50"), found_amount=Decimal("125.50"), action="", detail=""))
        s.add(SettlementPosting(pair="default", batch_number=77, erp="sage50", journal_ref="PTB77-SET",
                                amount=Decimal("100.00"), status="posted", run_id=run.id, created_at=NOON))
        s.flush()
        return {"letter": letter.id, "item": item.id, "dead_run": dead.id, "reconcile": run.id}
