"""The mapping at run time: a broken file stops workers with every error; postings carry its checksum."""
from __future__ import annotations

import subprocess
import sys

import pytest

from cli import runtime
from cli.traffic import make_sales, push_webhook
from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import StepLedger
from db.session import session_scope
from tests.integration.erp_checks import wait_for_runs

pytestmark = pytest.mark.slow


def test_a_broken_mapping_stops_the_worker_with_every_error_listed(stack_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    for good, bad in (("  base: USD\n", "  base: DOLLARS\n"), ("  timezone: America/Los_Angeles\n", "  timezone: Mars/Olympus\n"),
                      ("version: 1\n", "version: 7\n")):
        assert good in text
        text = text.replace(good, bad, 1)
    (mappings / "paytrace-sage50.yaml").write_text(text)
    stack = stack_factory(PAYSYNC_MAPPINGS=str(mappings))
    worker = runtime.worker(stack.env, stack.home, name="refused", concurrency=1).start()
    assert worker.proc.wait(timeout=60) != 0, "a worker must not start half-configured"
    log = worker.log_path.read_text()
    assert "worker refused to start" in log
    for path in ("currency.base", "dates.timezone", "version"):
        assert path in log, f"{path} missing from:\n{log[-2000:]}"


def test_every_posting_records_the_checksum_of_the_mapping_that_wrote_it(stack_factory):
    stack = stack_factory()
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    sales = make_sales(PayTraceClient(get_settings().paytrace), 5, seed=31, decline_every=0)
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    assert wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=60) == 5
    expected = load_mapping(DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").checksum
    with session_scope(stack.database_url) as s:
        checksums = {row.mapping_checksum for row in s.query(StepLedger).all()}
    assert checksums == {expected}


def test_mapping_check_cli_shows_documents_or_every_error(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "cli.main", "mapping", "check",
                         str(DEFAULT_MAPPINGS_DIR / "paytrace-sage_x3.yaml"), "--sandbox", "3"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    assert "10510" in ok.stdout and "PT" in ok.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text((DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text().replace("  base: USD\n", "  base: 12\n"))
    bad = subprocess.run([sys.executable, "-m", "cli.main", "mapping", "check", str(broken), "--sandbox", "1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "currency.base" in bad.stdout + bad.stderr
