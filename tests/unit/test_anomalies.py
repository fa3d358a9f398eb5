"""Robust statistics for the anomaly screen: one past outlier cannot hide the next."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from flows.anomalies import BURST_LIMIT, amount_outlier, burst

D = Decimal


def test_usual_amounts_pass_and_a_far_one_is_flagged_with_its_reason():
    history = [D("48.10"), D("52.00"), D("50.00"), D("49.99"), D("51.25"), D("47.00")]
    assert amount_outlier(history, D("55.00")) is None
    reason = amount_outlier(history, D("5000.00"))
    assert reason and "median 50.00" in reason and "5000.00" in reason


def test_one_huge_past_payment_does_not_hide_the_next():
    history = [D("50")] * 5 + [D("9000")] + [D("51"), D("49")]
    assert amount_outlier(history, D("8000")) is not None


def test_too_little_history_flags_nothing():
    assert amount_outlier([D("10"), D("12")], D("10000")) is None


def test_identical_history_flags_a_change_of_half_or_more():
    assert amount_outlier([D("20")] * 6, D("20")) is None
    assert amount_outlier([D("20")] * 6, D("31")) is not None


def test_a_burst_is_that_many_payments_inside_the_window():
    now = datetime(2026, 11, 21, 12, tzinfo=timezone.utc)
    times = [now - timedelta(minutes=m) for m in range(1, BURST_LIMIT)]
    assert burst(times, now) is not None
    assert burst(times[:-1], now) is None
    assert burst([now - timedelta(hours=1)] * 10, now) is None
