"""What one sandbox request costs: werkzeug's development server (the sandboxes before) beside cheroot (now).

    python bench/sandboxes.py [--seconds 4]

A trivial call (GET /v1/customers/<id> on the Sage 50 bridge sandbox, one customer) is sent as
fast as it is answered, from one client thread and from 8, each thread with its own keep-alive
connection, by a client in a process of its own (http.client: a lean client, so the server is
what is timed). Both servers serve the same app in this process, in the same run. werkzeug's
server answers `Connection: close`, so its client connects again for every request; cheroot keeps
the connection. Reported per server and client width: requests a second, the mean time a request
takes at the client, and the server process's CPU per request. Not a registry figure and not a
test: it says how much of a bench's time the simulators take (docs/scaling.md, Sandboxes).
"""
from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402

from sandbox.sage50 import create_app  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

KEY = "bench-key"
CUSTOMER = "BENCH-0001"
HEADERS = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}


class WerkzeugServer:
    """The sandboxes' server before: werkzeug's threaded development server (a connection per request)."""

    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "WerkzeugServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _client(port: int, threads: int, seconds: float, started, results) -> None:
    """In a process of its own: `threads` loops of GET over one connection each, for `seconds`."""
    counts, times, errors = [0] * threads, [0.0] * threads, [0] * threads
    started.set()
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn.request("GET", f"/v1/customers/{CUSTOMER}", headers=HEADERS)
            response = conn.getresponse()
            response.read()  # after `Connection: close`, http.client connects again on the next request
            times[i] += time.perf_counter() - started
            counts[i] += 1
            errors[i] += response.status != 200
        conn.close()

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    results.put((sum(counts), sum(times), sum(errors)))


def measure_server(kind: str, threads: int, seconds: float) -> dict:
    """Requests/s, client ms per request and server CPU ms per request of one server at one client width."""
    app = create_app(api_key=KEY, seed_rng=1)
    app.config["SAGE50_STATE"].create_customer({"ID": CUSTOMER, "Name": "Bench Customer"})
    server = (SandboxServer(app) if kind == "cheroot" else WerkzeugServer(app)).start()
    ctx = multiprocessing.get_context("spawn")
    started, results = ctx.Event(), ctx.Queue()
    client = ctx.Process(target=_client, args=(server.port, threads, seconds, started, results))
    try:
        client.start()
        started.wait(60)  # the spawned client imports first; its clock starts with this
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        count, busy, errors = results.get(timeout=seconds + 60)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        client.join(10)
    finally:
        server.stop()
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"server": kind, "threads": threads, "requests": count, "errors": errors, "rps": count / seconds,
            "ms_per_request": busy / count * 1000 if count else float("nan"),
            "server_cpu_ms": cpu / count * 1000 if count else float("nan")}


def run(seconds: float = 4.0) -> list[dict]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its per-request log would be timed too
    return [measure_server(kind, threads, seconds) for threads in (1, 8) for kind in ("werkzeug", "cheroot")]


def table(rows: list[dict]) -> str:
    lines = ["| server | client threads | requests/s | ms per request (client) | server CPU ms per request | errors |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['server']} | {r['threads']} | {r['rps']:.0f} | {r['ms_per_request']:.2f} | "
                     f"{r['server_cpu_ms']:.2f} | {r['errors']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each server is loaded at each width")
    args = parser.parse_args()
    print(table(run(args.seconds)))


if __name__ == "__main__":
    main()
