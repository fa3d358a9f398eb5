"""Queue names, without importing Celery (the CLI and the Procfile checks need them too)."""
from __future__ import annotations

from config.settings import ERP_KINDS

INGEST_QUEUE = "ingest"
DEAD_LETTER_QUEUE = "dead_letter"
RECONCILE_QUEUE = "reconcile"


def erp_queue(erp: str) -> str:
    """One queue per ERP kind, so a slow ERP never starves the others."""
    return f"erp.{erp}"


def all_queues() -> list[str]:
    return [INGEST_QUEUE, *(erp_queue(kind) for kind in ERP_KINDS), DEAD_LETTER_QUEUE, RECONCILE_QUEUE]
