"""Serving /metrics: one process's counters, or every process's when PROMETHEUS_MULTIPROC_DIR is set.

Celery's prefork children and gunicorn's workers each write their counters to their own file of
that directory; the endpoint adds them up (prometheus_client.multiprocess). A Celery worker
serves them from its main process on WORKER_METRICS_PORT (workers/observe.py), so one scrape
covers every child, however often the pool replaces them.
"""
from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def prepare_multiprocess_dir() -> None:
    """Empty the directory at a service's start: files of processes long gone would count forever."""
    directory = multiprocess_dir()
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for file in Path(directory).glob("*.db"):
            file.unlink(missing_ok=True)


def registry(*extra) -> CollectorRegistry:
    """The registry a scrape reads: the processes' counters plus `extra` collectors."""
    if multiprocess_dir():
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
    else:
        reg = CollectorRegistry()
        reg.register(_ThisProcess())
    for collector in extra:
        reg.register(collector)
    return reg


class _ThisProcess:
    """The default registry's metrics (this process's counters and its process_* gauges)."""

    def collect(self):
        return REGISTRY.collect()


def render(*extra) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(registry(*extra)), CONTENT_TYPE_LATEST


def serve_metrics(request, settings):
    """The Flask answer to GET /metrics: counters plus the database gauges; a bearer token when METRICS_TOKEN is set."""
    import hmac

    from flask import Response

    from config.queues import all_queues
    from metrics.collector import DatabaseCollector

    from config.console import get_console_settings

    token = get_console_settings().metrics_token.reveal()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        return Response("metrics need the bearer token (METRICS_TOKEN)\n", status=401, mimetype="text/plain")
    body, content_type = render(DatabaseCollector(settings.database_url, settings.redis_url, tuple(all_queues())))
    return Response(body, content_type=content_type)


def process_dead(pid: int) -> None:
    """A child that exited: its live gauges stop counting (counters stay, as Prometheus expects)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def start_server(port: int, host: str = "0.0.0.0"):
    """A small HTTP server in a thread answering /metrics (the worker's main process)."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=registry())
