"""Flower, with its /metrics and /healthcheck behind the same credentials as its UI.

Flower leaves those two handlers open even with --basic-auth, and its metrics name every task and
worker. `python -m workers.flower [flower options]` guards them, then starts
`celery -A config.celery:celery_app flower` with the options given; --basic-auth (or
FLOWER_BASIC_AUTH) is required.
"""
from __future__ import annotations

import os
import sys

import tornado.web
from flower.views import monitor


def guard_open_handlers() -> None:
    """Require an authenticated user (basic auth or Flower's OAuth) on the metrics and health handlers."""
    for handler in (monitor.Metrics, monitor.Healthcheck):
        if not getattr(handler.get, "_paysync_guarded", False):
            handler.get = tornado.web.authenticated(handler.get)
            handler.get._paysync_guarded = True


def main(argv: list[str]) -> None:
    given = any(a.startswith("--basic-auth=") and len(a) > len("--basic-auth=") for a in argv)
    if not (given or os.environ.get("FLOWER_BASIC_AUTH")):
        sys.exit("paysync: flower needs --basic-auth=user:password (FLOWER_BASIC_AUTH); it is never left open")
    guard_open_handlers()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "config.celery:celery_app", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
