"""What an invoice's recurring-charge rows call for, and the claim a `charging` row carries (pure parts)."""
from __future__ import annotations

import os
from datetime import date, timedelta

from db.models import RecurringCharge
from db.types import utcnow
from flows.ledger import HOST
from flows.recurring_plan import Claim, next_attempt_on, plan_for
from schemas.mapping import Recurring

DAY = date(2026, 11, 20)
ON = Recurring(enabled=True, retry_days=(3, 7), dunning_status="Dunning", max_age_days=30)


def _row(attempt: int, status: str, next_on: date | None = None, txn: int | None = None) -> RecurringCharge:
    return RecurringCharge(attempt=attempt, status=status, next_attempt_on=next_on, transaction_id=txn)


def test_a_new_due_invoice_is_charged_unless_it_is_older_than_max_age():
    assert (plan_for([], DAY, DAY, ON).action, plan_for([], DAY, DAY, ON).attempt) == ("charge", 1)
    assert plan_for([], DAY - timedelta(days=30), DAY, ON).action == "charge"
    assert plan_for([], DAY - timedelta(days=31), DAY, ON).action == "skip"


def test_a_charged_invoice_is_never_charged_again_whatever_came_after():
    rows = [_row(1, "declined", DAY), _row(2, "charged", txn=7)]
    plan = plan_for(rows, DAY, DAY + timedelta(days=9), ON)
    assert plan.action == "skip" and "sale 7" in plan.detail


def test_a_charge_in_doubt_is_settled_before_anything_else():
    plan = plan_for([_row(1, "declined", DAY + timedelta(days=9)), _row(2, "charging")], DAY, DAY, ON)
    assert (plan.action, plan.attempt) == ("settle", 2)
    # however old the invoice: a charge may have happened, so PayTrace is asked
    assert plan_for([_row(1, "charging")], DAY - timedelta(days=90), DAY, ON).action == "settle"


def test_a_decline_is_retried_on_its_day_and_kept_in_dunning_until_then():
    rows = [_row(1, "declined", DAY + timedelta(days=3))]
    assert plan_for(rows, DAY, DAY + timedelta(days=2), ON).action == "dun"
    later = plan_for(rows, DAY, DAY + timedelta(days=3), ON)
    assert (later.action, later.attempt) == ("charge", 2)
    assert plan_for([_row(1, "declined"), _row(2, "declined"), _row(3, "declined")], DAY, DAY, ON).action == "skip"


def test_refused_attempts_wait_for_a_person_and_superseded_ones_are_charged_anew():
    assert plan_for([_row(1, "failed")], DAY, DAY, ON).action == "skip"
    plan = plan_for([_row(1, "superseded")], DAY, DAY, ON)
    assert (plan.action, plan.attempt) == ("charge", 2)


def test_retry_days_count_from_each_decline_and_run_out():
    assert next_attempt_on(ON, 1, DAY) == DAY + timedelta(days=3)
    assert next_attempt_on(ON, 2, DAY) == DAY + timedelta(days=7)
    assert next_attempt_on(ON, 3, DAY) is None
    assert next_attempt_on(Recurring(True, (), "Dunning", 30), 1, DAY) is None


def test_a_claim_is_live_while_its_holder_lives_and_its_lease_lasts():
    mine = Claim.calling()
    assert mine.by.startswith(f"{HOST}:{os.getpid()}:") and mine.live(utcnow(), 60)
    assert not mine.live(utcnow() + timedelta(seconds=61), 60)
    assert not mine.released("timed out").live(utcnow(), 60)
    assert not Claim(f"{HOST}:999999999", utcnow(), utcnow()).live(utcnow(), 60)  # no such process
    again = Claim.parse(mine.released("timed out").text(), utcnow())
    assert (again.by, again.called_at, again.doubt) == (None, mine.called_at, "timed out")
    written = utcnow()
    assert Claim.parse("PayTrace said something", written) == Claim(None, None, written, "claim unreadable")


def test_the_daily_run_is_a_registered_task_on_beat_at_the_merchants_hour():
    from config.celery import celery_app
    from config.settings import get_settings
    import workers.recurring_tasks  # noqa: F401  (registers the task, as the worker's include does)

    entry = celery_app.conf.beat_schedule["recurring-day"]
    settings = get_settings()
    assert entry["task"] == "paysync.run_recurring" and "paysync.run_recurring" in celery_app.tasks
    assert (entry["schedule"].zone, entry["schedule"].hour) == (settings.merchant_timezone, {settings.recurring_hour})
    assert "workers.recurring_tasks" in celery_app.conf.include
    assert celery_app.conf.task_routes["paysync.run_recurring"]["queue"] == entry["options"]["queue"] == "reconcile"
