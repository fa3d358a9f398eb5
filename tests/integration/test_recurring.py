"""Recurring billing against the PayTrace sandbox, each ready ERP sandbox and PostgreSQL, over real sockets.

The promise under test: an invoice due for a customer with a stored profile is charged on its due
date, once, whatever happens between PayTrace's answer and our commit (a SIGKILL, a timeout, two
runs at once); a decline marks the invoice for dunning and is retried on its day.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from cli.traffic import TEST_CARDS
from connectors.base import ErpConnector
from db.migrate import upgrade
from db.models import CustomerLink, InboxEvent, RecurringCharge, ReviewItem
from db.session import session_scope
from db.types import utcnow
from flows.ledger import HOST
from connectors.errors import ChargeInDoubt
from flows.recurring import run_recurring
from flows.recurring_plan import Claim
from sandbox.paytrace import PayTraceSandbox
from schemas.domain import Address, Customer, InvoiceInfo, OrderLine, Payment, SalesOrder
from schemas.mapping import Recurring
from tests.contract.erps import ERPS
from tests.integration.recurring_child import recurring_context

ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.now(ZoneInfo("America/Los_Angeles")).date()  # the sandbox's (Pacific) day and ours
RECURRING = Recurring(enabled=True, retry_days=(3, 7), dunning_status="Dunning", max_age_days=30)
DECLINES = Decimal("1.12")  # the PayTrace sandbox declines this amount ("Do not honor")
#: What an ERP connector must have for recurring billing.
NEEDED = ("open_invoices", "invoice_info", "find_invoices", "set_status", "status_of")


def _ref(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _erp_env(name: str, connector) -> dict[str, str]:
    """Settings that reach the ERP sandbox the contract fixture started."""
    config = connector.config
    return {"sage50": {"PAYSYNC_ERP": "sage50", "SAGE50_BASE_URL": getattr(config, "base_url", ""),
                       "SAGE50_API_KEY": "k"},
            "sage_pro": {"PAYSYNC_ERP": "sage_pro", "SAGEPRO_DATABASE_URL": getattr(config, "database_url", ""),
                         "SAGEPRO_COMPANY": "01", "SAGEPRO_LOCK_TIMEOUT": "0.5"},
            "sage_x3": {"PAYSYNC_ERP": "sage_x3", "SAGEX3_BASE_URL": getattr(config, "base_url", ""),
                        "SAGEX3_USERNAME": "paysync", "SAGEX3_PASSWORD": "x3-secret"}}[name]


@dataclass
class World:
    """PayTrace and one ERP sandbox, a ledger database, and the context the flow runs with."""

    erp: object  # tests.contract.erps.ErpUnderTest
    paytrace: PayTraceSandbox
    env: dict[str, str]
    db_url: str
    client: object  # a PayTraceClient, for what the tests set up on PayTrace

    def context(self, **env: str):
        return recurring_context({**self.env, **env}, RECURRING)

    def customer_with_profile(self, *, link: bool = True) -> tuple[str, str]:
        """An ERP customer and a PayTrace vault profile (a public test card), linked if asked."""
        name = f"Ada {_ref('L')}"
        address = Address(name, "1 Main St", "", "Spokane", "WA", "99201", "US")
        cid = self.erp.connector.upsert_customer(Customer(_ref("C"), name, "ada@example.com", "555-0100", address))
        profile = _ref("P")
        self.client.call("customer/create", {
            "customer_id": profile, "credit_card": {"number": TEST_CARDS[0], "expiration_month": 12,
                                                    "expiration_year": 2030},
            "billing_address": {"name": name, "street_address": "1 Main St", "zip": "99201"}})
        if link:
            with session_scope(self.db_url) as s:
                s.add(CustomerLink(pair="default", erp=self.erp.name, paytrace_customer_id=profile,
                                   erp_customer_id=cid, status="linked"))
        return cid, profile

    def invoice(self, cid: str, amount: str, due: date) -> InvoiceInfo:
        """An invoice as the ERP's own users write them: their number, a due date."""
        doc = self.erp.connector.ensure_invoice(SalesOrder(
            _ref("N"), cid, due - timedelta(days=30), (OrderLine(self.erp.item, Decimal("1"), Decimal(amount)),),
            due_date=due))
        return self.erp.connector.invoice_info(doc.key)

    def sales(self, invoice: InvoiceInfo) -> list[dict]:
        """Every PayTrace transaction carrying the invoice's id, as the sandbox holds them."""
        return [t for t in self.paytrace.state.snapshot()["transactions"] if t["invoice_id"] == invoice.reference]

    def rows(self, invoice: InvoiceInfo) -> list[RecurringCharge]:
        with session_scope(self.db_url) as s:
            return list(s.scalars(select(RecurringCharge).where(RecurringCharge.invoice_key == invoice.key)
                                  .order_by(RecurringCharge.attempt)))

    def paytrace_faults(self, **faults) -> None:
        requests.post(f"{self.paytrace.url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()


@pytest.fixture(params=sorted(ERPS))
def world(request, pg_url, tmp_path):
    with ERPS[request.param]() as erp:
        missing = [m for m in NEEDED if getattr(type(erp.connector), m) is getattr(ErpConnector, m)]
        if missing:
            pytest.skip(f"{request.param} connector not ready for recurring billing: no {', '.join(missing)}")
        upgrade(pg_url)
        with PayTraceSandbox() as paytrace:
            env = {"PAYSYNC_ENV": "test", "DATABASE_URL": pg_url, "PAYSYNC_HOME": str(tmp_path),
                   "PAYTRACE_BASE_URL": paytrace.url,
                   "HTTP_RETRIES": "0", **_erp_env(request.param, erp.connector)}
            setup = recurring_context(env, RECURRING)
            yield World(erp, paytrace, env, pg_url, setup.gateway.client)
            setup.erp.close()
            setup.gateway.client.close()


def test_a_due_invoice_of_a_linked_customer_is_charged_once_and_nothing_else_is(world):
    # given a linked customer with one invoice due today, one due tomorrow and one long overdue,
    # and a customer with a profile but no link, whose invoice is due today
    cid, profile = world.customer_with_profile()
    due = world.invoice(cid, "25.00", TODAY)
    later = world.invoice(cid, "30.00", TODAY + timedelta(days=1))
    stale = world.invoice(cid, "35.00", TODAY - timedelta(days=RECURRING.max_age_days + 1))
    other, _ = world.customer_with_profile(link=False)
    unlinked = world.invoice(other, "40.00", TODAY)
    sent: list[int] = []

    # when the day's run runs, then again
    first = run_recurring(world.context(), TODAY, enqueue=sent.append)
    second = run_recurring(world.context(), TODAY, enqueue=sent.append)

    # then the due invoice was charged once, to the profile, for what is due, and handed to the chain once
    assert first.counts["charged"] == 1 and second.counts["charged"] == 0
    [sale] = world.sales(due)
    assert (sale["transaction_type"], Decimal(str(sale["amount"])), sale["customer_id"]) == \
        ("SALE", Decimal("25.00"), profile)
    [row] = world.rows(due)
    assert (row.status, row.attempt, row.transaction_id, row.amount) == ("charged", 1, sale["transaction_id"],
                                                                         Decimal("25.00"))
    assert any(l.invoice_key == due.key and "already charged" in l.detail for l in second.lines)
    with session_scope(world.db_url) as s:
        [event] = s.scalars(select(InboxEvent).where(InboxEvent.source == "recurring")).all()
    assert sent == [event.id] and (event.transaction_id, event.event_type) == (sale["transaction_id"], "recurring.sale")
    # and nothing else was charged: not yet due, too old to charge unasked, or not linked
    for untouched in (later, stale, unlinked):
        assert world.sales(untouched) == [] and world.rows(untouched) == []
    assert any(l.invoice_key == stale.key and "left to a person" in l.detail for l in first.lines)


def test_a_decline_sets_dunning_and_the_retry_on_its_day_charges_again(world):
    # given an invoice whose charge PayTrace declines
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, str(DECLINES), TODAY)

    # when it falls due
    report = run_recurring(world.context(), TODAY)

    # then the decline is recorded, the ERP shows the dunning status, and a retry is scheduled
    assert report.counts["declined"] == 1
    [row] = world.rows(invoice)
    assert (row.status, row.next_attempt_on) == ("declined", TODAY + timedelta(days=RECURRING.retry_days[0]))
    assert world.erp.connector.status_of("invoice", invoice.key) == "Dunning"
    assert world.erp.connector.invoice_info(invoice.key).status == "Dunning"

    # when the next day's run comes, nothing is charged: the retry is not due yet
    assert run_recurring(world.context(), TODAY + timedelta(days=1)).counts["charged"] == 0
    # and when the customer has paid a little by other means and the retry day comes
    world.erp.connector.ensure_payment(Payment(_ref("R"), cid, TODAY, Decimal("0.02"), invoice.key,
                                               world.erp.cash_account, "Check"))
    retry = run_recurring(world.context(), row.next_attempt_on)

    # then attempt 2 charges what is due now, approved
    assert (retry.counts["charged"], retry.counts["retried"]) == (1, 1)
    rows = world.rows(invoice)
    assert [(r.attempt, r.status, r.amount) for r in rows] == [(1, "declined", DECLINES),
                                                              (2, "charged", Decimal("1.10"))]
    assert sorted(t["transaction_type"] for t in world.sales(invoice)) == ["DECLINED", "SALE"]


def test_retries_exhausted_leave_the_invoice_in_dunning_with_one_review_item(world):
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, "0.21", TODAY)  # "Insufficient funds", every time
    day = TODAY
    for _ in range(1 + len(RECURRING.retry_days)):
        assert run_recurring(world.context(), day).counts["declined"] == 1
        day = world.rows(invoice)[-1].next_attempt_on or day
    later = run_recurring(world.context(), TODAY + timedelta(days=25))

    assert later.counts["declined"] == later.counts["charged"] == 0
    assert [r.next_attempt_on for r in world.rows(invoice)][-1] is None
    assert len(world.sales(invoice)) == 3
    with session_scope(world.db_url) as s:
        items = s.scalars(select(ReviewItem).where(ReviewItem.kind == "recurring_declined")).all()
    assert len(items) == 1 and invoice.key in items[0].reference
    assert world.erp.connector.status_of("invoice", invoice.key) == "Dunning"


def test_a_crash_between_paytraces_charge_and_our_commit_never_leads_to_a_second_charge(world):
    # given a run in its own process, SIGKILLed the moment PayTrace has answered the charge
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, "42.00", TODAY)
    spec = {"env": world.env, "day": TODAY.isoformat(),
            "recurring": {"enabled": True, "retry_days": list(RECURRING.retry_days),
                          "dunning_status": RECURRING.dunning_status, "max_age_days": RECURRING.max_age_days}}
    child = subprocess.run([sys.executable, "-m", "tests.integration.recurring_child", json.dumps(spec)], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr[-3000:]
    # PayTrace charged; our row still says "charging", its answer never recorded
    [charged] = world.sales(invoice)
    [row] = world.rows(invoice)
    assert (row.status, row.transaction_id) == ("charging", None)

    # when the next run comes
    report = run_recurring(world.context(), TODAY)

    # then it finds the charge by invoice id, records it, and charges nothing
    assert (report.counts["resolved_after_doubt"], report.counts["charged"]) == (1, 0)
    [row] = world.rows(invoice)
    assert (row.status, row.transaction_id) == ("charged", charged["transaction_id"])
    assert run_recurring(world.context(), TODAY, quiet_seconds=0).counts["charged"] == 0
    assert len(world.sales(invoice)) == 1


def test_a_charge_that_timed_out_is_found_by_invoice_id_and_never_made_again(world):
    # given PayTrace answering slower than our timeout (it still makes the sale, later)
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, "57.00", TODAY)
    impatient = world.context(PAYTRACE_TIMEOUT="0.5")
    world.paytrace_faults(latency_ms=4000)
    try:
        # when the charge times out, the run stops with a retriable error and the row stays in doubt
        with pytest.raises(ChargeInDoubt):
            run_recurring(impatient, TODAY)
    finally:
        world.paytrace_faults(latency_ms=0)
    [row] = world.rows(invoice)
    assert row.status == "charging" and "timed out" in json.loads(row.response)["doubt"]

    # when a run comes before PayTrace shows the sale: nothing is charged, the doubt is kept
    early = run_recurring(world.context(), TODAY)
    assert (early.counts["in_doubt"], early.counts["charged"]) == (1, 0)
    with pytest.raises(ChargeInDoubt):
        early.raise_if_in_doubt()

    # and once PayTrace shows it, the next run records that sale and charges nothing
    deadline = time.monotonic() + 15
    while not world.sales(invoice) and time.monotonic() < deadline:
        time.sleep(0.2)
    later = run_recurring(world.context(), TODAY)
    assert (later.counts["resolved_after_doubt"], later.counts["charged"]) == (1, 0)
    [sale] = world.sales(invoice)
    [row] = world.rows(invoice)
    assert (row.status, row.transaction_id) == ("charged", sale["transaction_id"])


def test_a_charge_that_never_reached_paytrace_is_made_under_the_same_row_only_after_the_quiet_time(world):
    # given a row left "charging" by a run that died before PayTrace heard of it
    cid, profile = world.customer_with_profile()
    invoice = world.invoice(cid, "61.00", TODAY)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    with session_scope(world.db_url) as s:
        s.add(RecurringCharge(pair="default", erp=world.erp.name, invoice_key=invoice.key,
                              invoice_reference=invoice.reference, erp_customer_id=cid, paytrace_customer_id=profile,
                              amount=Decimal("61.00"), due_date=TODAY, attempt=1, status="charging",
                              response=Claim(f"{HOST}:{dead}", utcnow(), utcnow()).text()))

    # when a run comes soon after: PayTrace shows nothing yet, and silence is not yet believed
    soon = run_recurring(world.context(), TODAY)
    assert (soon.counts["in_doubt"], soon.counts["charged"]) == (1, 0) and world.sales(invoice) == []

    # when a run comes after the quiet time and PayTrace still shows nothing
    late = run_recurring(world.context(), TODAY, quiet_seconds=0)

    # then the invoice is charged once, under the same attempt
    assert late.counts["charged"] == 1
    [sale] = world.sales(invoice)
    assert [(r.attempt, r.status, r.transaction_id) for r in world.rows(invoice)] == \
        [(1, "charged", sale["transaction_id"])]


def test_two_runs_racing_on_one_invoice_charge_it_once(world):
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, "73.00", TODAY)
    contexts = [world.context(), world.context()]
    world.paytrace_faults(latency_ms=300)  # a slow PayTrace widens the window the two runs race in
    start = threading.Barrier(2)
    reports = []

    def run(ctx):
        start.wait()
        reports.append(run_recurring(ctx, TODAY))

    threads = [threading.Thread(target=run, args=(ctx,)) for ctx in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    world.paytrace_faults(latency_ms=0)

    assert len(reports) == 2 and sum(r.counts["charged"] for r in reports) == 1
    [lost] = [r for r in reports if not r.counts["charged"]]
    detail = [l.detail for l in lost.lines if l.invoice_key == invoice.key][0]
    # the other run's claimer is this process, in whichever thread ran it (host:pid:thread)
    assert detail == "another run claimed this attempt" or \
        detail.startswith(f"being charged right now by {HOST}:{os.getpid()}:"), detail
    assert len(world.sales(invoice)) == 1
    assert [(r.attempt, r.status) for r in world.rows(invoice)] == [(1, "charged")]


def test_nothing_is_charged_when_recurring_billing_is_off(world):
    cid, _ = world.customer_with_profile()
    invoice = world.invoice(cid, "11.00", TODAY)
    ctx = world.context()
    ctx.mapping = replace(ctx.mapping, recurring=Recurring())  # the shipped default: off
    report = run_recurring(ctx, TODAY)
    assert not report.enabled and "off" in report.note
    assert world.sales(invoice) == [] and world.rows(invoice) == []


# -- the whole way: beat's task on a real worker, the charge through the normal chain into the ERP ------
def _mappings_with_recurring(folder: Path) -> Path:
    """The shipped mapping files with recurring billing switched on, as a merchant would."""
    folder.mkdir()
    for source in (ROOT / "config" / "mappings").glob("*.yaml"):
        text = source.read_text()
        assert text.count("recurring:\n  enabled: false") == 1, source
        (folder / source.name).write_text(text.replace("recurring:\n  enabled: false", "recurring:\n  enabled: true"))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("erp", sorted(ERPS))
def test_the_daily_task_charges_a_due_invoice_and_the_payment_is_applied_to_that_invoice(stack_factory, tmp_path,
                                                                                         erp):
    from click.testing import CliRunner

    from cli.main import main as paysync
    from config.celery import celery_app
    from config.settings import get_settings
    from db.models import SyncRun
    from tests.conftest import dump_logs
    from workers.context import build_context

    stack = stack_factory(erp, PAYSYNC_MAPPINGS=str(_mappings_with_recurring(tmp_path / "mappings")))
    ctx = build_context(get_settings())
    assert ctx.mapping.recurring.enabled
    name = f"Grace {_ref('H')}"
    cid = ctx.erp.upsert_customer(Customer(_ref("C"), name, "grace@example.com", "555-0101",
                                           Address(name, "7 Pine Rd", "", "Tacoma", "WA", "98402", "US")))
    profile = _ref("P")
    ctx.gateway.client.call("customer/create", {
        "customer_id": profile,
        "credit_card": {"number": TEST_CARDS[1], "expiration_month": 11, "expiration_year": 2031},
        "billing_address": {"name": name, "zip": "98402"}})
    with session_scope(stack.database_url) as s:
        s.add(CustomerLink(pair="default", erp=erp, paytrace_customer_id=profile, erp_customer_id=cid,
                           status="linked"))
    doc = ctx.erp.ensure_invoice(SalesOrder(_ref("N"), cid, TODAY - timedelta(days=30),
                                            (OrderLine("PAYMENT", Decimal("1"), Decimal("88.40")),), due_date=TODAY))
    stack.start_worker("w1", concurrency=2)

    # when beat's task runs (twice: a second beat, a redelivery)
    for _ in range(2):
        celery_app.send_task("paysync.run_recurring", args=[TODAY.isoformat()], queue="reconcile")

    # then the invoice is charged once, and the payment flows back to that very invoice
    deadline = time.monotonic() + 90
    while ctx.erp.invoice_info(doc.key).open_amount != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ctx.erp.invoice_info(doc.key).open_amount == 0, dump_logs(stack)
    time.sleep(2)  # the second message has had its turn
    sales = [t for t in stack.paytrace.app.config["PAYTRACE_STATE"].snapshot()["transactions"]
             if t["invoice_id"] == doc.reference]
    assert [(t["transaction_type"], Decimal(str(t["amount"]))) for t in sales] == [("SALE", Decimal("88.40"))]
    with session_scope(stack.database_url) as s:
        [row] = s.scalars(select(RecurringCharge).where(RecurringCharge.invoice_key == doc.key)).all()
        [run] = s.scalars(select(SyncRun).where(SyncRun.transaction_id == sales[0]["transaction_id"])).all()
    assert (row.status, row.transaction_id) == ("charged", sales[0]["transaction_id"])
    assert run.status == "succeeded", dump_logs(stack)

    # and the command line shows a re-run charging nothing
    shown = CliRunner().invoke(paysync, ["recurring", "run", "--date", TODAY.isoformat()], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"nothing due on or before {TODAY}" in shown.output and "nothing done" in shown.output
    assert len([t for t in stack.paytrace.app.config["PAYTRACE_STATE"].snapshot()["transactions"]
                if t["invoice_id"] == doc.reference]) == 1
