"""The Celery tasks: a few lines each, ids in and out, in the order of flows.payment_sync.STEPS."""
from __future__ import annotations

import logging

from celery import Task, chain
from celery.exceptions import SoftTimeLimitExceeded
from marshmallow import ValidationError as SchemaError
from sqlalchemy.exc import IntegrityError, OperationalError

from config.celery import DEAD_LETTER_QUEUE, INGEST_QUEUE, celery_app, erp_queue
from config.settings import get_settings
from connectors.backoff import compute_backoff
from connectors.errors import ConnectorError, PermanentError, RetriableError, SkippableError
from flows import chargebacks, intake, lifecycle, payment_sync, store_events  # noqa: F401  (chargebacks registers its kind)
from flows.ledger import StepBusy
from flows.payment_sync import RunFinished
from workers import deadletter, poller
from workers.context import flow_context

log = logging.getLogger("paysync.tasks")

#: Database hiccups (a restart, a lost connection, a lost insert race) and a step that ran out of
#: time are worth another try; the ledger makes the repeat safe.
TRANSIENT = (RetriableError, OperationalError, IntegrityError, SoftTimeLimitExceeded)


class PaysyncTask(Task):
    """The house task: bounded retries with backoff for what may pass, a dead letter for the rest."""

    abstract = True
    typing = True

    def guarded(self, func, *, run_id: int | None = None, inbox_id: int | None = None, step: str | None = None):
        """Run `func`; retry, dead-letter or stop the chain by what it raised."""
        settings = get_settings()
        try:
            return func()
        except RunFinished:
            self.request.chain = None  # declined or already finished: nothing further to run
            return None
        except SkippableError as exc:
            log.info("skipped %s run=%s: %s", self.name, run_id, exc)
            return None
        except TRANSIENT as exc:
            attempt = self.request.retries + 1
            busy = isinstance(exc, StepBusy)  # bounded by the other claim's lease, not by the budget
            if attempt >= settings.retry_max_attempts and not busy:
                self._dead_letter(exc, run_id, inbox_id, step, attempt, exhausted=True)
                return None
            wait = compute_backoff(attempt, base=settings.retry_backoff_base, cap=settings.retry_backoff_max,
                                   retry_after=getattr(exc, "retry_after", None))
            log.warning("retry %s run=%s inbox=%s attempt=%d in %.3fs retry_after=%s: %s", self.name, run_id,
                        inbox_id, attempt, wait, getattr(exc, "retry_after", None), deadletter.reason_for(exc))
            raise self.retry(exc=exc, countdown=wait, max_retries=None if busy else settings.retry_max_attempts)
        except (SchemaError, Exception) as exc:  # permanent, or a bug: a person must look
            self._dead_letter(exc, run_id, inbox_id, step, self.request.retries + 1, exhausted=False)
            return None

    def _dead_letter(self, exc, run_id, inbox_id, step, attempts, *, exhausted: bool) -> None:
        letter_id = deadletter.record(get_settings().database_url, task_name=self.name, exc=exc, run_id=run_id,
                                      inbox_id=inbox_id, step=step, attempts=attempts, exhausted=exhausted)
        self.request.chain = None
        celery_app.send_task("paysync.dead_letter_notice", args=[letter_id], queue=DEAD_LETTER_QUEUE)


# -- intake ----------------------------------------------------------------------------------
@celery_app.task(bind=True, base=PaysyncTask, name="paysync.ingest_event")
def ingest_event(self, inbox_id: int) -> int | None:
    base = get_settings()
    if store_events.is_store_event(base.database_url, inbox_id):  # a store's order webhook (flows/store_events.py)
        self.guarded(lambda: store_events.handle(flow_context(intake.event_pair(base.database_url, inbox_id)),
                                                 inbox_id), inbox_id=inbox_id, step="store event")
        return None

    def route():
        settings = _pair_settings(intake.event_pair(base.database_url, inbox_id))
        return settings, intake.route_event(settings.database_url, inbox_id, settings.erp)

    routed = self.guarded(route, inbox_id=inbox_id, step="route")
    if routed is None or routed[1].run_id is None:
        return None
    settings, routing = routed
    if routing.start:
        for run_id, kind in routing.also:  # a predecessor created with it (a void's unsynced sale)
            start_run(run_id, settings.erp, kind=kind)
        start_run(routing.run_id, settings.erp, kind=routing.kind)
        intake.mark_started(settings.database_url, inbox_id)
    return routing.run_id


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


# -- the sale chain, in STEPS order ----------------------------------------------------------
def _step_task(step):
    @celery_app.task(bind=True, base=PaysyncTask, name=f"paysync.{step.__name__}")
    def task(self, run_id: int) -> int:
        self.guarded(lambda: step(flow_context(run_pair(run_id)), run_id), run_id=run_id, step=step.__name__)
        return run_id

    task.__doc__ = step.__doc__
    return task


STEP_TASKS = tuple(_step_task(step) for step in payment_sync.STEPS)
TASK_BY_STEP = {step.__name__: task for step, task in zip(payment_sync.STEPS, STEP_TASKS)}
for _steps in lifecycle.STEPS_BY_KIND.values():  # refunds and voids: their own steps, same house rules
    for _step in _steps:
        if _step.__name__ not in TASK_BY_STEP:
            TASK_BY_STEP[_step.__name__] = _step_task(_step)


def start_run(run_id: int, erp: str, from_step: str | None = None, kind: str = "sale") -> None:
    """Send the run's remaining steps as one chain: fetch on `ingest`, ERP steps on `erp.<kind>`."""
    sigs = []
    for step in lifecycle.resume_steps(kind, from_step):
        queue = INGEST_QUEUE if step is payment_sync.fetch_transaction else erp_queue(erp)
        sigs.append(TASK_BY_STEP[step.__name__].si(run_id).set(queue=queue))
    chain(*sigs).apply_async()


# -- beat jobs -------------------------------------------------------------------------------
@celery_app.task(bind=True, base=PaysyncTask, name="paysync.poll_paytrace")
def poll_paytrace(self) -> int:
    """Read PayTrace's export; a failed poll is not retried or dead-lettered: the next tick is its retry."""
    new_ids: list[int] = []
    for settings in get_settings().pairs():  # each pair's PayTrace account, with its own cursor
        try:
            new_ids += poller.poll_once(settings, flow_context(settings.pair).gateway)
        except (ConnectorError, SchemaError, OperationalError) as exc:
            # One alert per tick while PayTrace (or the database) is down or refuses our credentials;
            # the cursor has not moved, so the next poll's window still covers everything.
            logging.getLogger("paysync.alert").error("ALERT poll of PayTrace (pair %s) failed: %s", settings.pair,
                                                     deadletter.reason_for(exc))
    settings = get_settings()
    for inbox_id in new_ids:
        ingest_event.apply_async(args=[inbox_id], queue=INGEST_QUEUE)
    if new_ids:
        poller.touch_events(settings, new_ids)
    return len(new_ids)


@celery_app.task(bind=True, base=PaysyncTask, name="paysync.sweep_inbox")
def sweep_inbox(self) -> dict:
    settings = get_settings()
    events = poller.stalled_events(settings)
    for inbox_id in events:
        ingest_event.apply_async(args=[inbox_id], queue=INGEST_QUEUE)
    if events:
        poller.touch_events(settings, events)
    runs = poller.stalled_runs(settings)
    for run_id, step, kind, pair in runs:
        try:
            start_run(run_id, settings.for_pair(pair).erp, from_step=step, kind=kind)
        except KeyError:
            log.error("run %s belongs to pair %r, which is no longer configured", run_id, pair)
    if events or runs:
        log.warning("sweeper re-sent %d inbox events and %d stalled runs", len(events), len(runs))
    return {"events": len(events), "runs": len(runs)}


@celery_app.task(name="paysync.dead_letter_notice")
def dead_letter_notice(letter_id: int) -> int:
    """A message per dead letter on its own queue, for Flower and alerting; the row is the record."""
    letter = deadletter.get_letter(get_settings().database_url, letter_id)
    if letter is not None:
        logging.getLogger("paysync.alert").error("ALERT dead letter %s (%s, run %s): %s", letter.id,
                                                 letter.task_name, letter.run_id, letter.reason)
    return letter_id


def replay(letter_id: int) -> int | None:
    """Resume a dead-lettered run at its failed step (or re-ingest its event)."""
    settings = get_settings()
    letter = deadletter.prepare_replay(settings.database_url, letter_id)
    if (letter.context or {}).get("store_status"):  # a status the store refused: owed again (workers/store_tasks.py)
        from workers.store_tasks import replay_status

        replay_status(letter.context["store_status"])
        return None
    if letter.run_id is not None:
        start_run(letter.run_id, settings.for_pair(run_pair(letter.run_id)).erp, from_step=letter.step,
                  kind=letter.context.get("kind", "sale"))
        return letter.run_id
    if letter.inbox_id is not None:
        ingest_event.apply_async(args=[letter.inbox_id], queue=INGEST_QUEUE)
    return None


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
