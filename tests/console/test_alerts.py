"""Alerts leave the process: to a real local SMTP server and a webhook receiver, once, within the limits."""
from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.dispatch import AlertHandler, Dispatcher
from config.console import load_console_settings
from db.models import ReviewItem, SyncRun
from db.session import session_scope
from db.types import utcnow
from schemas.mapping import Alerts
from tests.alerting import SmtpReceiver, WebhookReceiver
from tests.console.seed import LEAKED_PAN


@pytest.fixture
def receivers():
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        yield smtp, hook


def dispatcher(db_url, smtp, hook, thresholds=Alerts(), **env) -> Dispatcher:
    console = load_console_settings({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
                                     "SMTP_FROM": "paysync@shop.example", "ALERT_EMAIL_TO": "finance@shop.example",
                                     "ALERT_WEBHOOK_URLS": hook.url, "CONSOLE_URL": "https://console.shop.example",
                                     **env})
    return Dispatcher(db_url=lambda: db_url, console=lambda: console, thresholds=lambda pair: thresholds)


def raise_alert(handler: AlertHandler, message: str, facts: dict) -> None:
    """An ALERT record as the flows write it, through the logging system (the handler attached)."""
    logger = logging.getLogger("paysync.alert.test")
    logger.addHandler(handler)
    try:
        logger.error(message, extra={"alert": facts})
    finally:
        logger.removeHandler(handler)


def test_a_dead_letter_alert_reaches_email_and_webhook_with_a_console_link_and_no_card_data(db_url, seeded,
                                                                                            receivers):
    smtp, hook = receivers
    handler = AlertHandler(dispatcher(db_url, smtp, hook))
    # when the dead letter notice is logged as tasks.dead_letter_notice does
    raise_alert(handler, f"ALERT dead letter {seeded['letter']}", {"kind": "dead_letter", "letter_id": seeded["letter"]})
    assert handler.dispatcher.flush(30)
    # then one email and one webhook message, each linking to the letter's page
    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == "[paysync] A payment failed: sale of PayTrace 1002 (80.00)"
    assert mail["X-Envelope-To"] == "finance@shop.example"
    body = mail.get_payload()
    assert f"https://console.shop.example/dead-letters/{seeded['letter']}" in body and "GADGET-9" in body
    [posted] = hook.received
    assert f"<https://console.shop.example/dead-letters/{seeded['letter']}|" in posted["text"]
    assert LEAKED_PAN not in body + posted["text"]


def test_the_same_alert_is_sent_once_within_its_quiet_period_and_again_after(db_url, seeded, receivers):
    smtp, hook = receivers
    now = [utcnow()]
    d = dispatcher(db_url, smtp, hook, ALERT_QUIET_SECONDS="600")
    d.clock = lambda: now[0]
    facts = {"kind": "poll_failed", "pair": "default", "feed": "cards", "reason": "connection refused"}
    assert [d.process(facts, "ALERT poll failed") for _ in range(3)] == ["sent", "quiet", "quiet"]
    now[0] += timedelta(seconds=601)
    assert d.process(facts, "ALERT poll failed") == "sent"
    assert len(smtp.wait_for(2)) == 2 and len(hook.received) == 2
    assert "cannot read PayTrace" in smtp.messages[0]["Subject"]


def test_a_flood_is_cut_at_the_hourly_limit_and_the_next_alert_says_how_many_were_held(db_url, seeded, receivers):
    smtp, hook = receivers
    now = [utcnow().replace(minute=0, second=0)]
    d = dispatcher(db_url, smtp, hook, ALERT_MAX_PER_HOUR="3")
    d.clock = lambda: now[0]
    outcomes = [d.process({"kind": "poll_failed", "pair": "default", "feed": f"feed{i}"}, "down") for i in range(6)]
    assert outcomes == ["sent"] * 3 + ["held"] * 3
    now[0] += timedelta(hours=1)
    assert d.process({"kind": "poll_failed", "pair": "default", "feed": "later"}, "down") == "sent"
    assert "3 more alert(s) were held back" in hook.received[-1]["text"]
    assert len(hook.received) == 4


def test_declines_alert_only_past_the_mappings_rate_and_minimum(db_url, receivers):
    smtp, hook = receivers
    d = dispatcher(db_url, smtp, hook, thresholds=Alerts(decline_rate=Decimal("0.3"), decline_min_payments=10))

    def payments(sales: int, declines: int, start: int) -> None:
        with session_scope(db_url) as s:
            for i in range(sales + declines):
                s.add(SyncRun(pair="default", gateway="paytrace", transaction_id=start + i, erp="sage50",
                              kind="decline" if i < declines else "sale", status="succeeded", paid_at=utcnow(),
                              amount=Decimal("10.00")))

    payments(2, 4, 5000)  # 4 of 6 declined, but too few payments to call it a trend
    assert d.process({"kind": "decline", "pair": "default"}, "declined") == "below threshold"
    payments(4, 0, 6000)  # 4 of 10: 40% > 30%
    assert d.process({"kind": "decline", "pair": "default"}, "declined") == "sent"
    assert "Declines are 40% of payments" in smtp.wait_for(1)[0]["Subject"]


def test_a_flagged_payment_alerts_when_the_mapping_says_one_is_enough_and_never_when_it_says_zero(db_url,
                                                                                                  receivers):
    smtp, hook = receivers
    with session_scope(db_url) as s:
        s.add(ReviewItem(kind="anomaly:burst", reference="PT77", reason="5 payments from one card", context={},
                         status="open", created_at=utcnow(), last_seen_at=utcnow()))
    never = dispatcher(db_url, smtp, hook, thresholds=Alerts(anomalies=0))
    assert never.process({"kind": "anomaly", "pair": "default"}, "flagged") == "below threshold"
    once = dispatcher(db_url, smtp, hook, thresholds=Alerts(anomalies=1))
    assert once.process({"kind": "anomaly", "pair": "default"}, "flagged") == "sent"
    assert "/review|" in hook.received[0]["text"]


def test_alerts_go_to_the_pairs_own_route_and_a_failing_channel_does_not_stop_the_others(db_url, receivers):
    smtp, hook = receivers
    env = {"PAYSYNC_PAIRS": "default,east", "PAYSYNC_PAIR_EAST_ALERT_EMAIL_TO": "east@shop.example",
           "PAYSYNC_PAIR_EAST_ALERT_WEBHOOK_URLS": "http://127.0.0.1:9/nothing-listens"}
    d = dispatcher(db_url, smtp, hook, **env)
    assert d.process({"kind": "poll_failed", "pair": "east", "feed": "cards"}, "down") == "failed"
    [mail] = smtp.wait_for(1)
    assert mail["X-Envelope-To"] == "east@shop.example" and hook.received == []


def test_emit_never_waits_for_a_slow_channel(db_url, seeded):
    # given a dispatcher whose delivery blocks until released
    import threading

    release = threading.Event()

    class Slow(Dispatcher):
        def process(self, facts, message):
            release.wait(10)
            return "sent"

    handler = AlertHandler(Slow(db_url=lambda: db_url, console=lambda: None))
    # when twenty ALERT records are logged while delivery is stuck
    for i in range(20):
        raise_alert(handler, "ALERT", {"kind": "poll_failed", "feed": str(i)})
    # then every log call has returned with its alert queued (at most one taken by the stuck thread)
    assert handler.dispatcher.queue.qsize() >= 19
    release.set()
    assert handler.dispatcher.flush(10)
