"""The gate every worker shares through Redis: a cap on calls at once, a rate never exceeded, a pause for all.

Real Redis; many threads (as the io worker's pool runs them) and two gate objects standing for two
processes. Judged by what the callers saw happen: how many were inside at once, when each went in.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.errors import RateLimitedError
from workers.gate import Limit, RedisGate


class Inside:
    """Counts the callers inside a slot at once, and when each went in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.entered: list[float] = []
        self.spans: list[tuple[float, float]] = []  # (asked, went in): the gate let it in between the two

    def call(self, gate: RedisGate, system: str, seconds: float) -> None:
        asked = time.monotonic()
        with gate.slot(system):
            went_in = time.monotonic()
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
                self.entered.append(went_in)
                self.spans.append((asked, went_in))
            time.sleep(seconds)
            with self.lock:
                self.now -= 1


def gates(redis_url: str, limit: Limit, n: int = 2, **kw) -> list[RedisGate]:
    prefix = f"paysync:test-gate:{time.monotonic_ns()}"
    return [RedisGate(redis_url, {"sage50": limit}, prefix=prefix, **kw) for _ in range(n)]


def test_no_more_calls_at_once_than_the_cap_across_processes(redis_url):
    # Given two workers' gates capping Sage 50 at 3 calls at once, and 24 threads each wanting a call
    one, two = gates(redis_url, Limit(concurrency=3))
    inside = Inside()
    # When they all call at once
    with ThreadPoolExecutor(24) as pool:
        list(pool.map(lambda i: inside.call(one if i % 2 else two, "sage50", 0.05), range(24)))
    # Then never more than 3 were inside, and all 24 got through
    assert inside.most == 3 and len(inside.entered) == 24


def test_the_rate_is_never_exceeded_in_any_one_second_window(redis_url):
    # Given a rate limit of 10 calls a second shared by two workers, and 25 calls wanted at once
    one, two = gates(redis_url, Limit.of(0, "10/second"))
    inside = Inside()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: inside.call(one if i % 2 else two, "sage50", 0), range(25)))
    # Then no 11 calls surely went in within one second: a call went in somewhere between asking and
    # its caller seeing it (a busy machine may wake the caller late), so 11 are surely too many only
    # if all of them asked after the first asked and were in before a second had passed since
    assert len(inside.spans) == 25
    surely = max(sum(1 for asked, went_in in inside.spans if asked >= start and went_in < start + 1.0)
                 for start, _ in inside.spans)
    assert surely <= 10
    entered = sorted(inside.entered)
    assert entered[-1] - entered[0] >= 1.4  # 25 calls at 10 a second: the last ones waited their window


def test_a_send_held_up_after_its_turn_is_counted_from_when_it_left_the_gate(redis_url):
    # Given a rate-limited gate whose caller is held up 0.6 s between being given its turn and leaving
    # the gate (a busy process: the thread waits for the interpreter after Redis answered)
    (gate,) = gates(redis_url, Limit.of(0, "10/second"), n=1)
    with gate.slot("sage50"):  # a first turn: the gate learns its clock's offset to Redis's
        pass
    given = gate._wait_for_slot
    gate._wait_for_slot = lambda system, limit: (given(system, limit), time.sleep(0.6))[0]
    seconds, micros = gate.redis.time()
    asked_ms = seconds * 1000 + micros // 1000
    # When it calls
    with gate.slot("sage50"):
        pass
    # Then the send is counted from when it left, not from its turn, so later turns allow for it
    newest = gate.redis.zrange(gate._sent("sage50"), -1, -1, withscores=True)[0][1]
    assert newest - asked_ms >= 350  # at least 0.6 s less the clock offset's error (half a round trip)


def test_a_request_built_slowly_after_the_gate_is_counted_from_when_it_was_sent(redis_url):
    # Given a rate-limited gate, a loopback HTTP server, and a caller whose request leaves 0.6 s after
    # it left the gate (in a process of 48 busy threads, building a request can wait that long)
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from connectors.http import environment_session

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    session = environment_session(url)
    (gate,) = gates(redis_url, Limit.of(0, "10/second"), n=1)
    try:
        with gate.slot("sage50"):  # a first turn: the gate learns its clock's offset to Redis's
            session.get(url, timeout=5)
        seconds, micros = gate.redis.time()
        asked_ms = seconds * 1000 + micros // 1000
        # When it calls
        with gate.slot("sage50"):
            time.sleep(0.6)
            session.get(url, timeout=5)
    finally:
        server.shutdown()
        session.close()
    # Then the send is counted from when the request was handed to its connection
    newest = gate.redis.zrange(gate._sent("sage50"), -1, -1, withscores=True)[0][1]
    assert newest - asked_ms >= 350  # at least 0.6 s less the clock offset's error


def test_a_wrong_clock_offset_never_dates_a_send_in_the_future(redis_url):
    # Given a gate whose offset to Redis's clock is a minute off into the future (a failover, a slow
    # first sample): a send dated by it would keep the window full for a minute
    (gate,) = gates(redis_url, Limit.of(0, "10/second"), n=1)
    with gate.slot("sage50"):
        pass
    offset, trip, taken = gate.clock.best
    gate.clock.best = (offset + 60_000, 0.0, taken)
    # When a call gives its turn back
    with gate.slot("sage50"):
        pass
    # Then its send is dated no later than Redis's own clock said then, and the next turns still go
    seconds, micros = gate.redis.time()
    newest = gate.redis.zrange(gate._sent("sage50"), -1, -1, withscores=True)[0][1]
    assert newest <= seconds * 1000 + micros // 1000
    started = time.monotonic()
    for _ in range(3):
        with gate.slot("sage50"):
            pass
    assert time.monotonic() - started < 1


def test_the_clock_offset_is_taken_from_the_quickest_recent_round_trip():
    from workers.gate import RedisClock

    clock = RedisClock(keep=30.0)
    assert clock.redis_ms(5.0) == 0  # not known before a first turn
    clock.sample(asked=10.0, redis_ms=1_000_000, answered=10.2)  # slow trip: offset off by up to 100 ms
    clock.sample(asked=11.0, redis_ms=1_000_910, answered=11.002)  # quick trip: believed
    assert abs(clock.redis_ms(11.001) - 1_000_910) <= 1
    clock.sample(asked=12.0, redis_ms=2_000_000, answered=12.5)  # slower than the best: not believed
    assert abs(clock.redis_ms(11.001) - 1_000_910) <= 1
    clock.sample(asked=50.0, redis_ms=3_000_000, answered=50.3)  # the best is older than `keep`: renewed
    assert abs(clock.redis_ms(50.15) - 3_000_000) <= 1


@pytest.mark.parametrize("limit", [Limit(concurrency=5), Limit.of(0, "100/second"), Limit()],
                         ids=["cap", "rate only", "neither (ERP_MAX_CONCURRENT=0, no rate)"])
def test_a_pause_one_worker_was_asked_for_holds_every_worker(redis_url, limit):
    # Given one worker told by the ERP to wait 0.6 s (a 429 with Retry-After)
    one, two = gates(redis_url, limit)
    one.pause("sage50", 0.6)
    started = time.monotonic()
    # When the other worker calls
    inside = Inside()
    inside.call(two, "sage50", 0)
    # Then it went in only after the pause
    assert inside.entered[0] - started >= 0.5


def test_a_call_that_cannot_get_a_slot_in_time_gives_up_to_be_retried(redis_url):
    # Given a cap of one held by a long call, and a gate that waits at most 0.3 s
    one, two = gates(redis_url, Limit(concurrency=1), max_wait=0.3)
    holding = threading.Event()
    release = threading.Event()

    def hold():
        with one.slot("sage50"):
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        # When another call wants the ERP, Then it raises a retriable error instead of waiting forever
        with pytest.raises(RateLimitedError, match="no call slot"):
            with two.slot("sage50"):
                pass
    finally:
        release.set()
        holder.join()
    # And the slot is free again once its holder is done
    with two.slot("sage50"):
        pass


def test_a_system_without_a_limit_goes_straight_through(redis_url):
    (gate,) = gates(redis_url, Limit(), n=1)
    with gate.slot("sage50"), gate.slot("paytrace"):
        pass


def test_an_x3_soap_429_pauses_every_worker_and_is_retried_not_dead_lettered(redis_url):
    # Given the X3 sandbox behind a proxy that answers the first SOAP call 429 with Retry-After: 1,
    # and the gate every worker shares installed in this process
    from connectors import gate as shared
    from connectors.secret import Secret
    from connectors.sage_x3 import SageX3Config
    from connectors.sage_x3.client import ENDPOINT_PATH, SageX3Client
    from sandbox.server import SandboxServer
    from sandbox.sage_x3 import create_app

    app = create_app(username="paysync", password="x3-secret")
    refused = []

    def proxy(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == ENDPOINT_PATH and not refused:
            refused.append(time.monotonic())
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("429 Too Many Requests", [("Retry-After", "1"), ("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)

    (gate,) = gates(redis_url, Limit(concurrency=4), n=1)
    before = shared.current()
    shared.install(gate)
    try:
        with SandboxServer(proxy) as server:
            client = SageX3Client(SageX3Config(base_url=server.url, username="paysync", password=Secret("x3-secret"),
                                               retries=0, timeout=5))
            # When a read is refused, Then the error is a retriable one carrying the server's wait
            with pytest.raises(RateLimitedError) as refusal:
                client.read("WSBPC", {"BPCNUM": "C0001"})
            assert refusal.value.retry_after == 1.0
            # And the next call, from any worker, goes in only after the pause
            try:
                client.read("WSBPC", {"BPCNUM": "C0001"})
            except Exception:  # noqa: BLE001 - a missing customer is an answer: the call went in
                pass
            assert time.monotonic() - refused[0] >= 0.9
    finally:
        shared.install(before)


_HOLDER = """
import sys, threading, time
from workers.gate import Limit, RedisGate
url, prefix = sys.argv[1], sys.argv[2]
held = []  # entered and never left: what a process killed mid-call holds
def take(cm):
    held.append(cm)
    cm.__enter__()
gate = RedisGate(url, {"sage50": Limit(concurrency=2)}, prefix=prefix)
for _ in range(2):
    threading.Thread(target=take, args=(gate.slot("sage50"),), daemon=True).start()
while gate.redis.zcard(f"{prefix}:sage50:slots") < 2:
    time.sleep(0.01)
print("holding", flush=True)
time.sleep(600)
"""


def _killed_while_holding(redis_url: str, prefix: str) -> None:
    """A worker process that takes both call slots and is SIGKILLed while holding them."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _HOLDER, redis_url, prefix], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "holding"
    child.kill()
    child.wait(10)


def test_a_killed_workers_call_slots_are_freed_after_a_calls_timeout_not_their_ttl(redis_url):
    # Given a worker on this host that held both of Sage 50's call slots when it was SIGKILLed, and a
    # gate that lets a dead holder's slot go once held longer than a call may take (here 2 s)
    prefix = f"paysync:test-gate:{time.monotonic_ns()}"
    _killed_while_holding(redis_url, prefix)
    gate = RedisGate(redis_url, {"sage50": Limit(concurrency=2)}, prefix=prefix, max_wait=30, dead_grace=2)
    assert gate.redis.zcard(gate._slots("sage50")) == 2  # its slots would stay taken for SLOT_TTL (90 s)
    # When another worker needs a call
    started = time.monotonic()
    with gate.slot("sage50"):
        waited = time.monotonic() - started
    # Then it got one after the grace, not before (the dead call may still be running at the ERP),
    # and long before the slots' own expiry
    assert 1.5 <= waited < 15
    assert gate.redis.zcard(gate._slots("sage50")) == 0
