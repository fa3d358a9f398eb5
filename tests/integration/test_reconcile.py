"""Nightly reconciliation over the sandboxes, real PostgreSQL and Redis, and a real worker for repairs.

Given a day on the PayTrace sandbox with known discrepancies, when the day is reconciled, then
every one is found, the missing posting is repaired through the normal sync, the settlement
journal of each batch is posted once however often the day runs, and the reports say so.
"""
from __future__ import annotations

import csv
import logging
import random
import threading
import time
from datetime import date
from decimal import Decimal

import requests
from sqlalchemy import func, select

from cli.traffic import make_sale
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from db.models import ReviewItem
from db.reconcile_models import ReconcileItem, ReconcileRun, SettlementPosting
from db.session import session_scope
from flows import settlement, settlement_items
from tests.inprocess import poll_record
from tests.conftest import dump_logs
from tests.integration.erp_checks import wait_for_runs
from workers.context import build_context, reconcile_context

SAGE50_KEY = "demo-key"


# -- helpers: make a day on the sandboxes ----------------------------------------------------
def paytrace() -> PayTraceClient:
    return PayTraceClient(get_settings().paytrace)


def sync_now(transaction_ids) -> None:
    """Sync sales in this process, as a worker would (no worker needed for the good ones)."""
    ctx = build_context(get_settings())
    for txn_id in transaction_ids:
        poll_record(ctx, ctx.gateway.transaction(txn_id))


def settle(client: PayTraceClient) -> int:
    return int(client.call("transactions/settle", {})["batch_number"])


def paytrace_day(stack) -> date:
    pacific = requests.get(f"{stack.paytrace.url}/_sandbox/clock", timeout=5).json()["pacific"]
    month, day, year = pacific.split()[0].split("/")
    return date(int(year), int(month), int(day))


def sage50(stack, method: str, path: str, body: dict | None = None) -> dict:
    response = requests.request(method, f"{stack.sage50.url}{path}", json=body, timeout=5,
                                headers={"Authorization": f"Bearer {SAGE50_KEY}"})
    assert response.status_code < 300, response.text
    return response.json()


def receipt_in_sage50(stack, txn_id: int, amount: str, day: date, customer: str) -> None:
    """A customer, invoice and receipt carrying our references, keyed straight into Sage 50."""
    sage50(stack, "POST", "/v1/customers", {"ID": customer, "Name": f"Typed in by hand {customer}"})
    invoice = sage50(stack, "POST", "/v1/invoices", {
        "CustomerID": customer, "ReferenceNumber": f"PT{txn_id}-INV", "Date": day.isoformat(),
        "Lines": [{"ItemID": "PAYMENT", "Quantity": "1", "UnitPrice": amount}]})
    sage50(stack, "POST", "/v1/payments", {
        "CustomerID": customer, "ReferenceNumber": f"PT{txn_id}-RCP", "Date": day.isoformat(),
        "AccountReference": "1200", "PaymentMethod": "Credit Card",
        "ApplyToInvoiceLines": [{"InvoiceReference": invoice["Key"], "AmountPaid": amount}]})


def run_day(day: date, **kw) -> ReconcileRun:
    settings = get_settings()
    ctx = reconcile_context(settings)
    outcome = settlement.reconcile(ctx, day, **kw)
    assert outcome.status == "done", outcome
    with session_scope(settings.database_url) as s:
        return s.get(ReconcileRun, outcome.run_id)


def items(run: ReconcileRun) -> dict[str, settlement_items.Item]:
    """Every item of the run, its plain matches (reconcile_match) included."""
    with session_scope(get_settings().database_url) as s:
        return {i.subject: i for i in settlement_items.run_items(s, run.id)}


def settlement_journals(stack) -> list[dict]:
    return [j for j in stack.erp_state()["journal_entries"] if j["ReferenceNumber"].endswith("-SET")]


# -- the tests -------------------------------------------------------------------------------
def test_a_day_with_known_discrepancies_is_found_repaired_and_posted_once(stack_factory, caplog):
    # given paysync with one worker, and a day on PayTrace: four sales synced, one sale that never
    # synced, one whose receipt was keyed into Sage 50 by hand with the wrong amount, a declined
    # sale, then a batch close, a refund of the first sale and a second batch close
    stack = stack_factory()
    stack.start_worker("w1", concurrency=2)
    client = paytrace()
    rng = random.Random(5)
    good = [make_sale(client, i, rng) for i in range(4)]
    missing = make_sale(client, 4, rng)
    wrong = make_sale(client, 5, rng)
    declined = make_sale(client, 6, rng, decline=True)
    assert declined.declined
    sync_now([s.transaction_id for s in good])
    day = paytrace_day(stack)
    receipt_in_sage50(stack, wrong.transaction_id, str(wrong.amount + Decimal("1.00")), day, "BYHAND1")
    # and a receipt in Sage 50 for a transaction PayTrace never had
    unknown_id = 987654321
    receipt_in_sage50(stack, unknown_id, "42.00", day, "BYHAND2")
    first_batch = settle(client)
    refund_id = int(client.call("transactions/refund/for_transaction",
                                {"transaction_id": good[0].transaction_id, "amount": "1.00"})["transaction_id"])
    second_batch = settle(client)

    # when the day is reconciled
    caplog.set_level(logging.ERROR, logger="paysync.alert")
    run1 = run_day(day, trigger="cli")

    # then each discrepancy is found, in its class, and nothing else is
    found = items(run1)
    for sale in good:
        assert found[f"T{sale.transaction_id}"].item_class == "matched", found[f"T{sale.transaction_id}"].detail
    assert found[f"T{missing.transaction_id}"].item_class == "missing_in_erp"
    assert "repair: sync sent" in found[f"T{missing.transaction_id}"].action
    wrong_item = found[f"T{wrong.transaction_id}"]
    assert wrong_item.item_class == "amount_mismatch"
    assert (wrong_item.expected_amount, wrong_item.found_amount) == (wrong.amount, wrong.amount + 1)
    assert found[f"T{unknown_id}"].item_class == "unknown_to_paytrace"
    assert found[f"T{refund_id}"].item_class == "refund" and found[f"T{refund_id}"].batch_number == second_batch
    assert f"T{declined.transaction_id}" not in found
    assert run1.exceptions == 4 and run1.counts == {"matched": 4, "missing_in_erp": 1, "amount_mismatch": 1,
                                                    "unknown_to_paytrace": 1, "refund": 1}
    # and both batches' totals add up and their settlement journals are posted: Dr bank, Cr clearing
    # (PayTrace's batch export gives no totals: they are derived from the batch's transactions)
    assert set(run1.totals[str(first_batch)]["paytrace"]) == {"number", "created"}
    assert all(b["items"]["unreadable"] == 0 for b in run1.totals.values())
    journals = {j["ReferenceNumber"]: j for j in settlement_journals(stack)}
    assert set(journals) == {f"PTB{first_batch}-SET", f"PTB{second_batch}-SET"}
    first_net = sum(s.amount for s in (*good, missing, wrong))
    lines = {l["AccountID"]: Decimal(l["Amount"]) for l in journals[f"PTB{first_batch}-SET"]["Lines"]}
    assert lines == {"1020": first_net, "1205": -first_net}
    lines = {l["AccountID"]: Decimal(l["Amount"]) for l in journals[f"PTB{second_batch}-SET"]["Lines"]}
    assert lines == {"1020": Decimal("-1.00"), "1205": Decimal("1.00")}
    # and the exceptions are on the review list, and the alert was raised
    with session_scope(stack.database_url) as s:
        open_items = {r.reference: r.kind for r in s.scalars(select(ReviewItem).where(ReviewItem.status == "open"))}
    assert open_items == {f"PT{missing.transaction_id}": "reconcile.missing_in_erp",
                          f"PT{wrong.transaction_id}": "reconcile.amount_mismatch",
                          f"PT{unknown_id}": "reconcile.unknown_to_paytrace", f"PT{refund_id}": "reconcile.refund"}
    assert any("ALERT reconciliation" in r.getMessage() for r in caplog.records)

    # and the reports: a CSV row per exception, an HTML page with every exception and the batch totals
    with open(run1.report_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    exception_rows = [r for r in rows if r["record"] == "exception"]
    assert sorted(r["reference"] for r in exception_rows) == sorted(open_items)
    assert {r["reference"] for r in rows if r["record"] == "batch"} == {f"PTB{first_batch}", f"PTB{second_batch}"}
    html = open(run1.report_html, encoding="utf-8").read()
    for ref in open_items:
        assert ref in html
    assert f"{first_net:.2f}" in html and "PTB%d-SET" % second_batch in html
    assert "<link" not in html and "<script" not in html  # self-contained

    # when the repair's sync has run and the day is reconciled again
    done = wait_for_runs(stack.database_url, [missing.transaction_id], timeout=60, statuses=("succeeded",))
    assert done == 1, dump_logs(stack)
    run2 = run_day(day, trigger="cli")

    # then the missing sale is matched, the change is reported, and nothing was posted again
    assert items(run2)[f"T{missing.transaction_id}"].item_class == "matched"
    assert run2.changes["transitions"] == [{"from": "missing_in_erp", "to": "matched", "count": 1,
                                            "example": f"PT{missing.transaction_id}"}]
    assert run2.changes["posted"] == [] and len(settlement_journals(stack)) == 2
    assert run2.report_csv.endswith(f"reconcile-{day}-run2.csv")
    with session_scope(stack.database_url) as s:
        repaired = s.scalars(select(ReviewItem).where(ReviewItem.reference == f"PT{missing.transaction_id}")).one()
        assert repaired.status == "resolved" and repaired.resolved_by == "paysync"

    # when a person resolves the refund on the review list
    from click.testing import CliRunner

    from cli.main import main as paysync

    listed = CliRunner().invoke(paysync, ["review", "list", "--kind", "reconcile."], terminal_width=200)
    assert listed.exit_code == 0 and f"PT{refund_id}" in listed.output, listed.output
    with session_scope(stack.database_url) as s:
        refund_item = s.scalars(select(ReviewItem.id).where(ReviewItem.reference == f"PT{refund_id}")).one()
    resolved = CliRunner().invoke(paysync, ["review", "resolve", str(refund_item), "--note", "credit memo CM-1",
                                            "--who", "finance"])
    assert resolved.exit_code == 0, resolved.output

    # and `paysync reconcile` runs the day a third time, then it reports no changes and posts nothing
    shown = CliRunner().invoke(paysync, ["reconcile", "--date", day.isoformat()], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "no changes since run 2" in shown.output and "3 exceptions" in shown.output
    with session_scope(stack.database_url) as s:
        run3 = s.scalars(select(ReconcileRun).where(ReconcileRun.number == 3)).one()
        still = s.get(ReviewItem, refund_item)
    assert run3.changes == {"previous_run": 2, "transitions": [], "posted": []}
    assert len(settlement_journals(stack)) == 2 and run3.exceptions == 3
    assert (still.status, still.resolved_by, still.note) == ("resolved", "finance", "credit memo CM-1")

    # and the beat's task, run by the worker, records its own run once and posts nothing either
    from config.celery import celery_app

    for _ in range(2):
        celery_app.send_task("paysync.reconcile_day", args=[day.isoformat()], queue="reconcile")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope(stack.database_url) as s:
            scheduled = s.scalars(select(ReconcileRun).where(ReconcileRun.run_key == f"beat:{day}")).all()
        if scheduled and scheduled[0].status == "done":
            break
        time.sleep(0.3)
    time.sleep(1)  # the second message is consumed and stands down
    with session_scope(stack.database_url) as s:
        scheduled = s.scalars(select(ReconcileRun).where(ReconcileRun.run_key == f"beat:{day}")).all()
        total_runs = s.scalar(select(func.count()).select_from(ReconcileRun))
    assert [r.status for r in scheduled] == ["done"], dump_logs(stack)
    assert total_runs == 4 and len(settlement_journals(stack)) == 2


def test_a_clean_day_has_no_exceptions_and_two_concurrent_scheduled_runs_make_one(stack_factory):
    # given a day whose sales all synced and settled into one batch
    stack = stack_factory()
    client = paytrace()
    rng = random.Random(9)
    sales = [make_sale(client, i, rng) for i in range(6)]
    sync_now([s.transaction_id for s in sales])
    batch = settle(client)
    day = paytrace_day(stack)

    # and a scheduled run of it whose process died half way (its lock expired with it)
    with session_scope(stack.database_url) as s:
        crashed = ReconcileRun(day=day, number=1, run_key=f"beat:{day}", trigger="beat", erp="sage50",
                               status="running", totals={}, counts={}, changes={}, exceptions=0)
        s.add(crashed)
        s.flush()
        s.add(ReconcileItem(run_id=crashed.id, subject="T1", item_class="matched", is_exception=False, action="",
                            detail="left by the crashed run"))
        crashed_id = crashed.id

    # when two scheduled executions for the day start at the same moment (two beats, one tick)
    from workers.tasks import run_reconcile

    barrier, results, errors = threading.Barrier(2), [], []

    def beat_tick():
        barrier.wait()
        try:
            results.append(run_reconcile(get_settings(), day.isoformat(), trigger="beat"))
        except Exception as exc:  # reported below, with the other thread's outcome
            errors.append(exc)

    threads = [threading.Thread(target=beat_tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then one run is recorded, with no false positive, and one settlement journal
    assert not errors, errors
    with session_scope(stack.database_url) as s:
        runs = s.scalars(select(ReconcileRun)).all()
        postings = s.scalar(select(func.count()).select_from(SettlementPosting))
    # (the crashed run was taken over and started afresh, not duplicated)
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].id == crashed_id
    assert sorted(results, key=str) == sorted([runs[0].id, None], key=str)
    assert runs[0].exceptions == 0 and runs[0].counts == {"matched": 6}
    assert postings == 1 and [j["ReferenceNumber"] for j in settlement_journals(stack)] == [f"PTB{batch}-SET"]

    # when the tick is delivered again later, it stands down; a manual re-run posts nothing
    assert run_reconcile(get_settings(), day.isoformat(), trigger="beat") is None
    again = run_day(day, trigger="cli")
    assert again.number == 2 and again.exceptions == 0
    assert again.changes == {"previous_run": 1, "transitions": [], "posted": []}
    assert len(settlement_journals(stack)) == 1
    with session_scope(stack.database_url) as s:
        assert s.scalar(select(func.count()).select_from(ReviewItem)) == 0

    # when a sale synced after the batch closed, and the ERP cannot list its receipts by date
    late = make_sale(client, 7, rng)
    sync_now([late.transaction_id])
    ctx = reconcile_context(get_settings())

    def cannot_list(kind, the_day):
        raise NotImplementedError("no listing by date")

    ctx.erp.list_documents = cannot_list
    outcome = settlement.reconcile(ctx, day, trigger="cli")

    # then our own runs of the day are checked instead: the late receipt settles later, no exception
    with session_scope(stack.database_url) as s:
        third = s.get(ReconcileRun, outcome.run_id)
    assert items(third)[f"T{late.transaction_id}"].item_class == "settles_later"
    assert third.exceptions == 0 and third.counts == {"matched": 6, "settles_later": 1}
