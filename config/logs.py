"""Logs as JSON lines, one object per record, with the run id of the step being worked on.

The run id lives in a context variable that the worker sets around each task (workers/observe.py),
so every line a step logs (flows, connectors, SQL warnings) carries it without anyone passing it.
Messages are masked here too: a last line of defence behind schemas/masking.py at the edges.
`LOG_FORMAT=text` keeps the plain lines for a developer's terminal.
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
from datetime import datetime, timezone

from schemas.masking import mask_text

#: The run (and inbox event) the current task works on; None outside a task.
current_run: contextvars.ContextVar[int | None] = contextvars.ContextVar("paysync_run_id", default=None)
current_inbox: contextvars.ContextVar[int | None] = contextvars.ContextVar("paysync_inbox_id", default=None)
current_task: contextvars.ContextVar[str | None] = contextvars.ContextVar("paysync_task", default=None)
#: Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class RunContext(logging.Filter):
    """Puts run_id / inbox_id / task on every record (None outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("run_id", current_run), ("inbox_id", current_inbox), ("task", current_task)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, run_id, and any `extra=`."""

    def __init__(self, process_name: str = "") -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": mask_text(record.getMessage()),
                "process": self.process_name or record.processName, "pid": record.process}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


def json_wanted() -> bool:
    return os.environ.get("LOG_FORMAT", "json").lower() != "text"


def install(handler: logging.Handler, process_name: str) -> None:
    """Give one handler the run context, and the JSON format unless LOG_FORMAT=text."""
    handler.addFilter(RunContext())
    if json_wanted():
        handler.setFormatter(JsonFormatter(process_name))


def setup_logging(process_name: str, level: int = logging.INFO) -> None:
    """The root logger of a paysync process (ingress, console) writes JSON lines to stderr."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    for handler in root.handlers:
        install(handler, process_name)
        if not json_wanted():
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
