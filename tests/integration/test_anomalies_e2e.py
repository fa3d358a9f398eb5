"""Anomalies end to end: a far-off amount and a burst go on the review list; a mapping can hold them."""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from cli.traffic import TEST_CARDS, Sale, push_webhook
from config.mapping import DEFAULT_MAPPINGS_DIR
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import DeadLetter, ReviewItem, SyncRun
from db.session import session_scope
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, wait_for_runs

pytestmark = pytest.mark.slow


def sell(stack, client, amount: str, card: int) -> Sale:
    body = {"amount": amount, "csc": "999",
            "credit_card": {"number": TEST_CARDS[card % len(TEST_CARDS)], "expiration_month": 12, "expiration_year": 2030},
            "billing_address": {"name": "Grace Hopper", "street_address": "1 Navy Way", "city": "Arlington",
                                "state": "VA", "zip": "22201", "country": "US"},
            "email": "grace@example.com"}
    answer = client.transact("transactions/sale/keyed", body)
    sale = Sale(int(answer["transaction_id"]), Decimal(amount), False, "Grace Hopper")
    assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
    assert wait_for_runs(stack.database_url, [sale.transaction_id], timeout=60) == 1, dump_logs(stack)
    return sale


def review_items(stack) -> list[ReviewItem]:
    with session_scope(stack.database_url) as s:
        return s.query(ReviewItem).filter(ReviewItem.kind.like("anomaly:%")).order_by(ReviewItem.id).all()


def run_status(stack, transaction_id: int) -> str:
    with session_scope(stack.database_url) as s:
        return s.query(SyncRun).filter_by(transaction_id=transaction_id).one().status


def test_far_off_amount_and_burst_are_flagged_but_posted_by_default(stack_factory):
    stack = stack_factory()
    stack.start_ingress()
    stack.start_worker("w1")
    client = PayTraceClient(get_settings().paytrace)
    usual = [sell(stack, client, a, card=i) for i, a in enumerate(["48.10", "52.00", "50.00", "49.99", "51.25", "47.00"])]
    assert review_items(stack) == []  # four cards in turn: neither odd amounts nor a burst
    big = sell(stack, client, "5000.00", card=0)
    [item] = review_items(stack)
    assert (item.kind, item.reference, item.status) == ("anomaly:amount", f"PT{big.transaction_id}", "open")
    assert "median" in item.reason
    assert run_status(stack, big.transaction_id) == "succeeded"  # flags do not block unless mapped to
    # and five payments from one card within minutes are a burst (posted too, flagged)
    burst = [sell(stack, client, "50.00", card=1) for _ in range(5)]
    # card 1 already paid twice above, so its 5th payment in the window (burst[2]) is the first flagged
    flagged = [i.reference for i in review_items(stack) if i.kind == "anomaly:burst"]
    assert flagged == [f"PT{s.transaction_id}" for s in burst[2:]]
    assert_erp_exactly(stack.erp_summary(), usual + [big] + burst)


def test_a_mapping_that_blocks_on_flags_holds_the_payment_until_a_person_resolves_it(stack_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    assert "flags_block_posting: false" in text
    (mappings / "paytrace-sage50.yaml").write_text(text.replace("flags_block_posting: false", "flags_block_posting: true"))
    stack = stack_factory(PAYSYNC_MAPPINGS=str(mappings))
    stack.start_ingress()
    stack.start_worker("w1")
    client = PayTraceClient(get_settings().paytrace)
    usual = [sell(stack, client, a, card=i) for i, a in enumerate(["48.10", "52.00", "50.00", "49.99", "51.25"])]
    big = sell(stack, client, "4800.00", card=2)
    # then it is held: a dead letter saying why, and nothing of it in the ERP
    assert run_status(stack, big.transaction_id) == "dead"
    with session_scope(stack.database_url) as s:
        [letter] = s.query(DeadLetter).all()
    assert "held for review: amount 4800.00" in letter.reason and "median" in letter.reason
    assert_erp_exactly(stack.erp_summary(), usual)
    # when a person resolves the flag and replays the letter, it is posted once
    [item] = review_items(stack)
    cli = [sys.executable, "-m", "cli.main"]
    for args in (["review", "resolve", str(item.id), "--note", "called the customer: genuine"],
                 ["dlq", "replay", str(letter.id)]):
        done = subprocess.run(cli + args, env=stack.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    assert wait_for_runs(stack.database_url, [big.transaction_id], timeout=60, statuses=("succeeded",)) == 1
    assert_erp_exactly(stack.erp_summary(), usual + [big])
