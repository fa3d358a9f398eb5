"""A document written after one the same attempt just created skips its lookup, and is still never written twice.

The proof a lookup may be skipped is the ERP's own answer within one attempt of one stage (the
document before it was not there), never our ledger: a database restored from an older backup,
from one taken between two stages of a run, or a write whose answer was lost, must still end with
one document per reference in the ERP.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace

import pytest
import requests

from connectors.errors import RetriableError
from db.inbox import store_event
from db.migrate import upgrade
from flows import intake, runs
from flows.kinds import KINDS as RUN_KINDS
from sandbox.summary import summarize
from tests.flows.conftest import make_world
from tests.flows.erp_state import erp_state
from tests.inprocess import poll_record

KINDS = ("sales_orders", "invoices", "payments", "journals", "credit_memos", "refunds")


def references(world) -> Counter:
    """How many documents of each kind carry each of paysync's references (PT...)."""
    state = summarize(world.erp.name, erp_state(world))
    return Counter((kind, doc["reference"]) for kind in KINDS for doc in state.get(kind, [])
                   if doc["reference"].startswith("PT"))


def test_a_new_customers_sale_looks_up_only_what_may_exist(world_factory):
    # Given the Sage 50 bridge, counting the requests it answers by route
    w = world_factory("sage50")
    txn = w.sale("25.00", name="Grace Hopper")
    stats = f"{w.erp.connector.config.base_url}/_sandbox/stats"
    before = requests.get(stats, timeout=5).json()["requests"]
    # When the sale syncs
    poll_record(w.ctx, w.record(txn))
    after = requests.get(stats, timeout=5).json()["requests"]
    asked = {route: sum(codes.values()) - sum(before.get(route, {}).values()) for route, codes in after.items()}
    asked = {route: n for route, n in asked.items() if n}
    # Then the invoice is not looked up (its stage just created the sales order it follows, in an ERP
    # that held none), while the customer, the sales order and the later stages' receipt and journal
    # are (a database restored between stages may not know what the ERP holds); each is written once
    lookups = {route: n for route, n in asked.items() if route.startswith("GET")}
    assert sum(n for r, n in lookups.items() if r.startswith("GET /v1/invoices")) == 1, asked  # the matching
    assert sum(n for r, n in lookups.items() if r.startswith("GET /v1/sales_orders")) == 1, asked
    assert sum(n for r, n in lookups.items() if r.startswith("GET /v1/payments")) == 1, asked
    assert sum(n for r, n in lookups.items() if r.startswith("GET /v1/journal_entries")) == 1, asked
    assert set(references(w).values()) == {1} and len(references(w)) == 4


@pytest.mark.parametrize("erp", ["sage50", "sage_x3", "sage_pro"])
def test_a_database_restored_from_an_older_backup_writes_nothing_twice(tmp_path, erp):
    # Given a sale and its refund synced into the ERP
    with ExitStack() as stack:
        w = make_world(stack, tmp_path, erp)
        sale = w.sale("60.00", name="Ada Lovelace")
        poll_record(w.ctx, w.record(sale))
        w.settle()
        refund = w.refund(sale, "15.00")
        poll_record(w.ctx, w.record(refund))
        held = references(w)
        assert set(held.values()) == {1} and len(held) >= 7
        # When paysync's database is replaced by an empty one (a restore from before that day) and
        # both transactions sync again from the export
        fresh = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        upgrade(fresh)
        restored = replace(w, ctx=replace(w.ctx, db_url=fresh))
        poll_record(restored.ctx, restored.record(sale))
        poll_record(restored.ctx, restored.record(refund))
        # Then the ERP holds exactly what it held: every document found, none written twice
        assert references(w) == held


@pytest.mark.parametrize("backup_before", ["payment", "gl"])
@pytest.mark.parametrize("erp", ["sage50", "sage_x3", "sage_pro"])
def test_a_database_restored_from_a_backup_taken_between_two_stages_writes_nothing_twice(tmp_path, erp,
                                                                                       backup_before):
    # Given a sale synced stage by stage, with a backup of paysync's database taken before one stage
    # (a nightly backup, or what a replica had when it was promoted)
    with ExitStack() as stack:
        w = make_world(stack, tmp_path, erp)
        txn = w.sale("60.00", name="Ada Lovelace")
        inbox_id, _ = store_event(w.ctx.db_url, source="poller", event_id=f"{txn}:SALE", event_type="export.sale",
                                  transaction_id=txn, payload={"record": w.record(txn)}, pair=w.ctx.pair)
        run_id = intake.route_event(w.ctx.db_url, inbox_id, w.ctx.erp.kind).run_id
        stages = intake.prepare(w.ctx, run_id, RUN_KINDS, inbox_id)
        database = w.ctx.db_url.removeprefix("sqlite:///")
        for stage in stages:
            if stage == backup_before:
                sqlite3.connect(database).backup(sqlite3.connect(f"{database}.bak"))
            runs.run_stage(w.ctx, run_id, stage, RUN_KINDS)
        held = references(w)
        assert set(held.values()) == {1} and len(held) == 4
        # When the backup is restored and the run goes on from the stage the backup says is next
        sqlite3.connect(f"{database}.bak").backup(sqlite3.connect(database))
        for stage in stages[stages.index(backup_before):]:
            runs.run_stage(w.ctx, run_id, stage, RUN_KINDS)
        # Then the ERP holds exactly what it held: the receipt and journal found, none written twice
        assert references(w) == held


def test_a_write_whose_answer_was_lost_is_found_on_the_next_attempt_not_repeated(world_factory):
    # Given an ERP that writes the invoice but whose answer never reaches paysync (a timeout)
    w = world_factory("sage50")
    erp = w.ctx.erp
    create_invoice = erp._create_invoice
    lost = []

    def written_then_lost(invoice):
        doc = create_invoice(invoice)
        if not lost:
            lost.append(doc.key)
            raise RetriableError("read timed out", system="sage50", operation="invoices")
        return doc

    erp._create_invoice = written_then_lost
    txn = w.sale("42.00", name="Katherine Johnson")
    # When the sale syncs, fails at the invoice, and its stage runs again (as the task's retry would)
    with pytest.raises(RetriableError):
        poll_record(w.ctx, w.record(txn))
    from tests.inprocess import run_through
    from db.models import SyncRun
    from db.session import session_scope
    from sqlalchemy import select

    with session_scope(w.ctx.db_url) as s:
        run_id = s.scalar(select(SyncRun.id).where(SyncRun.transaction_id == txn))
    run_through(w.ctx, run_id)
    # Then the invoice the lost answer was for is the one the run kept, and every reference is held once
    held = references(w)
    assert lost and set(held.values()) == {1} and held[("invoices", f"PT{txn}-INV")] == 1
    summary = summarize("sage50", erp_state(w))
    invoice = next(i for i in summary["invoices"] if i["reference"] == f"PT{txn}-INV")
    assert invoice["key"] == lost[0] and invoice["open"] == 0
