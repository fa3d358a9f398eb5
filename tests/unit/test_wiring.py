"""The Celery app's reliability settings, routes and the step order the tasks follow."""
from __future__ import annotations

from config.celery import all_queues, celery_app
from config.settings import get_settings
from flows import lifecycle, payment_sync
from workers import tasks


def test_tasks_follow_the_flow_steps_in_order():
    assert [t.name for t in tasks.STEP_TASKS] == [f"paysync.{s.__name__}" for s in payment_sync.STEPS]
    assert [s.__name__ for s in lifecycle.resume_steps("sale", "payment")] == ["apply_receipt", "post_journal"]
    assert lifecycle.resume_steps("sale", None) == payment_sync.STEPS
    assert [s.__name__ for s in lifecycle.resume_steps("refund", "refund")] == ["pay_refund", "post_refund_journal"]
    for steps in lifecycle.STEPS_BY_KIND.values():  # every step of every kind has its task
        assert all(s.__name__ in tasks.TASK_BY_STEP for s in steps)


def test_reliability_settings():
    conf = celery_app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    s = get_settings()
    assert conf.broker_transport_options["visibility_timeout"] > s.retry_backoff_max + s.task_time_limit
    assert set(all_queues()) == {"ingest", "erp.sage50", "erp.sage_x3", "erp.sage_pro", "dead_letter", "reconcile"}
    assert {"poll-paytrace", "sweep-inbox"} <= set(conf.beat_schedule)
    assert not conf.task_always_eager  # never eager: tests use real workers


def test_celery_is_imported_only_by_workers_and_config():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = [str(p.relative_to(root)) for folder in ("flows", "connectors", "schemas", "db", "ingress", "sandbox")
                 for p in (root / folder).rglob("*.py") if re.search(r"^\s*(from|import) celery", p.read_text(), re.M)]
    assert offenders == []
