"""A person who has never seen paysync, in a real browser, on a running stack: signs in, finds a
payment's story, replays its dead letter (and the ERP then holds the posting), resolves a review
item, and has had an email about the failure with a link to the console."""
from __future__ import annotations

import os
import re

import pytest
import requests

from cli.traffic import make_sales, push_webhook
from config.mapping import DEFAULT_MAPPINGS_DIR
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from console.auth import add_user
from db.models import DeadLetter, ReviewItem
from db.session import session_scope
from flows.review import Finding, file_findings
from tests import browser
from tests.alerting import SmtpReceiver
from tests.conftest import dump_logs
from tests.integration.erp_checks import assert_erp_exactly, wait_for_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]
PASSWORD = "a long operator password"


@pytest.fixture
def chromium():
    if not browser.available():
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)")
    with browser.Browser() as b:
        yield b


def test_a_newcomer_finds_a_story_replays_a_dead_letter_resolves_review_and_was_emailed(stack_factory, tmp_path,
                                                                                         chromium):
    # given a mapping that sells an item Sage 50 does not have, and an inbox for alerts
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shipped = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    (mappings / "paytrace-sage50.yaml").write_text(shipped.replace("  default: PAYMENT\n", "  default: GADGET-9\n"))
    with SmtpReceiver() as smtp:
        stack = stack_factory(PAYSYNC_MAPPINGS=str(mappings), SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port),
                              ALERT_EMAIL_TO="finance@shop.example", RETRY_MAX_ATTEMPTS="2")
        stack.start_ingress()
        stack.start_worker("w1")
        stack.start_console()
        add_user(stack.database_url, "olive", "operator", PASSWORD)
        client = PayTraceClient(get_settings().paytrace)
        [sale] = make_sales(client, 1, seed=11, decline_every=0)
        file_findings(stack.database_url, "manual", [Finding("chargeback", "CASE-77", "customer disputes a charge",
                                                             {"case": "CASE-77"})])

        # when the sale arrives and cannot be posted
        assert push_webhook(stack.ingress_url, stack.webhook_secret, sale).status_code == 202
        assert wait_for_runs(stack.database_url, [sale.transaction_id], 60, ("dead",)) == 1, dump_logs(stack)

        # then an email about the failure reaches finance, linking to the dead letter in the console
        [mail] = smtp.wait_for(1, timeout=60)
        with session_scope(stack.database_url) as s:
            letter_id = s.query(DeadLetter).one().id
        assert f"{stack.console_url}/dead-letters/{letter_id}" in mail.get_payload(), mail.get_payload()

    # when a person signs in and asks where the payment is
    b = chromium
    b.sign_in(stack.console_url, "olive", PASSWORD)
    assert "olive (operator)" in b.text()
    b.open(f"{stack.console_url}/payments")
    b.type("q", str(sale.transaction_id))
    b.click("find")
    # then its story tells what happened and why it stopped
    story = b.text()
    assert f"PayTrace transaction {sale.transaction_id}" in story
    assert "signed webhook" in story and "GADGET-9" in story and f"Dead letter {letter_id}" in story
    assert not re.search(r"\b\d{13,19}\b", story.replace(str(sale.transaction_id), ""))  # no card number

    # when the item is created in Sage 50 and the person replays from the page
    made = requests.post(f"{stack.sage50.url}/v1/products", json={"ID": "GADGET-9", "Description": "Gadget"},
                         headers={"Authorization": "Bearer demo-key"}, timeout=5)
    assert made.status_code == 201, made.text
    b.click(f"replay-{letter_id}")
    assert "Replay of dead letter" in b.text()
    # then the payment is posted, once, and its story says so
    assert wait_for_runs(stack.database_url, [sale.transaction_id], 60, ("succeeded",)) == 1, dump_logs(stack)
    assert_erp_exactly(stack.erp_summary(), [sale])
    b.open(f"{stack.console_url}/payments?q={sale.transaction_id}")
    assert f"PT{sale.transaction_id}-RCP" in b.text() and "succeeded" in b.text()

    # when the person resolves the review item with a note
    b.open(f"{stack.console_url}/review")
    with session_scope(stack.database_url) as s:
        item_id = s.query(ReviewItem).filter_by(reference="CASE-77").one().id
    b.type(f"note-{item_id}", "refund agreed with the customer")
    b.click(f"resolve-{item_id}")
    # then it is resolved by them, with the note, and the activity page shows each action
    with session_scope(stack.database_url) as s:
        item = s.get(ReviewItem, item_id)
        assert (item.status, item.resolved_by, item.note) == ("resolved", "olive", "refund agreed with the customer")
    b.open(f"{stack.console_url}/audit")
    activity = b.text()
    assert "login" in activity and f"dead letter {letter_id}" in activity and f"review item {item_id}" in activity

    # and the worker's /metrics counted the dead letter and the posting that followed the replay
    scraped = requests.get(stack.worker_metrics["w1"], timeout=5).text
    assert re.search(r'paysync_dead_letters_total\{error="ValidationError",task="paysync.order"\} 1', scraped), scraped[:3000]
    assert re.search(r'paysync_erp_postings_total\{erp="sage50",step="gl"\} 1', scraped)
    if os.environ.get("PAYSYNC_SCREENSHOT_DIR"):
        out = os.environ["PAYSYNC_SCREENSHOT_DIR"]
        for label, path in browser.MAIN_PAGES:
            b.open(stack.console_url + path)
            b.screenshot(__import__("pathlib").Path(out) / f"console-{label}.png")
