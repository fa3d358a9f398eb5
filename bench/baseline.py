"""The baseline: a bare Celery app whose 4-task chain does nothing but count its arrival.

Same broker, same worker settings (late ack, prefetch 1, JSON) as paysync's app, so the ratio
measures what paysync's work costs on top of Celery itself. Celery is imported here, outside
workers/ and config/, because this is a measuring stick, not part of paysync.
"""
from __future__ import annotations

import os

import redis
from celery import Celery

app = Celery("bench", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_serializer="json", accept_content=["json"], task_acks_late=True, task_reject_on_worker_lost=True,
                worker_prefetch_multiplier=1, task_ignore_result=True, task_default_queue="bench")


@app.task(name="bench.step")
def step(chain_id: int) -> int:
    return chain_id


@app.task(name="bench.last")
def last(chain_id: int) -> int:
    redis.Redis.from_url(app.conf.broker_url).incr("bench:done")
    return chain_id
