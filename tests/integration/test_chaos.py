"""Chaos: workers SIGKILLed mid-run, several times; nothing lost, nothing duplicated.

Bounded: 120 sales, 4 kills, each while a stage holds a claim, 240 s at most to drain.
"""
from __future__ import annotations

import signal
import time

import pytest

from cli.traffic import make_sales, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from sqlalchemy import func, select

from db.models import StepLedger
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, dead_reasons, run_statuses, wait_for_runs

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


def _until_a_stage_is_writing(database_url: str, timeout: float = 30.0) -> None:
    """Wait (a busy machine starts a worker slowly) until some stage holds a claim: a kill now cuts it short."""
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < deadline:
        with session_scope(database_url) as s:
            if s.scalar(select(func.count()).select_from(StepLedger).where(StepLedger.status == "running")):
                return
        time.sleep(0.05)


def test_worker_sigkilled_mid_run_loses_and_duplicates_nothing(stack_factory):
    # given a slow-ish ERP (so work is always in flight) and one worker with two pool processes
    stack = stack_factory()
    stack.set_faults(latency_ms=25)
    stack.start_ingress()
    worker = stack.start_worker("w0", concurrency=2)
    stack.start_beat()
    client = PayTraceClient(get_settings().paytrace)
    sales = make_sales(client, 120, seed=9)
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202

    # when the worker (main process and pool) is SIGKILLed four times while it writes to the ERP
    for round_ in range(1, 5):
        _until_a_stage_is_writing(stack.database_url)
        assert worker.alive(), f"worker w{round_ - 1} died before it was killed:\n{dump_logs(stack)}"
        worker.kill(signal.SIGKILL)
        worker = stack.start_worker(f"w{round_}", concurrency=2)
    statuses_after_kills = run_statuses(stack.database_url)
    assert statuses_after_kills["succeeded"] < len(sales), "the kills must land mid-run"

    # then, once the broker redelivers and the sweeper re-kicks, every sale lands exactly once
    done = wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=240)
    assert done == len(sales), f"{done}/{len(sales)}; {run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    assert run_statuses(stack.database_url)["dead"] == 0, (dead_reasons(stack.database_url), dump_logs(stack)[-3000:])
    assert_erp_exactly(stack.erp_summary(), sales)
    # and a kill did cut stages short: some ledger claims were taken over by a later attempt
    with session_scope(stack.database_url) as s:
        retaken = s.scalar(select(func.count()).select_from(StepLedger).where(StepLedger.attempts > 1))
    assert retaken > 0, "no stage was interrupted: the kills missed the work"
