"""The fast tier's worker: an event's runs prepared and their stages run in this process, in order.

No broker and nothing mocked on the far side: the flows are plain functions, so a test drives
them exactly as the Celery tasks do (route, prepare, then each stage the run's kind sends), against
the sandboxes over real HTTP and a real database. A stage that must wait (a refund before its
sale) raises, as it would in a worker; the caller decides whether to run it again.
"""
from __future__ import annotations

from connectors.errors import RunFinished
from db.inbox import store_event
from flows import intake, runs
from flows.kinds import KINDS
from flows.runs import FlowContext


def run_through(ctx: FlowContext, run_id: int, inbox_id: int | None = None) -> tuple[str, ...]:
    """Prepare a run and run every stage it needs; return the stages that ran."""
    stages = intake.prepare(ctx, run_id, KINDS, inbox_id)
    for stage in stages:
        try:
            runs.run_stage(ctx, run_id, stage, KINDS)
        except RunFinished:
            break
    return stages


def deliver(ctx: FlowContext, *, source: str, event_id: str, event_type: str, transaction_id: int,
            payload: dict | None = None) -> list[int]:
    """Store an event and run what it calls for, as ingest and the stage tasks would; the runs it started."""
    inbox_id, _ = store_event(ctx.db_url, source=source, event_id=event_id, event_type=event_type,
                              transaction_id=transaction_id, payload=payload or {}, pair=ctx.pair)
    routing = intake.route_event(ctx.db_url, inbox_id, ctx.erp.kind)
    if not routing.start:
        return []
    for run_id, _ in routing.also:
        run_through(ctx, run_id)
    run_through(ctx, routing.run_id, inbox_id)
    return [run_id for run_id, _ in routing.also] + [routing.run_id]


def poll_record(ctx: FlowContext, record: dict) -> list[int]:
    """A PayTrace export record as the poller stores it, then synced in this process."""
    txn_id = int(record["transaction_id"])
    kind = str(record.get("transaction_type") or "SALE").upper()
    return deliver(ctx, source="poller", event_id=f"{txn_id}:{kind}", event_type=f"export.{kind.lower()}",
                   transaction_id=txn_id, payload={"record": record})
