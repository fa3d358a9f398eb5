"""Given an item the ERP does not know, then a readable dead letter; after a fix, replay posts once."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from cli.traffic import Sale, make_sales, push_webhook
from config.mapping import DEFAULT_MAPPINGS_DIR
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import DeadLetter
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, wait_for_runs

pytestmark = pytest.mark.slow


def paysync(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=stack.env, capture_output=True,
                          text=True, timeout=60)


def test_unknown_item_dead_letters_then_replay_posts_once(stack_factory, tmp_path):
    # given a mapping file (the finance team's) that sells an item Sage 50 does not have
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shipped = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    assert "  default: PAYMENT\n" in shipped
    (mappings / "paytrace-sage50.yaml").write_text(shipped.replace("  default: PAYMENT\n", "  default: GADGET-9\n"))
    stack = stack_factory(PAYSYNC_MAPPINGS=str(mappings))
    stack.start_ingress()
    stack.start_worker("w1", concurrency=2)
    client = PayTraceClient(get_settings().paytrace)
    sales = [s for s in make_sales(client, 4, seed=2, decline_every=0)]

    # when the sales arrive
    for sale in sales:
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    ids = [s.transaction_id for s in sales]
    assert wait_for_runs(stack.database_url, ids, timeout=60, statuses=("dead",)) == len(ids), dump_logs(stack)

    # then each is a dead letter whose reason names the item, listed by the CLI
    with session_scope(stack.database_url) as s:
        letters = s.query(DeadLetter).order_by(DeadLetter.id).all()
    assert len(letters) == len(sales)
    for letter in letters:
        assert letter.step == "order"  # the stage (task paysync.order) that writes the sales order
        assert "GADGET-9" in letter.reason and "ItemID" in letter.reason, letter.reason
        assert letter.context["status"] == 422
    listing = paysync(stack, "dlq", "list")
    assert listing.returncode == 0, listing.stderr
    flat = " ".join(listing.stdout.split())
    assert "GADGET-9" in flat and "[field ItemID]" in flat.replace("│ ", "").replace(" │", ""), listing.stdout
    shown = paysync(stack, "dlq", "show", str(letters[0].id))
    assert '"step": "order"' in shown.stdout
    assert stack.erp_summary()["sales_orders"] == []

    # when the item is created in Sage 50 and the letters are replayed
    made = requests.post(f"{stack.sage50.url}/v1/products", json={"ID": "GADGET-9", "Description": "Gadget"},
                         headers={"Authorization": "Bearer demo-key"}, timeout=5)
    assert made.status_code == 201, made.text
    replayed = paysync(stack, "dlq", "replay", *[str(l.id) for l in letters])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr

    # then every sale is posted exactly once, and a second replay is refused
    assert wait_for_runs(stack.database_url, ids, timeout=60, statuses=("succeeded",)) == len(ids), dump_logs(stack)
    assert_erp_exactly(stack.erp_summary(), sales)
    again = paysync(stack, "dlq", "replay", str(letters[0].id))
    assert again.returncode != 0 and "not open" in (again.stdout + again.stderr)


def test_a_push_that_outruns_paytrace_dies_then_the_poller_revives_it(stack_factory):
    # given a webhook naming a transaction PayTrace does not show yet (the sandbox's next id)
    stack = stack_factory(RETRY_MAX_ATTEMPTS="3", RETRY_BACKOFF_BASE="0.1", RETRY_BACKOFF_MAX="0.5",
                          POLL_INTERVAL_SECONDS="2")
    stack.start_ingress()
    stack.start_worker("w1")
    client = PayTraceClient(get_settings().paytrace)
    [first] = make_sales(client, 1, seed=5, decline_every=0)
    early = Sale(first.transaction_id + 1, first.amount, False, first.customer)
    assert push_webhook(stack.ingress_url, stack.webhook_secret, early).status_code == 202
    assert wait_for_runs(stack.database_url, [early.transaction_id], timeout=60, statuses=("dead",)) == 1
    with session_scope(stack.database_url) as s:
        [letter] = s.query(DeadLetter).all()
    assert "not in PayTrace's export" in letter.reason and letter.context["exhausted"]
    # when the sale then happens and the poller (beat) reads it from the export
    [late] = make_sales(client, 1, seed=6, decline_every=0)
    assert late.transaction_id == early.transaction_id
    stack.start_beat()
    # then the run is revived, posted once, and the old letter is marked superseded
    # (the poller brings `first` too, never pushed: wait for it as well before reading the ERP)
    assert wait_for_runs(stack.database_url, [first.transaction_id, late.transaction_id], timeout=60,
                         statuses=("succeeded",)) == 2, dump_logs(stack)
    assert_erp_exactly(stack.erp_summary(), [first, late])
    with session_scope(stack.database_url) as s:
        assert [l.status for l in s.query(DeadLetter).all()] == ["superseded"]
