"""The console's one write, as a task: replay a dead letter with the function `paysync dlq replay` runs."""
from __future__ import annotations

import logging

from config.celery import celery_app
from workers.replay import replay

log = logging.getLogger("paysync.console")


@celery_app.task(name="paysync.replay_dead_letter")
def replay_dead_letter(letter_id: int) -> int | None:
    """Resume the letter's run at its failed step; a letter no longer open is left alone (a second click)."""
    try:
        return replay(letter_id)
    except (LookupError, ValueError) as exc:
        log.warning("replay of dead letter %s refused: %s", letter_id, exc)
        return None
