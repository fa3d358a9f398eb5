"""Every kind of run, in one table: how ingest prepares it, and what each of its stages writes.

The Celery tasks (workers/tasks.py) are one per stage of the card's chain, customer → order →
payment → GL, shared by every kind; a run's kind decides which of them it needs.
"""
from __future__ import annotations

from flows import chargebacks, declines, payment_sync, refunds, voids
from flows.runs import Kind

KINDS: dict[str, Kind] = {
    "sale": Kind("sale", payment_sync.prepare, payment_sync.STAGES, payment_sync.chain),
    "refund": Kind("refund", refunds.prepare, refunds.STAGES, refunds.chain),
    "void": Kind("void", voids.prepare, voids.STAGES, voids.chain),
    "decline": Kind("decline", declines.prepare, declines.STAGES, declines.chain),
    "chargeback": Kind("chargeback", chargebacks.prepare, chargebacks.STAGES, chargebacks.chain),
}
