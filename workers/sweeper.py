"""The sweeper: nothing committed stalls forever, and nothing only waiting in a queue is sent twice.

The database says which inbox events and runs look stalled (no sign of life for SWEEP_STALL_SECONDS);
that is only a candidate. One is sent again only when it has no live message: no marker and no
lease in Redis (workers/live.py), and no message of it waiting in a queue or held by a worker (the
broker's own lists and `unacked` hash, read only when some candidate has neither). A message found
there gets its marker back, so the next sweep does not read the broker for it again.

Each candidate is touched as it is looked at, so it is looked at again only after another stall
period: a sweep costs the candidates of one period, not the whole backlog every time. When Redis
lost the markers (a restart without persistence), the queues went with them: what the database
calls stalled is sent again, as before markers, and the step ledger keeps any repeat harmless.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from datetime import datetime, timedelta

import redis
from kombu.transport.redis import Channel
from sqlalchemy import or_, select, update

from config.queues import all_queues
from config.settings import Settings
from db.models import InboxEvent, SyncRun
from db.session import session_scope
from db.types import utcnow
from workers import live

log = logging.getLogger("paysync.sweeper")
LIMIT = 1000


class Broker:
    """What the broker holds, read at most once per sweep: (run|inbox, id) -> token of a message of it."""

    def __init__(self, client: redis.Redis | None, stall_seconds: float = 900.0) -> None:
        self.client = client
        #: A suspect is remembered until the next look (one stall period on) has surely happened.
        self.suspect_ttl = int(3 * stall_seconds) + 60
        self._held: dict[tuple[str, int], str] | None = None

    def live(self, kind: str, ids: list[int]) -> set[int]:
        """Which of `ids` have a marker or a lease (Redis down: none, and the stall rule decides)."""
        if self.client is None:
            return set()
        try:
            return live.live(self.client, kind, ids)
        except redis.RedisError as exc:
            log.warning("live markers unreadable, the stall rule decides: %s", exc)
            return set()

    def waiting(self, kind: str, ids: list[int]) -> set[int]:
        """Which of `ids` have a message in a queue or held by a worker; their markers are put back."""
        if self.client is None or not ids:
            return set()
        try:
            held = self.held()
            found = {id_: held[(kind, id_)] for id_ in ids if (kind, id_) in held}
            if found:
                live.restore(self.client, kind, found)
        except redis.RedisError as exc:
            log.warning("broker unreadable, the stall rule decides: %s", exc)
            return set()
        return set(found)

    def confirmed(self, kind: str, ids: list[int]) -> list[int]:
        """Of ids found without a message now, those already found so at an earlier look; the rest become suspects."""
        if self.client is None or not ids:
            return ids
        try:
            return live.confirm_lost(self.client, kind, ids, self.suspect_ttl)
        except redis.RedisError as exc:
            log.warning("suspects unreadable, the stall rule decides: %s", exc)
            return ids

    def held(self) -> dict[tuple[str, int], str]:
        if self._held is None:
            self._held = messages(self.client)
        return self._held


def messages(client: redis.Redis) -> dict[tuple[str, int], str]:
    """Every run or inbox message the broker holds, waiting or taken, read in one MULTI: subject -> token."""
    names = [f"{q}{Channel.sep}{p}" if p else q for q in all_queues() for p in Channel.priority_steps]
    pipe = client.pipeline(transaction=True)
    for name in names:
        pipe.lrange(name, 0, -1)
    pipe.hvals(Channel.unacked_key)
    *lists, taken = pipe.execute()
    found: dict[tuple[str, int], str] = {}
    for message in [json.loads(m) for lst in lists for m in lst] + [json.loads(m)[0] for m in taken]:
        headers = message.get("headers") or {}
        body = message.get("body") or ""
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        try:
            about = live.subject(headers.get("task", ""), json.loads(body)[0])
        except (ValueError, TypeError, IndexError, KeyError):
            continue  # not a message of ours
        if about is not None:
            found[about] = live.token(headers.get("id", ""), headers.get("retries"))
    return found


def restore_unacked(app) -> int:
    """Hand back to their queues the messages dead workers held past the visibility timeout.

    kombu does this from inside each worker, but only every unacked_restore_interval times
    unacked_restore_throttle seconds (100 s by default); the sweeper runs it on its own beat.
    """
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        qos = channel.qos
        due = channel.client.zcount(qos.unacked_index_key, "-inf", time.time() - qos.visibility_timeout)
        if due:
            qos.restore_visible(start=0, num=None, interval=1)
        return due


def stalled_events(settings: Settings, now: datetime | None = None, broker: Broker | None = None) -> list[int]:
    """Inbox rows committed whose message is lost or was never sent (enqueue failed): to send again."""
    now = now or utcnow()
    stall = now - timedelta(seconds=settings.sweep_stall_seconds)
    # Never-enqueued rows get a short grace so the sweeper does not race the ingress's own send.
    grace = timedelta(seconds=min(30.0, 2 * settings.sweep_interval_seconds))
    with session_scope(settings.database_url) as s:
        ids = list(s.scalars(select(InboxEvent.id).where(
            InboxEvent.status.in_(("received", "routed")),
            InboxEvent.received_at < now - grace,
            or_(InboxEvent.enqueued_at.is_(None), InboxEvent.enqueued_at < stall),
        ).order_by(InboxEvent.id).limit(LIMIT).with_for_update(skip_locked=True)))
        if ids:  # looked at again only after another stall period, whatever is found now
            s.execute(update(InboxEvent).where(InboxEvent.id.in_(ids)).values(enqueued_at=now))
    return _without_message(broker, live.INBOX, ids)


def touch_events(settings: Settings, inbox_ids: list[int]) -> None:
    """The events were handed to the workers just now (the poller's new ones)."""
    with session_scope(settings.database_url) as s:
        s.execute(update(InboxEvent).where(InboxEvent.id.in_(inbox_ids)).values(enqueued_at=utcnow()))


def stalled_runs(settings: Settings, now: datetime | None = None,
                 broker: Broker | None = None) -> list[tuple[int, str | None, str, str]]:
    """Runs not finished, with no sign of life for the stall limit and no live message: (id, step, kind, pair)."""
    now = now or utcnow()
    stall = now - timedelta(seconds=settings.sweep_stall_seconds)
    with session_scope(settings.database_url) as s:
        rows = s.execute(select(SyncRun.id, SyncRun.current_step, SyncRun.kind, SyncRun.pair).where(
            SyncRun.status.in_(("pending", "running")), SyncRun.updated_at < stall,
        ).order_by(SyncRun.updated_at).limit(LIMIT).with_for_update(skip_locked=True)).all()
        ids = [r[0] for r in rows]
        if ids:  # one look per stall period, not one per sweep
            s.execute(update(SyncRun).where(SyncRun.id.in_(ids)).values(updated_at=now))
            routed = dict(s.execute(select(InboxEvent.id, InboxEvent.run_id).where(
                InboxEvent.status == "routed", InboxEvent.run_id.in_(ids))).all())
    if not ids:
        return []
    # a run still being routed or prepared is its inbox event's: stalled_events sends that one again
    resend = set(_without_message(broker, live.RUN, [i for i in ids if i not in set(routed.values())]))
    return [(r[0], r[1], r[2], r[3]) for r in rows if r[0] in resend]


def _without_message(broker: Broker | None, kind: str, ids: list[int]) -> list[int]:
    """The ids with no marker, no lease and no message in the broker at two looks a stall period apart.

    One look is not enough: kombu takes a message off its list (BRPOP) and only then writes it to
    `unacked`, so a message a worker is taking right now is in neither place. The first look marks
    the id suspect; a later one, when the database calls it stalled again, sends it.
    (No broker to ask: all of them, at once, by the database's rule.)
    """
    if broker is None or not ids:
        return ids
    alive = broker.live(kind, ids)
    rest = [i for i in ids if i not in alive]
    found = broker.waiting(kind, rest) if rest else set()
    return broker.confirmed(kind, [i for i in rest if i not in found])
