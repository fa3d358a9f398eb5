"""Replay of a dead letter: the run resumes at its failed step, its event is ingested again, or a
status the store refused is owed to the store again (`paysync dlq replay`, the console's replay)."""
from __future__ import annotations

from config.celery import INGEST_QUEUE
from config.settings import get_settings
from workers import deadletter
from workers.store_tasks import replay_status
from workers.tasks import ingest_event, start_run


def replay(letter_id: int) -> int | None:
    """Resume a dead-lettered run at its failed step (or re-ingest its event)."""
    settings = get_settings()
    letter = deadletter.prepare_replay(settings.database_url, letter_id)
    if (letter.context or {}).get("store_status"):  # a status the store refused: owed again (workers/store_tasks.py)
        replay_status(letter.context["store_status"])
        return None
    if letter.run_id is not None:
        start_run(letter.run_id, from_step=letter.step)
        return letter.run_id
    if letter.inbox_id is not None:
        ingest_event.apply_async(args=[letter.inbox_id], queue=INGEST_QUEUE)
    return None
