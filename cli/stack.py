"""A whole paysync on one machine: sandboxes, Redis, database, ingress, workers and beat.

`paysync demo` runs one on the embedded default (SQLite, an embedded Redis); the integration
tests run the same thing on PostgreSQL and the shared Redis. Workers, beat and the ingress are
real child processes (the ingress under gunicorn), talking over real sockets.
"""
from __future__ import annotations

import os
import base64
import secrets as pysecrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from cli import runtime
from db.migrate import upgrade
from sandbox.server import SandboxServer

PAYTRACE_USER, PAYTRACE_PASSWORD, INTEGRATOR_ID, SAGE50_KEY = "demo", "demo", "PAYSYNC1", "demo-key"
SHOP_TOKEN, SHOP_SECRET, SHOP_DOMAIN = "shpat_demo_token", "shpss_demo_secret", "paysync-demo.myshopify.com"
SHOP_LOCATION = "gid://shopify/Location/7000001"  # the store simulator's one location
X3_USER, X3_PASSWORD = "admin", "admin"


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(pysecrets.token_bytes(24)).decode()


@dataclass
class Stack:
    """Everything one paysync needs, started and stopped together."""

    home: Path
    database_url: str
    redis_url: str | None = None
    erp: str = "sage50"
    #: Sage Pro is a set of tables, not a server: the database its sandbox is installed in.
    sage_pro_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    webhook_secret: str = field(default_factory=new_webhook_secret)
    id_hash_key: str = field(default_factory=lambda: pysecrets.token_urlsafe(32))
    paytrace: SandboxServer | None = None
    erp_server: SandboxServer | None = None
    #: The store simulator (sandbox/shop), when the stack runs the e-commerce path.
    shop: SandboxServer | None = None
    with_shop: bool = False
    redis: runtime.EmbeddedRedis | None = None
    processes: runtime.Processes = field(default_factory=runtime.Processes)
    ingress: runtime.Child | None = None
    ingress_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    console: runtime.Child | None = None
    #: Known before anything starts, so the workers' alerts link to it.
    console_url: str = ""
    #: Each worker's /metrics (the whole pool's counters), by worker name.
    worker_metrics: dict[str, str] = field(default_factory=dict)

    # -- lifecycle ------------------------------------------------------------------------
    def start_services(self) -> "Stack":
        """Sandboxes, Redis and the schema; no paysync processes yet."""
        from sandbox.paytrace import create_app as paytrace_app

        self.home.mkdir(parents=True, exist_ok=True)
        upgrade(self.database_url)
        # On a database that already holds runs (a second demo), this sandbox's ids start past them,
        # so its sales are new transactions, not repeats of another run's.
        self.paytrace = SandboxServer(paytrace_app(PAYTRACE_USER, PAYTRACE_PASSWORD, INTEGRATOR_ID,
                                                   first_transaction_id=first_free_id(self.database_url))).start()
        if self.erp == "sage50":
            from sandbox.sage50 import create_app as sage50_app

            self.erp_server = SandboxServer(sage50_app(api_key=SAGE50_KEY)).start()
        elif self.erp == "sage_x3":
            from sandbox.sage_x3 import create_app as x3_app

            self.erp_server = SandboxServer(x3_app(username=X3_USER, password=X3_PASSWORD)).start()
        elif self.erp == "sage_pro":
            from sandbox.sage_pro import install

            self.sage_pro_url = self.sage_pro_url or f"sqlite:///{self.home / 'sagepro.sqlite3'}"
            install(self.sage_pro_url, company="01")
        else:
            raise ValueError(f"unknown ERP {self.erp!r}")
        if self.with_shop:
            from sandbox.shop import create_app as shop_app

            self.shop = SandboxServer(shop_app(access_token=SHOP_TOKEN, domain=SHOP_DOMAIN)).start()
        if not self.redis_url:
            self.redis = runtime.EmbeddedRedis(self.home / "redis").start()
            self.redis_url = self.redis.url
        self.console_url = self.console_url or f"http://127.0.0.1:{runtime.free_port()}"
        self.env = self._environment()
        return self

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PAYTRACE_", "SAGE50_", "SAGEX3_", "SAGEPRO_", "PAYSYNC_ERP"))}
        env.update({
            "PAYSYNC_HOME": str(self.home),
            # Sandbox defaults are allowed (never in production); the id-hash key is this stack's own.
            "PAYSYNC_ENV": os.environ.get("PAYSYNC_ENV") if os.environ.get("PAYSYNC_ENV") in ("demo", "test")
            else "demo",
            "PAYSYNC_ID_HASH_KEY": self.id_hash_key,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url or "",
            "PAYTRACE_BASE_URL": self.paytrace.url,
            "PAYTRACE_USERNAME": PAYTRACE_USER,
            "PAYTRACE_PASSWORD": PAYTRACE_PASSWORD,
            "PAYTRACE_INTEGRATOR_ID": INTEGRATOR_ID,
            "PAYSYNC_ERP": self.erp,
            "SAGE50_API_KEY": SAGE50_KEY,
            "SAGEX3_USERNAME": X3_USER,
            "SAGEX3_PASSWORD": X3_PASSWORD,
            "WEBHOOK_SECRETS": self.webhook_secret,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "PYTHONUNBUFFERED": "1",
            "CONSOLE_URL": self.console_url,
            "CONSOLE_BIND": self.console_url.removeprefix("http://"),
        })
        if self.erp == "sage50":
            env["SAGE50_BASE_URL"] = self.erp_server.url
        elif self.erp == "sage_x3":
            env["SAGEX3_BASE_URL"] = self.erp_server.url
        elif self.erp == "sage_pro":
            env["SAGEPRO_DATABASE_URL"] = self.sage_pro_url
        if self.shop is not None:
            env.update({"SHOPIFY_ADMIN_URL": self.shop.url, "SHOPIFY_ACCESS_TOKEN": SHOP_TOKEN,
                        "SHOPIFY_WEBHOOK_SECRET": SHOP_SECRET, "SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
                        "SHOPIFY_LOCATION_ID": SHOP_LOCATION, "STORE_PUSH_INTERVAL_SECONDS": "2",
                        "STOCK_SYNC_INTERVAL_SECONDS": "5"})
        env.update(self.extra_env)
        return env

    def subscribe_shop(self, duplicates: int = 1) -> None:
        """Point the store simulator's webhooks at this stack's ingress (start the ingress first)."""
        requests.post(f"{self.shop.url}/_sandbox/webhooks", json={
            "url": f"{self.ingress_url}/webhooks/shopify", "secret": SHOP_SECRET, "duplicates": duplicates,
            "retry_delays": [0.5, 1, 2, 4]}, timeout=10).raise_for_status()

    def start_ingress(self, workers: int = 2) -> "Stack":
        port = runtime.free_port()
        # The deployment's own gunicorn settings (threads, read deadline, masked access log).
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:ingress.gunicorn_conf", "-b", f"127.0.0.1:{port}",
                "-w", str(workers), "ingress.app:wsgi_app()"]
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(runtime.fresh_dir(self.home / "metrics" / "ingress"))}
        self.ingress = self.processes.add(runtime.Child("ingress", argv, env, self.home / "ingress.log"))
        self.ingress_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.ingress_url}/healthz", proc=self.ingress)
        return self

    def start_worker(self, name: str = "worker", concurrency: int = 2, *, queues: str = runtime.QUEUES,
                     pool: str | None = None) -> runtime.Child:
        port = runtime.free_port()
        self.worker_metrics[name] = f"http://127.0.0.1:{port}/metrics"
        env = {**self.env, "WORKER_METRICS_PORT": str(port), "WORKER_METRICS_HOST": "127.0.0.1",
               "PROMETHEUS_MULTIPROC_DIR": str(self.home / "metrics" / name)}
        return self.processes.add(runtime.worker(env, self.home, name=name, concurrency=concurrency, queues=queues,
                                                 pool=pool))

    def start_workers(self, processes: int = 2, threads: int = 32) -> "Stack":
        """Both worker roles as the Procfile runs them: `worker` (processes) and `io` (threads)."""
        self.start_worker("worker", processes, queues=runtime.PROCESS_QUEUES)
        self.start_worker("io", threads, queues=runtime.IO_QUEUES, pool="threads")
        return self

    def start_console(self, workers: int = 1) -> "Stack":
        """The operator's console under gunicorn, at `console_url`."""
        argv = [sys.executable, "-m", "gunicorn", "-b", self.console_url.removeprefix("http://"), "-w", str(workers),
                "--graceful-timeout", "5", "--access-logfile", "-", "console.app:wsgi_app()"]
        self.console = self.processes.add(runtime.Child("console", argv, self.env, self.home / "console.log"))
        wait_http(f"{self.console_url}/healthz", proc=self.console)
        return self

    def start_beat(self) -> runtime.Child:
        return self.processes.add(runtime.beat(self.env, self.home))

    def start_flower(self, auth: str = "finance:s3cret") -> str:
        """Flower as the Procfile runs it (workers.flower: every page behind `auth`); returns its URL."""
        port = runtime.free_port()
        argv = [sys.executable, "-m", "workers.flower", "--address=127.0.0.1", f"--port={port}",
                f"--basic-auth={auth}"]
        child = self.processes.add(runtime.Child("flower", argv, self.env, self.home / "flower.log"))
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthcheck", proc=child)
        return url

    def stop(self) -> None:
        self.processes.stop()
        for server in (self.paytrace, self.erp_server, self.shop):
            if server is not None:
                server.stop()
        if self.redis is not None:
            self.redis.stop()

    # -- views ----------------------------------------------------------------------------
    @property
    def sage50(self) -> SandboxServer:
        assert self.erp == "sage50", "this stack runs another ERP"
        return self.erp_server

    def erp_state(self) -> dict:
        """Everything the ERP sandbox holds, in its own shape."""
        if self.erp == "sage_pro":
            from sandbox.sage_pro import state

            return state(self.sage_pro_url, "01")
        return requests.get(f"{self.erp_server.url}/_sandbox/state", timeout=10).json()

    def erp_summary(self) -> dict:
        """What the ERP holds in the one shape every ERP shares (sandbox.summary)."""
        from sandbox.summary import summarize

        return summarize(self.erp, self.erp_state())

    def set_faults(self, **faults) -> dict:
        """Fault injection on an HTTP ERP sandbox (Sage 50, Sage X3)."""
        return requests.post(f"{self.erp_server.url}/_sandbox/faults", json=faults, timeout=10).json()


def first_free_id(database_url: str, floor: int = 100000000) -> int:
    """The first PayTrace sandbox id no run of this database has used yet."""
    from sqlalchemy import func, select

    from db.models import SyncRun
    from db.session import session_scope

    with session_scope(database_url) as s:
        highest = s.scalar(select(func.max(SyncRun.transaction_id)))
    return max(floor, (highest or 0) + 1000)


def wait_http(url: str, *, timeout: float = 30.0, proc: runtime.Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass  # not listening yet
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:g}s")

