"""Issue 11: no way to starve the ingress, a hung database answered 503, silent posts that cannot flood.

Real gunicorn and workers on loopback. The hung database is a TCP server of the test's own, on its
own port, that accepts connections and never says a word.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import text
from standardwebhooks import Webhook

from db.session import get_engine
from tests.conftest import dump_logs

SLOW_REQUEST = (b"POST /webhooks/paytrace HTTP/1.1\r\nHost: paysync\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000\r\n\r\n{")


def signed(secret: str, body: str, msg_id: str = "evt_1") -> dict:
    now = datetime.now(timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body), "content-type": "application/json"}


def slow_client(url: str, payload: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(payload)
    return sock


def test_slow_clients_cannot_starve_healthz_and_are_cut_off(stack_factory):
    # given the ingress as deployed, with a 3 s deadline for reading a request
    stack = stack_factory(INGRESS_READ_TIMEOUT="3")
    stack.start_ingress()
    # when eight clients send headers and one byte of a 50 kB body, and two dribble their headers
    slow = [slow_client(stack.ingress_url, SLOW_REQUEST) for _ in range(8)]
    slow += [slow_client(stack.ingress_url, b"POST /webhooks/paytrace HTTP/1.1\r\nHost: pay") for _ in range(2)]
    try:
        # then /healthz still answers at once, again and again (a client timeout would fail it)
        for _ in range(5):
            assert requests.get(f"{stack.ingress_url}/healthz", timeout=2).json() == {"status": "ok"}
        # and every slow client is cut off by the server, not left holding a thread
        for sock in slow:
            sock.settimeout(30)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:200]
    finally:
        for sock in slow:
            sock.close()
    assert requests.get(f"{stack.ingress_url}/healthz", timeout=2).status_code == 200


class SilentServer:
    """Accepts TCP connections and never answers: a database that hangs after the handshake."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)  # read nothing, say nothing

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_db():
    server = SilentServer()
    yield server
    server.close()


def test_a_database_that_never_answers_gets_a_503_within_five_seconds_and_readyz_says_why(stack_factory, silent_db):
    # given an ingress whose database accepts connections and never answers
    stack = stack_factory()
    stack.env["DATABASE_URL"] = f"postgresql://paysync@127.0.0.1:{silent_db.port}/paysync"
    stack.start_ingress()
    body = json.dumps({"type": "transaction.sale", "data": {"transaction_id": 5}})
    # when a webhook arrives: then the sender hears a 503 (within the 5 s the client waits), not a cut connection
    answer = requests.post(f"{stack.ingress_url}/webhooks/paytrace", data=body, headers=signed(stack.webhook_secret, body),
                           timeout=5)
    assert answer.status_code == 503 and "retry" in answer.json()["error"]
    # and /readyz says the database is down and why, as quickly
    ready = requests.get(f"{stack.ingress_url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("down") and "timeout" in ready.json()["checks"]["database"]
    assert ready.json()["checks"]["broker"] == "ok"
    assert len(silent_db.held) >= 2  # it really was asked, and really never answered


def test_a_flood_of_made_up_silent_posts_is_limited_and_dropped_quietly(stack_factory):
    # given a running stack that allows 10 silent posts a minute per address and waits 2 s for PayTrace
    stack = stack_factory(SILENT_POST_RATE_LIMIT="10/minute", SILENT_POST_CONFIRM_SECONDS="2")
    stack.start_ingress()
    stack.start_worker()
    before = requests.get(f"{stack.paytrace.url}/_sandbox/stats", timeout=5).json()["total_requests"]
    # when 30 silent posts name transactions PayTrace never had
    url = f"{stack.ingress_url}/webhooks/paytrace/silent-post"
    codes = [requests.post(url, data={"parmList": f"TRANSACTIONID~{900000 + n}|APPMSG~APPROVED|"}, timeout=10).status_code
             for n in range(30)]
    # then ten are taken and the rest refused with 429
    assert codes.count(202) == 10 and codes.count(429) == 20
    # and the ten end skipped with the quiet note: no dead letter, no alert
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _count(stack, "SELECT count(*) FROM sync_run WHERE status = 'skipped'") < 10:
        time.sleep(0.5)
    from flows.hints import UNCONFIRMED, dropped_count

    assert dropped_count(stack.database_url) == 10, dump_logs(stack)
    assert _count(stack, "SELECT count(*) FROM dead_letter") == 0
    assert _count(stack, "SELECT count(*) FROM sync_run WHERE hold = :n", n=UNCONFIRMED) == 10
    log = (stack.home / "worker.log").read_text()
    assert "ALERT" not in log and "dropped in all" in log
    calls = requests.get(f"{stack.paytrace.url}/_sandbox/stats", timeout=5).json()["total_requests"] - before
    assert calls < 12 * 10, calls  # bounded: the wait ends the retries, where before each post kept going


def _count(stack, sql: str, **params) -> int:
    with get_engine(stack.database_url).connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_a_pool_child_killed_right_after_start_never_stops_the_worker(stack_factory):
    import os
    import signal

    import psutil

    from cli.traffic import make_sales, push_webhook
    from config.settings import get_settings
    from connectors.paytrace import PayTraceClient
    from tests.integration.erp_checks import wait_for_runs

    stack = stack_factory()
    for trial in range(3):
        # given a worker that has just forked its pool
        worker = stack.start_worker(f"k{trial}", concurrency=2)
        main = psutil.Process(worker.pid)
        # when one child is killed as soon as there is one
        deadline = time.monotonic() + 30
        victim = None
        while time.monotonic() < deadline and victim is None:
            for child in main.children():
                try:
                    os.kill(child.pid, signal.SIGKILL)
                    victim = child.pid
                    break
                except ProcessLookupError:
                    continue  # gone already (a short-lived helper): take the next
            time.sleep(0.002)
        assert victim is not None
        # then the worker gets ready, replaces the child, and stays up
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.alive() and not (
                "ready." in worker.log_path.read_text() and len(main.children()) == 2
                and victim not in [c.pid for c in main.children()]):
            time.sleep(0.05)
        assert worker.alive(), worker.log_path.read_text()[-3000:]
        assert len(main.children()) == 2 and victim not in [c.pid for c in main.children()]
        if trial < 2:
            worker.stop()
    # and the last one still does its work
    stack.start_ingress()
    client = PayTraceClient(get_settings().paytrace)
    [sale] = make_sales(client, 1, seed=3, decline_every=0)
    assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    assert wait_for_runs(stack.database_url, [sale.transaction_id], timeout=60) == 1, dump_logs(stack)
