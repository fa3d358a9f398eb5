"""Nightly settlement reconciliation: PayTrace's settled batches against our ledger and the ERP.

For one day: claim the run (a beat tick runs once), read the day's batches, stream each batch's
transactions into the database with the ERP's documents of the day (flows/settlement_stage.py) and
match every one to its sync run and its ERP documents by reference, in SQL where the match is plain
and through `classify` where it is not (flows/settlement_match.py), sending what is missing through
the normal sync; look for receipts of the day that PayTrace never settled (flows/settlement_outside.py),
check each batch's totals, post each batch's settlement journal once, compare with the previous run
of the day, put the exceptions on the review list and write the reports.
The steps run in that order (STEPS); `reconcile` runs them under the day's lock.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from db.inbox import NewEvent, mark_enqueued_many, store_events_keyed
from db.models import StepLedger, SyncRun
from db.reconcile_models import ReconcileItem, ReconcileRun
from db.session import session_scope
from db.types import utcnow
from flows import review
from flows import settlement_items
from flows import settlement_match as match
from flows.settlement_journal import check_batch_totals, post_settlements
from flows.settlement_outside import find_unsettled_receipts
from flows.settlement_report import write_reports as write_report_files
from flows.settlement_stage import Staging
from flows.settlement_rules import (EXCEPTIONS, SALE_DOCUMENTS, STATUS, BatchSums, LedgerView, Settled, classify,
                                    money, subject_reference)
from flows.settlement_run import (ACTIONS, Outcome, ReconcileContext, RunHandle, item, run_row, update_run,
                                  write_items)

log = logging.getLogger("paysync.reconcile")
alert_log = logging.getLogger("paysync.alert")



def _ledger(ctx: ReconcileContext, txn_ids: list[int]) -> dict[int, LedgerView]:
    """The sync runs of these transactions and the ERP keys of their finished steps: one query."""
    with session_scope(ctx.db_url) as s:
        rows = s.execute(
            select(SyncRun.id, SyncRun.transaction_id, SyncRun.status, SyncRun.current_step, SyncRun.last_error,
                   SyncRun.note, StepLedger.step, StepLedger.erp_ref)
            .outerjoin(StepLedger, (StepLedger.run_id == SyncRun.id) & (StepLedger.status == "done"))
            .where(SyncRun.pair == ctx.pair, SyncRun.gateway == "paytrace", SyncRun.erp == ctx.erp_kind,
                   SyncRun.transaction_id.in_(txn_ids))
        ).all()
    views: dict[int, LedgerView] = {}
    for run_id, txn_id, status, step_now, error, note, step, erp_ref in rows:
        view = views.get(txn_id) or views.setdefault(txn_id, LedgerView(run_id, status, step_now, error, {}, note))
        if step is not None:
            view.steps[step] = erp_ref
    return views


#: A repair whose inbox row could be neither stored nor found again (removed in between): the next run asks again.
NOT_STORED = "repair not stored; re-checked next run"


def repair_key(t: Settled) -> str:
    """The inbox event id of a settled transaction's repair: one per transaction and kind, ever."""
    return f"{t.transaction_id}:{t.kind}"


def _repairs(ctx: ReconcileContext, run: RunHandle, missing: list[Settled]) -> dict[str, str]:
    """Send transactions missing from the ERP through their normal sync; repair key -> what was done.

    A chunk's repairs are stored in one transaction (db/inbox.store_events_keyed), each sent, and
    the sent ones marked in one UPDATE: at a million sales, 1,000 repairs cost 1.7 s one by one.
    """
    if not missing:
        return {}
    payload = {"day": run.day.isoformat(), "reason": "settled but missing in the ERP"}
    events = [NewEvent(repair_key(t), f"reconcile.{t.kind.lower()}", t.transaction_id, {**payload, "batch": t.batch})
              for t in missing]
    stored = store_events_keyed(ctx.db_url, source="reconcile", pair=ctx.pair, events=events)
    done, sent = {}, []
    for key, (inbox_id, created) in stored.items():
        if not created:
            done[key] = f"repair already requested (inbox {inbox_id}); re-checked next run"
            continue
        try:
            ctx.enqueue(inbox_id)
        except Exception as exc:  # the row is committed: the sweeper sends it
            log.warning("enqueue of repair %s failed (%s: %s); the sweeper will send it", inbox_id,
                        type(exc).__name__, exc)
            done[key] = f"repair stored (inbox {inbox_id}); the sweeper sends it"
            continue
        sent.append(inbox_id)
        done[key] = f"repair: sync sent (inbox {inbox_id}); re-checked next run"
    try:
        mark_enqueued_many(ctx.db_url, sent)
    except Exception as exc:  # sent, not marked: the sweeper may send them once more; ingest drops a repeat
        log.warning("marking %d repairs sent failed (%s: %s)", len(sent), type(exc).__name__, exc)
    return done


# -- the steps, in the order they run --------------------------------------------------------
def open_run(ctx: ReconcileContext, day: date, trigger: str, run_key: str | None = None) -> RunHandle | None:
    """Claim the run; None when this run key already finished (a second beat, a redelivery).

    Called with the day's lock held, so a run of this key still `running` lost its holder
    (crashed, or its lock expired): it is started again from the beginning, which is safe
    because every action it takes is idempotent.
    """
    key = run_key or f"{trigger}:{day.isoformat()}:{uuid.uuid4().hex[:12]}"
    for _ in range(3):
        try:
            with session_scope(ctx.db_url) as s:
                row = s.scalars(select(ReconcileRun).where(ReconcileRun.run_key == key)).one_or_none()
                if row is not None:
                    if row.status == "done":
                        return None
                    settlement_items.delete_run(s, row.id)
                    row.status, row.started_at, row.error, row.finished_at = "running", utcnow(), None, None
                    row.totals, row.counts, row.changes, row.exceptions = {}, {}, {}, 0
                    return RunHandle(row.id, row.day, row.number)
                number = (s.scalar(select(func.max(ReconcileRun.number)).where(
                    ReconcileRun.pair == ctx.pair, ReconcileRun.day == day)) or 0) + 1
                row = ReconcileRun(pair=ctx.pair, day=day, number=number, run_key=key, trigger=trigger,
                                   erp=ctx.erp_kind,
                                   status="running", started_at=utcnow(), totals={}, counts={}, changes={},
                                   exceptions=0)
                s.add(row)
                s.flush()
                return RunHandle(row.id, day, number)
        except IntegrityError:
            continue  # a concurrent claim won the key or the number: look again
    return None


class MalformedExport(ValueError):
    """PayTrace answered without a field reconciliation cannot do without: the run fails, loudly."""


def fetch_batches(ctx: ReconcileContext, run: RunHandle) -> None:
    """The day's settled batches (batches/export): their numbers [C], and whatever else PayTrace says
    of them, kept to hold against the totals derived from their transactions (match_transactions)."""
    batches = ctx.gateway.batches(run.day)
    unnumbered = [b for b in batches if str(b.get("number") or "").strip() == ""]
    if unnumbered:
        raise MalformedExport(f"batches/export for {run.day} answered {len(unnumbered)} batch(es) without a number: "
                              f"nothing can be reconciled until it does (keys seen: {sorted(unnumbered[0])})")
    totals = {str(b["number"]): {"paytrace": {k: (str(money(v)) if "amount" in k and v is not None else v)
                                              for k, v in b.items()}} for b in batches}
    update_run(ctx, run.id, totals=totals)


def match_transactions(ctx: ReconcileContext, run: RunHandle) -> None:
    """Stage every batch's records and the ERP's documents, then match them: the plain matches in one
    statement (flows/settlement_match.py), every other record through `classify`, a chunk at a time,
    repairing what is missing; each batch's totals are added up by the database."""
    st = run.staging
    totals = run_row(ctx, run.id).totals
    # Only a progress estimate: an account whose batch export says how many it holds shows a total.
    expected = sum(int(b["paytrace"].get("transaction_count") or 0) for b in totals.values())
    done = 0

    def counted(n: int) -> None:
        nonlocal done
        done += n
        run.progress(done, expected)
        run.renew()

    for number in sorted(totals, key=int):
        st.load_batch(int(number), counted)
    st.listed = st.load_listing(SALE_DOCUMENTS, run.day)
    match.summarize_documents(st)
    match.leave_unplain(st)
    match.gather_left_documents(st, ctx.erp.find_many, ctx.chunk_size)
    match.insert_plain_matches(st, run.id, match.matched_details(ctx.reference))
    run.renew()
    for rows, docs in match.left_rows(st, ctx.chunk_size):
        ledger = _ledger(ctx, [r.transaction_id for r in rows if r.transaction_id is not None])
        found = []
        for r in rows:
            if r.unreadable is not None:
                found.append((r, None, None))
                continue
            t = Settled(r.transaction_id, r.kind, match.money_of(r.cents), r.batch,
                        None if r.original_id is None else int(r.original_id), r.brand)
            found.append((r, t, classify(t, ledger.get(t.transaction_id), match.documents(t, docs.get(r.seq, [])),
                                         ctx.reference)))
        repaired = _repairs(ctx, run, [t for _, t, verdict in found if verdict and verdict.then == "repair"])
        items = []
        for r, t, verdict in found:
            if t is None:
                items.append(item(run.id, f"R{r.batch}:{r.seq}", STATUS, batch=r.batch, action=ACTIONS["review"],
                                  detail=r.unreadable))
                continue
            action = repaired.get(repair_key(t), NOT_STORED) if verdict.then == "repair" else ACTIONS[verdict.then]
            items.append(item(run.id, f"T{t.transaction_id}", verdict.item_class, batch=t.batch, txn=t,
                              expected=t.amount, found=verdict.found, action=action, detail=verdict.detail))
        write_items(ctx, items)
        run.renew()
    sums = match.batch_sums(st)
    for number, batch in totals.items():
        batch["items"] = sums.get(int(number), BatchSums()).as_dict()
    update_run(ctx, run.id, totals=totals)


def compare_with_previous(ctx: ReconcileContext, run: RunHandle) -> None:
    """What changed since the previous finished run of the same day, computed in the database."""
    with session_scope(ctx.db_url) as s:
        previous = s.scalars(select(ReconcileRun).where(
            ReconcileRun.pair == ctx.pair, ReconcileRun.day == run.day, ReconcileRun.number < run.number,
            ReconcileRun.status == "done")
            .order_by(ReconcileRun.number.desc()).limit(1)).one_or_none()
        current = s.get(ReconcileRun, run.id)
        posted = [b["settlement"]["reference"] for _, b in sorted(current.totals.items(), key=lambda kv: int(kv[0]))
                  if b.get("settlement", {}).get("status") == "posted"]
        changes: dict[str, Any] = {"previous_run": previous.number if previous else None,
                                   "transitions": [], "posted": posted}
        if previous is not None:
            # Both runs' items, plain matches (reconcile_match) included, held against each other by subject.
            dialect = s.get_bind().dialect.name
            cur, prev = (settlement_items.subjects_sql(dialect, name) for name in ("cur", "prev"))
            runs = {"cur": run.id, "prev": previous.id}
            moved = s.execute(text(
                f"SELECT p.item_class, c.item_class, COUNT(*), MIN(c.subject) FROM ({cur}) c "
                f"LEFT JOIN ({prev}) p ON p.subject = c.subject WHERE p.subject IS NULL OR p.item_class <> c.item_class "
                "GROUP BY p.item_class, c.item_class"), runs).all()
            gone = s.execute(text(
                f"SELECT p.item_class, COUNT(*), MIN(p.subject) FROM ({prev}) p "
                f"LEFT JOIN ({cur}) c ON c.subject = p.subject WHERE c.subject IS NULL GROUP BY p.item_class"),
                runs).all()
            changes["transitions"] = sorted(
                [{"from": a or "absent", "to": b, "count": n, "example": subject_reference(x)} for a, b, n, x in moved]
                + [{"from": a, "to": "absent", "count": n, "example": subject_reference(x)} for a, n, x in gone],
                key=lambda c: (c["from"], c["to"]))
        current.changes = changes


def file_exceptions(ctx: ReconcileContext, run: RunHandle) -> None:
    """Put every exception on the review list; close the day's items no longer found.

    The findings are staged on the run's connection and filed by a few set-based statements
    (`review.file_staged`, the rules of `file_findings` and `close_unseen`), in one transaction.
    """
    conn, last_id = run.staging.conn, 0
    columns = (ReconcileItem.id, ReconcileItem.item_class, ReconcileItem.subject, ReconcileItem.detail,
               ReconcileItem.action, ReconcileItem.batch_number, ReconcileItem.transaction_id,
               ReconcileItem.expected_amount, ReconcileItem.found_amount)
    review.stage(conn, (), fresh=True)
    while items := conn.execute(select(*columns).where(ReconcileItem.run_id == run.id, ReconcileItem.is_exception,
                                                       ReconcileItem.id > last_id)
                                .order_by(ReconcileItem.id).limit(1000)).all():
        last_id = items[-1].id
        review.stage(conn, ((i.id, review.Finding(
            kind=f"reconcile.{i.item_class}", reference=subject_reference(i.subject),
            reason=f"{i.detail}; done: {i.action}" if i.action else i.detail,
            context={"day": run.day.isoformat(), "run": run.number, "batch": i.batch_number,
                     "transaction_id": i.transaction_id, "expected": _text(i.expected_amount),
                     "found": _text(i.found_amount)})) for i in items))
    review.file_staged(conn, ctx.scope(f"reconcile:{run.day.isoformat()}"),
                       note=f"no longer found by reconcile run {run.number} of {run.day}")
    conn.commit()


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def finish_run(ctx: ReconcileContext, run: RunHandle) -> None:
    """Count the items by class, close the run, and raise the alert if exceptions remain open."""
    with session_scope(ctx.db_url) as s:
        counts = settlement_items.counts(s, run.id)
    exceptions = sum(n for cls, n in counts.items() if cls in EXCEPTIONS)
    open_items = review.open_count(ctx.db_url, ctx.scope(f"reconcile:{run.day.isoformat()}"))
    update_run(ctx, run.id, counts=counts, exceptions=exceptions, status="done", finished_at=utcnow())
    if open_items:
        alert_log.error("ALERT reconciliation of %s (run %d): %d exceptions, %d open on the review list: %s",
                        run.day, run.number, exceptions, open_items,
                        ", ".join(f"{cls} {n}" for cls, n in sorted(counts.items()) if cls in EXCEPTIONS),
                        extra={"alert": {"kind": "reconcile_exceptions", "pair": ctx.pair, "run_id": run.id,
                                         "day": run.day.isoformat(), "exceptions": exceptions, "open": open_items}})


def write_reports(ctx: ReconcileContext, run: RunHandle) -> None:
    csv_path, html_path = write_report_files(ctx.db_url, run.id, ctx.reports_dir)
    update_run(ctx, run.id, report_csv=str(csv_path), report_html=str(html_path))


STEPS = (fetch_batches, match_transactions, find_unsettled_receipts, check_batch_totals, post_settlements,
         compare_with_previous, file_exceptions, finish_run, write_reports)


def reconcile(ctx: ReconcileContext, day: date, *, trigger: str = "cli", run_key: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Reconcile `day` under its lock; `run_key` makes a scheduled run happen once however often sent."""
    with ctx.lock(ctx.scope(f"reconcile:{day.isoformat()}")) as guard:
        if not guard.held:
            log.info("reconciliation of %s is running elsewhere; standing down", day)
            return Outcome("busy")
        run = open_run(ctx, day, trigger, run_key)
        if run is None:
            log.info("reconciliation %s already done; standing down", run_key)
            return Outcome("already")
        run.renew = guard.renew
        run.progress = progress or run.progress
        run.staging = Staging(ctx)
        try:
            for step in STEPS:
                step(ctx, run)
        except BaseException as exc:
            update_run(ctx, run.id, status="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        finally:
            run.staging.close()
        return Outcome("done", run.id)
