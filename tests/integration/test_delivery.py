"""Given sales pushed three times and polled too, when paysync runs, then each lands exactly once."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cli.traffic import make_sales, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import SyncRun
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, run_statuses, wait_for_runs

pytestmark = pytest.mark.slow


def test_300_sales_each_delivered_three_times_land_exactly_once(stack_factory):
    # given a running paysync: ingress under gunicorn, two worker processes, beat polling PayTrace
    stack = stack_factory()
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    stack.start_worker("w2", concurrency=2)
    stack.start_beat()
    client = PayTraceClient(get_settings().paytrace)
    sales = make_sales(client, 300, seed=11)
    assert sum(s.declined for s in sales) > 0, "the traffic should include declines"

    # when every sale is pushed three times, concurrently, while the poller reads the export too
    session = requests.Session()

    def push(sale):
        return [push_webhook(stack.ingress_url, stack.webhook_secret, sale, session=session).status_code
                for _ in range(3)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [code for codes in pool.map(push, sales) for code in codes]

    # then the ingress accepted each event once and called the rest repeats
    assert answers.count(202) == len(sales), answers
    assert answers.count(200) == 2 * len(sales)
    done = wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=240)
    assert done == len(sales), f"{done}/{len(sales)} finished; runs {run_statuses(stack.database_url)}\n{dump_logs(stack)}"

    # and the ERP holds exactly one of each document per approved sale, applied and balanced
    statuses = run_statuses(stack.database_url)
    assert statuses["dead"] == 0 and statuses["succeeded"] == len(sales), dump_logs(stack)
    with session_scope(stack.database_url) as s:
        declines = s.query(SyncRun).filter_by(kind="decline", status="succeeded").count()
    assert declines == sum(s.declined for s in sales)
    summary = stack.erp_summary()
    assert_erp_exactly(summary, sales)
    assert len([s for s in sales if not s.declined]) == len(summary["payments"])
