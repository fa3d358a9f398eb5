"""A run's one live message: a marker in Redis naming it, and a lease its worker takes when it starts.

Every message of a run (its prepare and its stages) or of an inbox event (its ingest) is named by
a token, `<task id>:<retries>`. The marker `paysync:live:<run|inbox>:<id>` holds the token of the
newest message sent for it; it is set before the message is published (Celery's
before_task_publish, so a chain's next step and a retry move it too, from inside the worker), and
expires after LIVE_MESSAGE_TTL_SECONDS, longer than the visibility timeout: a message a killed
worker held still counts until Redis hands it out again. A worker starting a task takes the
lease `paysync:lease:...` for as long as a task may run, and refreshes the marker; the task's end
gives both back if they are still its own (a chain's next step, or a retry, has replaced the
marker by then).

A message whose token is no longer the marker's was superseded (redelivered after its successor
went out, or re-sent by the sweeper beside it): it acks without doing anything, so a run never
has two messages at work. Redis failing here never stops a task: without markers the sweeper
falls back to the database's stall rule, and the step ledger keeps a duplicate harmless.
"""
from __future__ import annotations

import logging
import os
import threading

import redis
from celery.signals import before_task_publish, task_postrun

from config.settings import get_settings

log = logging.getLogger("paysync.live")

#: Tasks whose first argument names a run, and the one whose first argument names an inbox event.
RUN_TASKS = frozenset({"paysync.prepare", "paysync.customer", "paysync.order", "paysync.payment", "paysync.gl"})
INBOX_TASKS = frozenset({"paysync.ingest_event"})
RUN, INBOX = "run", "inbox"

# KEYS: marker, lease. ARGV: token, marker ttl, lease ttl. 1: this message is the live one (lease
# taken, marker refreshed); 0: another message was sent for it since (superseded).
_START = """
local live = redis.call('GET', KEYS[1])
if live and live ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return 1
"""
# KEYS: marker, lease. ARGV: token. Each is deleted only while it still holds this message's token.
_FINISH = """
for i = 1, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""

_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def client(url: str | None = None) -> redis.Redis | None:
    """This process's Redis client for markers (the broker's Redis); None when none is configured."""
    url = url or get_settings().redis_url
    if not url:
        return None
    key = (os.getpid(), url)  # a forked pool child makes its own
    with _clients_lock:
        if key not in _clients:
            _clients[key] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return _clients[key]


def marker(kind: str, id_: int) -> str:
    return f"paysync:live:{kind}:{id_}"


def lease(kind: str, id_: int) -> str:
    return f"paysync:lease:{kind}:{id_}"


def subject(task_name: str, args) -> tuple[str, int] | None:
    """(run|inbox, id) a task's message is for; None for a task outside runs and events (beat jobs...)."""
    kind = RUN if task_name in RUN_TASKS else INBOX if task_name in INBOX_TASKS else None
    if kind is None or not args:
        return None
    try:
        return kind, int(args[0])
    except (TypeError, ValueError):
        return None


def token(task_id: str, retries: int | None) -> str:
    return f"{task_id}:{retries or 0}"


def ttl() -> int:
    return get_settings().live_message_ttl_seconds


def lease_ttl() -> int:
    """As long as a task may run (its hard time limit), and a little more."""
    return get_settings().task_time_limit + 30


@before_task_publish.connect
def message_sent(sender: str | None = None, body=None, headers: dict | None = None, **_) -> None:
    """Before a run's (or event's) message is published: it becomes the live one."""
    args = body[0] if isinstance(body, (tuple, list)) and body else None
    about = subject(sender or "", args)
    if about is None or not headers:
        return
    try:
        r = client()
        if r is not None:
            r.set(marker(*about), token(headers.get("id", ""), headers.get("retries")), ex=ttl())
    except redis.RedisError as exc:
        log.warning("live marker of %s %s not set (the sweeper falls back to the stall rule): %s", *about, exc)


def start(task_name: str, args, task_id: str, retries: int | None) -> bool:
    """A worker starts this message: take the lease and refresh the marker; False when it was superseded."""
    about = subject(task_name, args)
    if about is None:
        return True
    try:
        r = client()
        if r is None:
            return True
        return bool(r.eval(_START, 2, marker(*about), lease(*about), token(task_id, retries), ttl(), lease_ttl()))
    except redis.RedisError as exc:
        log.warning("lease of %s %s not taken: %s", *about, exc)
        return True  # never lose work for a lease: the step ledger keeps a repeat harmless


@task_postrun.connect
def task_ended(sender=None, task=None, args=None, **_) -> None:
    """After the task (and after the chain's next step or the retry went out): give back what is still ours."""
    name = getattr(task, "name", "") or getattr(sender, "name", "")
    about = subject(name, args)
    if about is None:
        return
    request = task.request
    try:
        r = client()
        if r is not None:
            r.eval(_FINISH, 2, marker(*about), lease(*about), token(request.id, request.retries))
    except redis.RedisError as exc:
        log.warning("live marker of %s %s not released (it expires): %s", *about, exc)


def live(r: redis.Redis, kind: str, ids: list[int]) -> set[int]:
    """Which of `ids` have a live marker or a lease: a message on its way, waiting or at work."""
    if not ids:
        return set()
    pipe = r.pipeline(transaction=False)
    for id_ in ids:
        pipe.exists(marker(kind, id_), lease(kind, id_))
    return {id_ for id_, found in zip(ids, pipe.execute()) if found}


def restore(r: redis.Redis, kind: str, found: dict[int, str]) -> None:
    """Markers for messages the sweeper found in the broker without one (never over a newer marker)."""
    pipe = r.pipeline(transaction=False)
    for id_, tok in found.items():
        pipe.set(marker(kind, id_), tok, ex=ttl(), nx=True)
    pipe.execute()


def confirm_lost(r: redis.Redis, kind: str, ids: list[int], ttl: int) -> list[int]:
    """Of `ids` (no message found now), those already suspected at an earlier look; the others become suspects."""
    pipe = r.pipeline(transaction=False)
    for id_ in ids:
        pipe.set(f"paysync:suspect:{kind}:{id_}", 1, ex=ttl, nx=True)
    fresh = pipe.execute()
    lost = [id_ for id_, new in zip(ids, fresh) if not new]
    if lost:
        r.delete(*(f"paysync:suspect:{kind}:{id_}" for id_ in lost))
    return lost
