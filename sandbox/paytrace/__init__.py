"""PayTrace v1 JSON API simulator, written from shared/reference/paytrace.md alone."""
from __future__ import annotations

from typing import Any

from ..server import SandboxServer
from .app import STATE_KEY, create_app
from .state import PayTraceState

__all__ = ["PayTraceSandbox", "PayTraceState", "STATE_KEY", "create_app"]


class PayTraceSandbox:
    """The simulator app plus a loopback server: `with PayTraceSandbox() as pt: pt.url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> None:
        self.app = create_app(**app_options)
        self.state: PayTraceState = self.app.config[STATE_KEY]
        self.server = SandboxServer(self.app, host, port)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "PayTraceSandbox":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "PayTraceSandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
