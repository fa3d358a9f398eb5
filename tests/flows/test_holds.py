"""Two runs of one customer, or of one invoice, take turns in the ERP however many stages are in flight.

Stages run in threads here, as the io worker runs them. The ERP connector is watched: a call that
changes a customer (or an invoice) waits at a rendezvous for a second such call of the same one.
With the holds the second never comes while the first is inside (the rendezvous times out, they
take turns); without them the two meet, which is exactly the window a race in the ERP needs.
"""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from db.inbox import store_event
from flows import intake, runs
from flows.holds import LocalHolds
from flows.kinds import KINDS
from sandbox.summary import summarize
from tests.flows.erp_state import erp_state
from tests.inprocess import poll_record

MEET = 0.5  # seconds a watched call waits for a second one of the same customer or invoice


class Rendezvous:
    """Wraps connector methods: each call waits up to MEET for another call with the same key; counts meetings."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.barriers: dict[str, threading.Barrier] = {}
        self.met = Counter()

    def watch(self, erp, method: str, key_of) -> None:
        real = getattr(erp, method)

        def watched(*args, **kwargs):
            key = key_of(*args)
            with self.lock:
                barrier = self.barriers.setdefault(key, threading.Barrier(2, timeout=MEET))
            try:
                barrier.wait()
                with self.lock:
                    self.met[key] += 1
            except threading.BrokenBarrierError:
                with self.lock:
                    self.barriers.pop(key, None)  # alone: the next call starts a fresh rendezvous
            return real(*args, **kwargs)

        setattr(erp, method, watched)


def _prepared(world, transaction_id: int) -> int:
    """A run routed and prepared (ingest's work), its stages not run yet."""
    record = world.record(transaction_id)
    kind = str(record["transaction_type"]).lower()
    inbox_id, _ = store_event(world.ctx.db_url, source="poller", event_id=f"{transaction_id}:{kind}",
                              event_type=f"export.{kind}", transaction_id=transaction_id,
                              payload={"record": record}, pair=world.ctx.pair)
    routing = intake.route_event(world.ctx.db_url, inbox_id, world.ctx.erp.kind)
    intake.prepare(world.ctx, routing.run_id, KINDS, inbox_id)
    return routing.run_id


def _stage_at_once(world, run_ids: list[int], stage: str) -> None:
    with ThreadPoolExecutor(len(run_ids)) as pool:
        list(pool.map(lambda run_id: runs.run_stage(world.ctx, run_id, stage, KINDS), run_ids))


def _without_holds(world) -> None:
    """Every hold taken on a name of its own thread: no two stages ever share one."""
    own = LocalHolds()
    world.ctx.hold = lambda names: own(tuple(f"{n}:{threading.get_ident()}" for n in names))


@pytest.mark.parametrize("held", [True, False], ids=["with holds", "without holds"])
def test_two_first_sales_of_one_new_customer_do_not_upsert_it_at_once(world_factory, held):
    # Given two sales of one new customer, both prepared, their customer stages about to run together
    w = world_factory("sage50")
    if not held:
        _without_holds(w)
    watch = Rendezvous()
    watch.watch(w.ctx.erp, "upsert_customer", lambda customer: customer.customer_id)
    run_ids = [_prepared(w, w.sale(amount, name="Grace Hopper")) for amount in ("11.00", "12.00")]
    # When both customer stages run in two threads
    _stage_at_once(w, run_ids, "customer")
    # Then with the holds they took turns (never met inside the ERP); without, they met
    assert sum(watch.met.values()) == (0 if held else 2)
    assert summarize("sage50", erp_state(w))["customers"] == 1


@pytest.mark.parametrize("held", [True, False], ids=["with holds", "without holds"])
def test_two_refunds_of_one_sale_do_not_credit_its_invoice_at_once(world_factory, held):
    # Given a sale synced and settled, and two refunds of it prepared, their credit memos about to be written
    w = world_factory("sage50")
    sale = w.sale("80.00", name="Ada Lovelace", invoice_id="WEB-1")
    poll_record(w.ctx, w.record(sale))
    w.settle()
    if not held:
        _without_holds(w)
    watch = Rendezvous()
    watch.watch(w.ctx.erp, "ensure_credit_memo", lambda memo, **_: memo.invoice_ref)
    run_ids = [_prepared(w, w.refund(sale, amount)) for amount in ("10.00", "15.00")]
    # When both refunds' order stages (the credit memo against the sale's invoice) run in two threads
    _stage_at_once(w, run_ids, "order")
    # Then with the holds they took turns; without, they met on the invoice
    assert sum(watch.met.values()) == (0 if held else 2)
    memos = summarize("sage50", erp_state(w))["credit_memos"]
    assert sorted(m["amount"] for m in memos if m["reference"].startswith("PT")) == [10, 15]


def test_many_sales_of_few_customers_in_threads_land_once_each(world_factory):
    # Given 18 sales of three payers, synced at once in 12 threads (route, prepare and every stage)
    w = world_factory("sage50")
    payers = ("Ada Lovelace", "Grace Hopper", "Alan Turing")
    records = [w.record(w.sale(f"{10 + i}.00", name=payers[i % 3])) for i in range(18)]
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda r: poll_record(w.ctx, r), records))
    # Then three customers, and every sale's invoice paid in full once
    state = summarize("sage50", erp_state(w))
    assert state["customers"] == 3
    invoices = [i for i in state["invoices"] if i["reference"].startswith("PT")]
    assert len(invoices) == 18 and all(i["open"] == 0 for i in invoices)


def test_a_redis_that_cannot_be_reached_makes_a_hold_a_retry_never_a_dead_letter():
    # Given the holds pointed at a Redis that refuses connections (restarting, failing over)
    import socket

    from connectors.errors import RetriableError
    from workers.locks import RedisHolds
    from workers.policy import RETRY, action_for

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    holds = RedisHolds(f"redis://127.0.0.1:{port}/0", prefix="paysync:test-holds", ttl=5, wait=0.2)
    # When a stage asks for its hold, Then nothing is written and the task retries it later
    with pytest.raises(RetriableError) as refusal:
        with holds(("customer:C1",)):
            pytest.fail("the stage ran without its hold")
    assert action_for(refusal.value) == RETRY


def test_every_pooled_database_connection_busy_is_retried_not_dead_lettered():
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from workers.policy import RETRY, action_for

    assert action_for(PoolTimeout("QueuePool limit of size 5 overflow 5 reached")) == RETRY
