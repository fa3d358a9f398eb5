"""Given an ERP that fails often, when paysync syncs, then everything lands once, after backoff."""
from __future__ import annotations

import re

import pytest
import requests

from cli.traffic import make_sales, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, dead_reasons, run_statuses, wait_for_runs

pytestmark = pytest.mark.slow
RETRY_LINE = re.compile(r"retry paysync\.(\w+) run=(\S+) inbox=\S+ attempt=(\d+) in ([\d.]+)s retry_after=([\d.]+|None)")


def test_thirty_percent_503_and_429_everything_lands_once_with_backoff(stack_factory):
    # given a Sage 50 bridge answering 30% of calls with 503 or 429 (Retry-After: 1)
    # The retry budget is sized so 30% independent faults on the two or three calls of a step cannot
    # plausibly exhaust it (0.66**30 ~ 4e-6 per step); exhaustion itself is a dead letter, which
    # test_dead_letters covers.
    stack = stack_factory(RETRY_MAX_ATTEMPTS="30")
    stack.set_faults(error_rate=0.3, error_statuses=[503, 429], retry_after=1, seed=5)
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    stack.start_beat()
    client = PayTraceClient(get_settings().paytrace)
    # Each refusal carries Retry-After: 1 and pauses every worker (workers/gate.py): about one second
    # in three calls, so a dozen sales (some 150 calls, 45 refusals) take about a minute.
    sales = make_sales(client, 12, seed=3)

    # when the sales are pushed (and polled)
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202

    # then every sale finishes, none is dead, and the ERP holds each document exactly once
    done = wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=240)
    assert done == len(sales), f"{done}/{len(sales)}; {run_statuses(stack.database_url)}\n{dump_logs(stack)}"
    assert run_statuses(stack.database_url)["dead"] == 0, (dead_reasons(stack.database_url), dump_logs(stack)[-3000:])
    # the faults were really served: the bridge answered hundreds of its calls with 503 or 429
    served = requests.get(f"{stack.erp_server.url}/_sandbox/stats", timeout=5).json()["faults_by_kind"]
    assert served.get("error_rate_503", 0) >= 10 and served.get("error_rate_429", 0) >= 10, served
    assert_erp_exactly(stack.erp_summary(), sales)

    # and the workers backed off: retries happened, each waited at least the server's Retry-After
    # and never longer than the cap
    log = "\n".join(c.log_path.read_text() for c in stack.processes.children if c.name == "w1")
    retries = [(m.group(1), int(m.group(3)), float(m.group(4)), m.group(5)) for m in RETRY_LINE.finditer(log)]
    assert len(retries) >= 10, "30% faults must cause task retries"
    cap = float(get_settings().retry_backoff_max)
    for step, attempt, wait, retry_after in retries:
        assert wait <= cap
        if retry_after != "None":
            assert wait >= min(float(retry_after), cap), (step, attempt, wait, retry_after)
    assert max(a for _, a, _, _ in retries) >= 2, "some step must have been retried more than once"
