"""The customer sync's task, route, beat entry and setting; the task follows the flow's steps."""
from __future__ import annotations

import pytest

from config.celery import beat_schedule, celery_app, erp_queue
from config.settings import SettingsError, load_settings
from flows import customers
from workers import customer_tasks
from workers.tasks import PaysyncTask


def test_the_task_is_a_house_task_on_the_erp_queue_and_on_beat():
    task = celery_app.tasks[customer_tasks.sync_customers.name]
    assert task.name == "paysync.sync_customers" and isinstance(task, PaysyncTask)
    assert "workers.customer_tasks" in celery_app.conf.include
    settings = load_settings({"PAYSYNC_ENV": "test", "CUSTOMER_SYNC_INTERVAL_SECONDS": "120", "PAYSYNC_ERP": "sage_pro"})
    entry = beat_schedule(settings)["sync-customers"]
    assert entry["task"] == task.name and entry["schedule"] == 120.0
    assert entry["options"]["queue"] == erp_queue("sage_pro")


def test_the_interval_defaults_to_a_quarter_hour_and_is_validated():
    assert load_settings({"PAYSYNC_ENV": "test"}).customer_sync_interval_seconds == 900.0
    for bad in ("0", "soon", "100000"):
        with pytest.raises(SettingsError) as caught:
            load_settings({"PAYSYNC_ENV": "test", "CUSTOMER_SYNC_INTERVAL_SECONDS": bad})
        assert "CUSTOMER_SYNC_INTERVAL_SECONDS" in caught.value.errors


def test_the_flow_runs_profiles_into_the_erp_before_erp_changes_back():
    assert [s.__name__ for s in customers.STEPS] == ["pull_profiles", "push_erp_changes"]
