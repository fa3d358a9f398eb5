"""The Celery tasks: ingest, then one task per stage of the chain (customer → order → payment → gl).

Each is a few lines: load by id, call the flow, return the id. What a task does with an error is
the one table in workers/policy.py. Chains are built per run from its kind (flows/kinds.py).
"""
from __future__ import annotations

import logging

from celery import Task, chain
from kombu.exceptions import OperationalError as KombuOperationalError
from marshmallow import ValidationError as SchemaError
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from config.celery import DEAD_LETTER_QUEUE, INGEST_QUEUE, celery_app, erp_queue
from config.settings import get_settings
from connectors.backoff import compute_backoff
from connectors.errors import ConnectorError, PermanentError
from db.inbox import mark_enqueued_many
from flows import intake, runs, store_events
from flows.kinds import KINDS
from workers import deadletter, live, policy, poller, sweeper
from workers.context import flow_context

log = logging.getLogger("paysync.tasks")


class PaysyncTask(Task):
    """The house task: what to do with each error is the policy table; a dead letter ends what cannot pass."""

    abstract = True
    typing = True

    def guarded(self, func, *, run_id: int | None = None, inbox_id: int | None = None, step: str | None = None):
        """Run `func`; retry, wait, dead-letter, skip or stop the chain as workers/policy.py says."""
        settings = get_settings()
        try:
            return func()
        except Exception as exc:  # every exception has a row in the policy table
            action = policy.action_for(exc)
            if action == policy.STOP:
                self.request.chain = None  # declined, parked or already finished: nothing further to run
                return None
            if action == policy.SKIP:
                log.info("skipped %s run=%s: %s", self.name, run_id, exc)
                return None
            attempt = self.request.retries + 1
            if action == policy.DEAD or (action == policy.RETRY and attempt >= settings.retry_max_attempts):
                self._dead_letter(exc, run_id, inbox_id, step, attempt, exhausted=action == policy.RETRY)
                return None
            wait = compute_backoff(attempt, base=settings.retry_backoff_base, cap=settings.retry_backoff_max,
                                   retry_after=getattr(exc, "retry_after", None))
            log.warning("retry %s run=%s inbox=%s attempt=%d in %.3fs retry_after=%s: %s", self.name, run_id,
                        inbox_id, attempt, wait, getattr(exc, "retry_after", None), deadletter.reason_for(exc))
            # a wait for another worker's lease is bounded by that lease, not by the retry budget
            raise self.retry(exc=exc, countdown=wait,
                             max_retries=None if action == policy.WAIT else settings.retry_max_attempts)

    def superseded(self, *args) -> bool:
        """True when a newer message of this run (or event) went out since this one (workers/live.py):
        this one does nothing and sends no chain. Otherwise its worker now holds the run's lease."""
        if live.start(self.name, args, self.request.id, self.request.retries):
            return False
        log.info("%s%s superseded by a newer message of its run: nothing to do", self.name, args)
        self.request.chain = None
        return True

    def _dead_letter(self, exc, run_id, inbox_id, step, attempts, *, exhausted: bool) -> None:
        letter_id = deadletter.record(get_settings().database_url, task_name=self.name, exc=exc, run_id=run_id,
                                      inbox_id=inbox_id, step=step, attempts=attempts, exhausted=exhausted)
        self.request.chain = None
        celery_app.send_task("paysync.dead_letter_notice", args=[letter_id], queue=DEAD_LETTER_QUEUE)


# -- ingest: route the event, prepare its run (fetch, match, decide), start the chain ----------------
@celery_app.task(bind=True, base=PaysyncTask, name="paysync.ingest_event")
def ingest_event(self, inbox_id: int) -> int | None:
    if self.superseded(inbox_id):
        return None
    base = get_settings()
    if store_events.is_store_event(base.database_url, inbox_id):  # a store's order webhook (flows/store_events.py)
        self.guarded(lambda: store_events.handle(flow_context(intake.event_pair(base.database_url, inbox_id)),
                                                 inbox_id), inbox_id=inbox_id, step="store event")
        return None

    def route():
        settings = _pair_settings(intake.event_pair(base.database_url, inbox_id))
        return settings, intake.route_event(settings.database_url, inbox_id, settings.erp)

    routed = self.guarded(route, inbox_id=inbox_id, step="route")
    if routed is None or routed[1].run_id is None or not routed[1].start:
        return None
    settings, routing = routed
    for run_id, _ in routing.also:  # a predecessor created with it (a void's unsynced sale)
        self.guarded(lambda: _prepare(settings.pair, run_id), run_id=run_id, step="prepare")
    self.guarded(lambda: _prepare(settings.pair, routing.run_id, inbox_id), run_id=routing.run_id,
                 inbox_id=inbox_id, step="prepare")
    return routing.run_id


def _prepare(pair: str, run_id: int, inbox_id: int | None = None) -> bool:
    """Prepare the run once and send the stages it needs; True when it was handled."""
    ctx = flow_context(pair)
    send_stages(run_id, ctx.erp.kind, intake.prepare(ctx, run_id, KINDS, inbox_id))
    return True


def _pair_settings(pair: str):
    """The settings of an integration pair a stored event or run names; a pair no longer configured is permanent."""
    try:
        return get_settings().for_pair(pair)
    except KeyError as exc:
        raise PermanentError(str(exc.args[0]), system="paysync", operation="pair") from None


_RUN_PAIRS: dict[int, str] = {}


def run_pair(run_id: int) -> str:
    """The integration pair a run posts for (kept per process: a run never changes pair)."""
    if run_id not in _RUN_PAIRS:
        if len(_RUN_PAIRS) > 10_000:
            _RUN_PAIRS.clear()
        _RUN_PAIRS[run_id] = intake.run_pair(get_settings().database_url, run_id)
    return _RUN_PAIRS[run_id]


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.prepare")
def prepare(self, run_id: int) -> int | None:
    """Prepare a run again (a replay or the sweeper, when it died before its stages were sent)."""
    if self.superseded(run_id):
        return run_id
    self.guarded(lambda: _prepare(run_pair(run_id), run_id), run_id=run_id, step="prepare")
    return run_id


# -- the chain, one task per stage, in flows.runs.STAGES order -----------------------------------------
def _stage_task(stage: str):
    @celery_app.task(bind=True, base=PaysyncTask, name=f"paysync.{stage}")
    def task(self, run_id: int) -> int:
        if self.superseded(run_id):
            return run_id
        self.guarded(lambda: runs.run_stage(flow_context(run_pair(run_id)), run_id, stage, KINDS), run_id=run_id,
                     step=stage)
        return run_id

    task.__doc__ = f"The {stage} stage of a run (flows/runs.py run_stage; what it writes: flows/kinds.py)."
    return task


STAGE_TASKS = {stage: _stage_task(stage) for stage in runs.STAGES}


def stage_chain(run_id: int, erp: str, stages: tuple[str, ...]):
    """A run's stages as one Celery chain of ids on its ERP's queue."""
    return chain(*(STAGE_TASKS[stage].si(run_id).set(queue=erp_queue(erp)) for stage in stages))


def send_stages(run_id: int, erp: str, stages: tuple[str, ...]) -> None:
    """Send a run's stages (none: nothing to send)."""
    if stages:
        stage_chain(run_id, erp, stages).apply_async()


def start_run(run_id: int, from_step: str | None = None) -> None:
    """Resume a run: prepare it if it never got that far, else send its stages from `from_step` on."""
    pair = run_pair(run_id)
    ctx = flow_context(pair)
    stages = runs.remaining(ctx, run_id, from_step, KINDS) if from_step in runs.STAGES else None
    if stages is None:
        prepare.apply_async(args=[run_id], queue=INGEST_QUEUE)
    else:
        send_stages(run_id, ctx.erp.kind, stages)


# -- beat jobs -------------------------------------------------------------------------------
@celery_app.task(bind=True, base=PaysyncTask, name="paysync.poll_paytrace")
def poll_paytrace(self) -> int:
    """Read PayTrace's export; a failed poll is not retried or dead-lettered: the next tick is its retry."""
    return poll_and_send().new


def poll_and_send(now=None) -> poller.TickCounts:
    """The poll task's body: every pair's tick, then an ingest task per new inbox row; what it cost."""
    new_ids: list[int] = []
    counts = poller.TickCounts()
    for settings in get_settings().pairs():  # each pair's PayTrace account, with its own cursor
        try:
            tick = poller.poll_tick(settings, flow_context(settings.pair).gateway, now)
            new_ids += tick.new_ids
            counts += tick.counts
        except (ConnectorError, SchemaError, OperationalError) as exc:
            # One alert per tick while PayTrace (or the database) is down or refuses our credentials;
            # the cursor has not moved, so the next poll's window still covers everything.
            reason = deadletter.reason_for(exc)
            logging.getLogger("paysync.alert").error("ALERT poll of PayTrace (pair %s) failed: %s", settings.pair,
                                                     reason, extra={"alert": {"kind": "poll_failed", "feed": "cards",
                                                                              "pair": settings.pair, "reason": reason}})
    settings = get_settings()
    for inbox_id in new_ids:
        ingest_event.apply_async(args=[inbox_id], queue=INGEST_QUEUE)
    if new_ids:
        with poller.counting_statements(settings.database_url, counts):
            mark_enqueued_many(settings.database_url, new_ids)  # one UPDATE: the sweeper leaves them alone
    log.info("poll: %s", counts)
    return counts


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.sweep_inbox")
def sweep_inbox(self) -> dict:
    """Send again what stalled with no live message (workers/sweeper.py); hand back what dead workers held."""
    settings = get_settings()
    try:
        restored = sweeper.restore_unacked(celery_app)
    except (RedisError, OSError, KombuOperationalError) as exc:
        log.warning("sweeper could not hand back dead workers' messages: %s", exc)
        restored = 0
    broker = sweeper.Broker(live.client(), settings.sweep_stall_seconds)
    events = sweeper.stalled_events(settings, broker=broker)
    for inbox_id in events:
        ingest_event.apply_async(args=[inbox_id], queue=INGEST_QUEUE)
    runs_ = sweeper.stalled_runs(settings, broker=broker)
    for run_id, step, _kind, pair in runs_:
        if pair not in settings.pair_names:
            log.error("run %s belongs to pair %r, which is no longer configured", run_id, pair)
            continue
        start_run(run_id, from_step=step)
    if events or runs_ or restored:
        log.warning("sweeper re-sent %d inbox events and %d stalled runs; %d messages of dead workers handed back",
                    len(events), len(runs_), restored)
    return {"events": len(events), "runs": len(runs_), "restored": restored}


@celery_app.task(name="paysync.dead_letter_notice")
def dead_letter_notice(letter_id: int) -> int:
    """A message per dead letter on its own queue, for Flower and alerting; the row is the record."""
    letter = deadletter.get_letter(get_settings().database_url, letter_id)
    if letter is not None:
        logging.getLogger("paysync.alert").error("ALERT dead letter %s (%s, run %s): %s", letter.id,
                                                 letter.task_name, letter.run_id, letter.reason,
                                                 extra={"alert": {"kind": "dead_letter", "letter_id": letter.id}})
    return letter_id


# -- nightly reconciliation (flows.settlement) -----------------------------------------------
@celery_app.task(bind=True, base=PaysyncTask, name="paysync.reconcile_day",
                 time_limit=get_settings().reconcile_time_limit,
                 soft_time_limit=max(1, get_settings().reconcile_time_limit - 30))
def reconcile_day(self, day: str | None = None) -> int | None:
    """Reconcile one merchant-local day (by default the one the beat schedule fired for), once."""
    runs = [self.guarded(lambda: run_reconcile(settings, day, trigger="beat"), step="reconcile")
            for settings in get_settings().pairs()]  # each pair's own batches, journal and report
    return runs[0] if len(runs) == 1 else None


def run_reconcile(settings, day: str | None, *, trigger: str) -> int | None:
    """The task's body: the day, its run key (one run per scheduled day), then the flow."""
    from datetime import date

    from db.types import utcnow
    from flows import settlement, settlement_rules
    from workers.context import reconcile_context

    when = date.fromisoformat(day) if day else settlement_rules.day_for(
        utcnow(), settings.merchant_timezone, settings.reconcile_hour, settings.reconcile_minute,
        settings.reconcile_days_back)
    ctx = reconcile_context(settings)
    try:
        outcome = settlement.reconcile(ctx, when, trigger=trigger,
                                       run_key=ctx.scope(f"{trigger}:{when.isoformat()}"))
    finally:
        ctx.erp.close()
        ctx.gateway.client.close()
    log.info("reconcile %s: %s (run %s)", when, outcome.status, outcome.run_id)
    return outcome.run_id
