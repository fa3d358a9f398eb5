"""Run a sandbox WSGI app on a loopback port, in a background thread or in the foreground."""
from __future__ import annotations

import threading
from typing import Callable

from werkzeug.serving import BaseWSGIServer, make_server


class SandboxServer:
    """A threaded HTTP server for one WSGI app; `port=0` picks a free port.

    >>> server = SandboxServer(app).start()
    >>> server.url            # 'http://127.0.0.1:54321'
    >>> server.stop()
    """

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox:{self.port}",
            daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
