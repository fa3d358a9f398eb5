"""How gunicorn serves the ingress: threads a slow client cannot hold for long, logs without card data.

A sync worker reads a request in its only thread, so four clients that send headers and one byte
of a 50 kB body stop the ingress (issue 11). `BoundedThreadWorker` is gunicorn's gthread worker
(connections wait in a selector, requests run in a thread pool) with one more rule: a request must
be read whole within INGRESS_READ_TIMEOUT seconds, or its socket is shut for reading and the
thread is free again. `MaskingLogger` writes the access log with every path scanned for card
numbers and no query string at all, and masks gunicorn's own error log the same way.
"""
from __future__ import annotations

import os
import socket
import threading
import time

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from schemas.masking import install_log_masking, mask_text, mask_url


def _stop_reading(sock: socket.socket) -> None:
    """Wake a thread blocked reading a slow client: its next read sees the end of the stream."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # the client is gone already: nothing is left to stop


class _Deadlines:
    """One watchdog thread per worker process shuts the sockets whose request outlived its deadline.

    A timer thread per request did the same and cost about a tenth of a worker's CPU (bench p1, py-spy);
    here a request costs a dict entry, and a deadline is kept to within TICK seconds.
    """

    TICK = 0.25

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[int, tuple[float, socket.socket]] = {}
        self.pid = 0

    def watch(self, sock: socket.socket, seconds: float) -> int:
        key = id(sock)
        with self.lock:
            if self.pid != os.getpid():  # the first request of this (forked) worker starts its watchdog
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="read-deadlines", daemon=True).start()
            self.open[key] = (time.monotonic() + seconds, sock)
        return key

    def done(self, key: int) -> None:
        with self.lock:
            self.open.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self.lock:
                late = [key for key, (deadline, _) in self.open.items() if deadline <= now]
                socks = [self.open.pop(key)[1] for key in late]
            for sock in socks:
                _stop_reading(sock)


_DEADLINES = _Deadlines()


class BoundedThreadWorker(ThreadWorker):
    """gthread with a deadline for reading each request (headers and body)."""

    read_timeout: float | None = None

    def handle(self, conn):
        if BoundedThreadWorker.read_timeout is None:
            from config.settings import get_settings

            BoundedThreadWorker.read_timeout = get_settings().ingress_read_timeout
        key = _DEADLINES.watch(conn.sock, self.read_timeout)
        try:
            return super().handle(conn)
        finally:
            _DEADLINES.done(key)


#: Atoms of gunicorn's access log that hold a request target (path and query string).
_URL_ATOMS = ("U", "f", "{raw_uri}e", "{path_info}e", "{http_referer}e", "{referer}i")
_QUERY_ATOMS = ("q", "{query_string}e")


class MaskingLogger(Logger):
    """gunicorn's logger; the access log shows scanned paths and never a query string."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        install_log_masking(self.error_log, self.access_log)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in list(atoms.items()):
            if not isinstance(value, str):
                continue
            if key in _URL_ATOMS:
                atoms[key] = mask_url(value)
            elif key in _QUERY_ATOMS:
                atoms[key] = "[query]" if value else ""
            else:
                atoms[key] = mask_text(value)
        atoms["r"] = f"{environ.get('REQUEST_METHOD', '-')} {mask_url(environ.get('RAW_URI', ''))} " \
                     f"{environ.get('SERVER_PROTOCOL', '-')}"
        return atoms
