"""Run a sandbox WSGI app on a loopback port, in a background thread or in the foreground.

cheroot (CherryPy's threaded WSGI server) with HTTP/1.1 keep-alive: werkzeug's development
server closed every connection after one answer, so each call paid a TCP connect and a thread
start (1.9 ms a call against 0.5 on the 2-core machine, 8.6 against 0.8 when it is loaded), and a
bench measured the simulator as much as paysync (bench/sandboxes.py; docs/scaling.md, Sandboxes).
"""
from __future__ import annotations

import errno
import logging
import threading
from typing import Any, Callable

from cheroot import wsgi
from cheroot.workers.threadpool import _SHUTDOWNREQUEST, ThreadPool, WorkerThread

log = logging.getLogger("sandbox.server")

#: Where a sandbox app finds the client socket, to drop the connection with no answer (the Sage 50
#: `down` fault, X3's exhausted licence). werkzeug's development server used this key; it is kept.
SOCKET_KEY = "werkzeug.socket"


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI gateway with the client socket in the environ, and a deliberate drop kept quiet."""

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.req.conn.socket
        return environ

    def respond(self) -> None:
        try:
            super().respond()
        except ConnectionAbortedError as exc:
            # The app shut the socket on purpose: an errno cheroot ignores closes the connection
            # with nothing written and no traceback in the log.
            raise ConnectionAbortedError(errno.ECONNABORTED, str(exc)) from None


class _DaemonPool(ThreadPool):
    """cheroot's request threads, started as they are needed, as daemons that `stop()` does not wait for.

    A few threads at first (tests start hundreds of servers), one more whenever a connection would
    otherwise wait, up to `max`. A request may be sleeping in a latency or licence fault for seconds:
    like werkzeug's daemon handler threads, it holds neither `stop()` nor the process's exit; an idle
    thread takes its shutdown request at once, a busy one after its request.
    """

    def _spawn_worker(self) -> WorkerThread:
        worker = WorkerThread(self.server)
        worker.name = f"sandbox:{self.server.bind_addr[1]}"
        worker.daemon = True
        worker.start()
        return worker

    def grow(self, amount: int) -> None:
        # Without cheroot's wait for each new thread's `ready` flag (polled every 0.1 s).
        self._threads.extend(self._spawn_worker() for _ in range(min(amount, max(self.max - len(self._threads), 0))))

    def put(self, obj) -> None:
        # Only the accept loop puts, so this check and grow are not racing one another.
        if len(self._threads) < self.max and self._queue.qsize() >= self.idle:
            self.grow(1)
        super().put(obj)

    def stop(self, timeout: float | None = None) -> None:
        for _ in self._threads:
            self._queue.put(_SHUTDOWNREQUEST)
        self._threads = []


class _Server(wsgi.Server):
    """The WSGI server with its errors in the `sandbox.server` log instead of bare stderr."""

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)


class SandboxServer:
    """A threaded HTTP/1.1 server with keep-alive for one WSGI app; `port=0` picks a free port.

    `threads` bounds the requests served at once (a latency fault holds one thread per request);
    more wait in a queue, none is refused. An idle keep-alive connection holds no thread.

    >>> server = SandboxServer(app).start()
    >>> server.url            # 'http://127.0.0.1:54321'
    >>> server.stop()
    """

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0, threads: int = 128) -> None:
        self.app = app
        self.host = host
        self._server = _Server((host, port), app, request_queue_size=128, server_name="paysync-sandbox")
        self._server.gateway = _Gateway
        self._server.requests = _DaemonPool(self._server, min=4, max=threads)
        self._server.keep_alive_conn_limit = None  # cheroot closes past 10 kept connections otherwise
        self._server.expiration_interval = 0.02  # the accept loop's wake-up: stop() waits at most this
        self._server.prepare()  # binds now, so the port is known before start()
        self.port = self._server.bind_addr[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self._server.serve, name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._server.serve()
        finally:
            self._server.stop()

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
