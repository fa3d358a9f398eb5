"""The logging handler on `paysync.alert` and the thread that delivers what it hands over.

`emit` only puts the record's facts on a queue, so a slow mail server or webhook never holds up
a worker step. One daemon thread per process (a forked child starts its own) evaluates, claims
and delivers; at exit it is given a few seconds to finish what is queued.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any, Callable

from alerts import channels, limits, rules
from db.types import utcnow

log = logging.getLogger("paysync.alerts")  # not paysync.alert: a delivery problem must not alert itself
ALERT_LOGGER = "paysync.alert"


class Dispatcher:
    """Evaluates and delivers alerts off the caller's thread."""

    def __init__(self, *, db_url: Callable[[], str], console: Callable[[], Any],
                 thresholds: rules.ThresholdsFor | None = None, clock=utcnow, maxsize: int = 1000) -> None:
        self.db_url, self.console, self.clock = db_url, console, clock
        self.thresholds = thresholds or rules.MappingThresholds()
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def submit(self, facts: dict, message: str) -> None:
        self._ensure_thread()
        try:
            self.queue.put_nowait((facts, message))
        except queue.Full:  # a storm: the records and the console still have everything
            self.dropped += 1

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                if self._pid != os.getpid():
                    self.queue = queue.Queue(maxsize=self.queue.maxsize)  # a fork's copy is not ours
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="paysync-alerts", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            facts, message = self.queue.get()
            try:
                self.process(facts, message)
            except Exception:  # one bad alert must not stop the next ones
                log.exception("alert %s could not be processed", facts.get("kind"))
            finally:
                self.queue.task_done()

    def process(self, facts: dict, message: str) -> str:
        """Evaluate, claim and deliver one record's alert; return what happened (for logs and tests)."""
        db_url, console, now = self.db_url(), self.console(), self.clock()
        alert = rules.evaluate(db_url, facts, message, now, self.thresholds)
        if alert is None:
            return "below threshold"
        route = console.route_for(alert.pair)
        if not route.webhooks and not route.emails:
            return "nowhere to send"
        verdict = limits.claim(db_url, key=alert.key, pair=alert.pair, kind=alert.kind,
                               quiet_seconds=console.quiet_seconds, max_per_hour=console.max_per_hour, now=now)
        if verdict != "send":
            log.info("alert %s not sent: %s", alert.key, verdict)
            return verdict
        text = alert.text
        if held := limits.held_back(db_url, alert.pair):
            text += f"\n({held} more alert(s) were held back by the hourly limit; the console lists everything.)"
        failures = channels.deliver(route, console.smtp, alert.title, text, console.link(alert.path))
        for failure in failures:
            log.error("alert %s: %s", alert.key, failure)
        log.info("alert %s sent to %d channel(s)", alert.key,
                 len(route.webhooks) + (1 if route.emails else 0) - len(failures))
        return "sent" if not failures else "failed"

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty (True) or `timeout` passes (False)."""
        done = threading.Event()

        def wait():
            self.queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)


class AlertHandler(logging.Handler):
    """Hands the facts of every `paysync.alert` record that has them to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__(level=logging.INFO)
        self.dispatcher = dispatcher

    def emit(self, record: logging.LogRecord) -> None:
        facts = getattr(record, "alert", None)
        if isinstance(facts, dict) and facts.get("kind"):
            self.dispatcher.submit(dict(facts), record.getMessage())


def _default_dispatcher() -> Dispatcher:
    from config.console import get_console_settings
    from config.settings import get_settings

    return Dispatcher(db_url=lambda: get_settings().database_url, console=get_console_settings)


def install(dispatcher: Dispatcher | None = None) -> AlertHandler:
    """Attach the handler to `paysync.alert` once per process; return it."""
    logger = logging.getLogger(ALERT_LOGGER)
    for handler in logger.handlers:
        if isinstance(handler, AlertHandler):
            return handler
    handler = AlertHandler(dispatcher or _default_dispatcher())
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)  # the ALERT and REVIEW lines reach the handler whatever the root says
    atexit.register(handler.dispatcher.flush, 10.0)
    return handler
