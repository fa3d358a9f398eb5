"""What the broker holds, read from Redis the way kombu keeps it: how many live messages each run has.

kombu's Redis transport keeps a queue's waiting messages as JSON in a list named after the queue
(a priority has its own list, `<queue>\\x06\\x16<priority>`), and each message a worker took but has
not acked yet in the `unacked` hash, as `[message, exchange, routing_key]`. A message's body is
base64 of `[args, kwargs, embed]`; its headers name the task, its id and its retry count.

Read here independently of paysync's own sweeper (workers/sweeper.py), so the bench and the
backlog test judge the broker, not paysync's bookkeeping of it.
"""
from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict

import redis

from config.queues import all_queues

STAGES = ("paysync.prepare", "paysync.customer", "paysync.order", "paysync.payment", "paysync.gl")
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def _key_of(message: dict) -> tuple[str, int, str, str, int] | None:
    """(kind, id, task, task id, retries) of a paysync run or inbox message; None for any other task."""
    headers = message.get("headers") or {}
    task = headers.get("task", "")
    if task != "paysync.ingest_event" and task not in STAGES:
        return None
    body = message["body"]
    if (message.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]
    kind = "inbox" if task == "paysync.ingest_event" else "run"
    return kind, int(args[0]), task, headers.get("id", ""), int(headers.get("retries") or 0)


def snapshot(client: redis.Redis) -> tuple[list[tuple], list[tuple]]:
    """Every paysync run or inbox message waiting in a queue, and every one a worker holds, in one MULTI."""
    names = [f"{q}{suffix}" for q in all_queues() for suffix in PRIORITY_SUFFIXES]
    pipe = client.pipeline(transaction=True)
    for name in names:
        pipe.lrange(name, 0, -1)
    pipe.hvals("unacked")
    *lists, held = pipe.execute()
    queued = [k for raw in (m for lst in lists for m in lst) if (k := _key_of(json.loads(raw)))]
    taken = [k for raw in held if (k := _key_of(json.loads(raw)[0]))]
    return queued, taken


def messages_per_key(client: redis.Redis) -> Counter:
    """Live messages per (kind, id): a run's (prepare and stages) or an inbox event's (ingest).

    A message a worker still holds whose successor is already queued (the same task id retried, or
    a later stage of the chain) is one message moving: Celery publishes a chain's next step, or a
    retry, before it acks the current one. Anything else held beside a queued message counts.
    """
    queued, taken = snapshot(client)
    by_key: dict[tuple, list] = defaultdict(list)
    for kind, id_, task, task_id, retries in queued:
        by_key[(kind, id_)].append(("queued", task, task_id, retries))
    for kind, id_, task, task_id, retries in taken:
        by_key[(kind, id_)].append(("taken", task, task_id, retries))
    counts = Counter()
    for key, messages in by_key.items():
        live = 0
        for place, task, task_id, retries in messages:
            if place == "taken" and any(_follows((t, i, r), (task, task_id, retries))
                                        for _p, t, i, r in messages):
                continue  # handed over: its successor is out already
            live += 1
        counts[key] = live
    return counts


def _follows(later: tuple[str, str, int], earlier: tuple[str, str, int]) -> bool:
    task, task_id, retries = later
    was_task, was_id, was_retries = earlier
    if task_id == was_id:
        return retries > was_retries
    return task in STAGES and was_task in STAGES and STAGES.index(task) > STAGES.index(was_task)
