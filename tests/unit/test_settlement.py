"""The pure parts of nightly reconciliation: classification, batch totals, the journal, the schedule."""
from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from config.celery import MerchantCrontab, celery_app
from config.mapping import load_mapping
from flows import documents, settlement_rules
from flows.settlement_rules import (BatchSums, Fees, LedgerView, Settled, day_for, settled_from, settlement_entry,
                                    subject_reference, total_differences)
from schemas.domain import ErpDocument

MAPPING = load_mapping(__import__("pathlib").Path(__file__).resolve().parents[2] / "config" / "mappings"
                       / "paytrace-sage50.yaml")


def classify(t, ledger_view, erp_docs):
    """The rules with the shipped mapping's references (PT<id>-RCP, PT<id>-JE)."""
    return settlement_rules.classify(t, ledger_view, erp_docs, lambda tid, step: documents.reference(MAPPING, tid, step))

LA = ZoneInfo("America/Los_Angeles")
SALE = Settled(101, "SALE", Decimal("25.00"), 7)


def docs(payment="25.00", journal="25.00", payments=1):
    """What the ERP holds for PT101: its receipt(s) and journal, at these amounts (None: absent)."""
    receipts = [ErpDocument("payment", f"K{i}", "PT101-RCP", Decimal(payment)) for i in range(payments if payment else 0)]
    journals = [ErpDocument("journal", "J", "PT101-JE", Decimal(journal))] if journal else []
    return {"payment": receipts, "journal": journals}


def ledger(status="succeeded", step=None, error=None):
    return LedgerView(9, status, step, error, {"payment": "K0", "journal": "J"})


# -- classification --------------------------------------------------------------------------
def test_a_sale_with_its_receipt_and_journal_at_the_right_amount_is_matched():
    assert classify(SALE, ledger(), docs()).item_class == "matched"
    # even without a sync run of ours (restored database): the ERP agrees, but the note says so
    verdict = classify(SALE, None, docs())
    assert verdict.item_class == "matched" and "no sync run" in verdict.detail


def test_a_sale_missing_from_the_erp_is_repaired_only_when_nothing_else_explains_it():
    assert classify(SALE, None, docs(payment=None, journal=None)).then == "repair"
    assert classify(SALE, ledger("running", "payment"), docs(payment=None)).then == "wait"
    dead = classify(SALE, ledger("dead", "payment", "unknown item"), docs(payment=None))
    assert (dead.item_class, dead.then) == ("missing_in_erp", "review") and "unknown item" in dead.detail
    gone = classify(SALE, ledger(), docs(journal=None))
    assert gone.then == "review" and "removed in the ERP" in gone.detail


def test_amount_and_status_mismatches_go_to_review_never_to_repair():
    wrong = classify(SALE, None, docs(payment="26.00"))
    assert (wrong.item_class, wrong.found, wrong.then) == ("amount_mismatch", Decimal("26.00"), "review")
    assert classify(SALE, ledger(), docs(journal="20.00")).item_class == "amount_mismatch"
    assert classify(SALE, ledger(), docs(payments=2)).item_class == "status_mismatch"
    assert classify(SALE, ledger("skipped", error="declined"), docs(payment=None)).item_class == "status_mismatch"


def test_refunds_and_voids_are_reported_as_such():
    refund = classify(Settled(102, "REFUND", Decimal("5.00"), 7, original_id=101), None, {})
    assert refund.item_class == "refund" and "PT101" in refund.detail
    assert classify(Settled(102, "REFUND", Decimal("5.00"), 7), ledger(), {}).item_class == "matched"
    assert classify(Settled(103, "VOID", Decimal("5.00"), 7), None, {}).item_class == "void"


# -- batch totals and the settlement journal -------------------------------------------------
def test_batch_totals_are_held_against_the_sum_of_items():
    sums = BatchSums()
    for t in (SALE, Settled(102, "SALE", Decimal("10.00"), 7), Settled(103, "REFUND", Decimal("5.00"), 7)):
        sums.add(t)
    said = {"transaction_count": 3, "sales_count": 2, "sales_amount": "35.00", "refund_count": 1,
            "refund_amount": "5.00", "net_amount": "30.00"}
    assert total_differences(said, sums.as_dict()) == []
    off = total_differences({**said, "net_amount": "31.00", "transaction_count": 4}, sums.as_dict())
    assert any(p.startswith("transaction_count") for p in off) and any("sales - refunds" in p for p in off)
    assert total_differences({"number": 7}, sums.as_dict()) == []  # keys PayTrace did not send


def test_a_batch_is_summed_by_brand_from_its_records():
    visa = {"transaction_id": 1, "transaction_type": "SALE", "amount": 20,
            "credit_card": {"masked_number": "411111******1111"}}
    amex = {"transaction_id": 2, "transaction_type": "SALE", "amount": "15.00",
            "credit_card": {"masked_number": "378282*****0005"}}
    amex_back = {"transaction_id": 3, "transaction_type": "REFUND", "amount": "5.00",
                 "credit_card": {"masked_number": "378282*****0005"}}
    check = {"transaction_id": 4, "transaction_type": "SALE", "amount": "7.00", "check": {"account_number": "***6789"}}
    bare = {"transaction_id": 5, "transaction_type": "SALE", "amount": "1.00"}
    sums = BatchSums()
    for record in (visa, amex, amex_back, check, bare):
        sums.add(settled_from(record, 7))
    assert sums.as_dict()["by_brand"] == {"ACH": "7.00", "AMEX": "10.00", "UNKNOWN": "1.00", "VISA": "20.00"}
    assert sum(sums.by_brand.values()) == sums.net == Decimal("38.00")


def test_the_settlement_journal_moves_clearing_to_the_bank_and_balances():
    day = date(2026, 11, 21)
    entry = settlement_entry(7, day, Decimal("30.00"), Decimal("0"), bank="1020", clearing={"1205": Decimal("30.00")})
    assert entry.reference == "PTB7-SET" and entry.is_balanced
    assert [(l.account, l.amount) for l in entry.lines] == [("1020", Decimal("30.00")), ("1205", Decimal("-30.00"))]
    fees = Fees(Decimal("0.029"), Decimal("0.30"), "6100").of(Decimal("35.00"), 3)
    assert fees == Decimal("1.92")
    entry = settlement_entry(7, day, Decimal("30.00"), fees, bank="1020", clearing={"1205": Decimal("30.00")},
                             fee_account="6100")
    assert entry.is_balanced and ("6100", Decimal("1.92")) in [(l.account, l.amount) for l in entry.lines]
    refunds_only = settlement_entry(8, day, Decimal("-5.00"), Decimal("0"), bank="1020",
                                    clearing={"1205": Decimal("-5.00")})
    assert refunds_only.is_balanced and refunds_only.lines[0].amount == Decimal("-5.00")


def test_each_clearing_account_is_credited_what_passed_through_it():
    entry = settlement_entry(9, date(2026, 11, 21), Decimal("45.00"), Decimal("0"), bank="1020",
                             clearing={"1205": Decimal("30.00"), "1215": Decimal("20.00"), "1230": Decimal("-5.00")})
    assert entry.is_balanced
    assert [(l.account, l.amount) for l in entry.lines] == [
        ("1020", Decimal("45.00")), ("1205", Decimal("-30.00")), ("1215", Decimal("-20.00")), ("1230", Decimal("5.00"))]
    with pytest.raises(ValueError, match="do not add up"):
        settlement_entry(9, date(2026, 11, 21), Decimal("45.00"), Decimal("0"), bank="1020",
                         clearing={"1205": Decimal("30.00")})


def test_references_a_person_searches_for():
    assert [subject_reference(s) for s in ("T101", "B7", "J7")] == ["PT101", "PTB7", "PTB7-SET"]


# -- the schedule ----------------------------------------------------------------------------
def test_the_day_is_the_one_the_schedule_fired_for_even_when_the_task_runs_late():
    fired = datetime(2026, 11, 21, 21, 30, tzinfo=LA)
    assert day_for(fired, "America/Los_Angeles", 21, 30) == date(2026, 11, 21)
    late = fired + timedelta(hours=4)  # past midnight, still inside the expiry
    assert day_for(late, "America/Los_Angeles", 21, 30) == date(2026, 11, 21)
    assert day_for(datetime(2026, 11, 22, 6, 0, tzinfo=LA), "America/Los_Angeles", 6, 0, days_back=1) == \
        date(2026, 11, 21)


@pytest.mark.parametrize("last_local, next_local", [
    (datetime(2026, 3, 7, 21, 30, tzinfo=LA), datetime(2026, 3, 8, 21, 30, tzinfo=LA)),  # into daylight time
    (datetime(2026, 10, 31, 21, 30, tzinfo=LA), datetime(2026, 11, 1, 21, 30, tzinfo=LA)),  # back to standard
])
def test_the_beat_runs_at_the_merchants_wall_clock_time_across_dst(last_local, next_local):
    now = last_local.astimezone(timezone.utc)
    schedule = MerchantCrontab(minute=30, hour=21, zone="America/Los_Angeles", nowfun=lambda: now)
    schedule.app = celery_app
    assert now + schedule.remaining_estimate(now) == next_local.astimezone(timezone.utc)


def test_the_beat_entry_is_on_the_reconcile_queue_with_an_expiry_and_survives_pickling():
    entry = celery_app.conf.beat_schedule["reconcile-day"]
    assert entry["task"] == "paysync.reconcile_day" and entry["options"]["queue"] == "reconcile"
    assert 0 < entry["options"]["expires"] < 24 * 3600
    copy = pickle.loads(pickle.dumps(entry["schedule"]))
    assert copy.zone == entry["schedule"].zone and copy.hour == {21} and copy.minute == {30}
    assert celery_app.conf.task_routes["paysync.reconcile_day"] == {"queue": "reconcile"}


def test_a_batch_record_without_a_type_or_an_amount_is_unreadable_never_a_sale_of_zero():
    # Given batch records each missing a field reconciliation reads, when read, then each is refused by name
    from flows.settlement_rules import derived_totals, settled_from

    for record, missing in (({"transaction_id": 1, "amount": 5}, "transaction_type"),
                            ({"transaction_id": 1, "transaction_type": "SALE"}, "amount"),
                            ({"transaction_type": "SALE", "amount": 5}, "transaction_id")):
        with pytest.raises(KeyError, match=missing):
            settled_from(record, 7)
    with pytest.raises(ValueError, match="DECLINED"):
        settled_from({"transaction_id": 1, "transaction_type": "DECLINED", "amount": 5}, 7)
    # and a batch with any unreadable record has no totals to post from
    assert "could not be read" in derived_totals({"unreadable": 1, "net_amount": "0.00"})
    assert derived_totals({"unreadable": 0, "net_amount": "9.50", "sales_amount": "10.00",
                           "transaction_count": 2}) == (Decimal("9.50"), Decimal("10.00"), 2)
