"""Set-based reconciliation held against `classify`, on PostgreSQL and on SQLite (in-process tier).

Given a day whose batches hold a record of every shape reconciliation knows (plain matches with
and without a sync run, every kind of missing, other amounts, doubled documents, receipts on
account, refunds, voids, unreadable records, documents dated another day) and an ERP holding the
documents, when the day is reconciled, then each record's item is exactly what `classify` (the one
source of the rules) says of it given our ledger and what `find` returns for its references, as
the per-transaction flow asked; every class of finding is found; the batch sums are BatchSums over
`settled_from`; repairs are sent once; and a second run of the day reports no change. The same
holds when the ERP cannot list by date, and when the block reader refuses an answer.

PayTrace and the ERP are in-process stand-ins here (the records are served through the real block
reader); tests/integration/test_reconcile.py runs the flow over the sandboxes.
"""
from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from connectors.base import ErpConnector
from connectors.errors import NotFoundError
from connectors.paytrace.blocks import NotBlockShaped, record_blocks
from db.models import InboxEvent, ReviewItem, StepLedger, SyncRun
from db.reconcile_models import ReconcileRun
from db.session import session_scope
from flows import documents, settlement, settlement_items
from flows.settlement_rules import (CLASSES, SALE_DOCUMENTS, BatchSums, asks_on_account, classify, settled_from)
from schemas.domain import ErpDocument
from workers.locks import NoLock

DAY = date(2026, 11, 21)
OTHER_DAY = DAY - timedelta(days=1)
MAPPING = load_mapping(DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml")
D = Decimal


def ref(txn_id: int, step: str) -> str:
    return documents.reference(MAPPING, txn_id, step)


class Gateway:
    """PayTrace's batch export and transaction lookup, served from records; blocks through the real reader."""

    def __init__(self, batches: dict[int, list[dict]], known: dict[int, dict], refuse_blocks: bool = False) -> None:
        self.records, self.known, self.refuse_blocks = batches, known, refuse_blocks

    def batches(self, start, end=None):
        return [{"number": n, "created": "11/21/2026 8:00:00 PM"} for n in self.records]

    def batch_transactions(self, number: int):
        return iter(json.loads(self._body(number), parse_float=Decimal)["transactions"])

    def batch_transaction_blocks(self, number: int, struct: type):
        source = io.BytesIO(self._body(number))
        blocks = record_blocks(source.read, "transactions", struct)
        if self.refuse_blocks:  # the first block read, then a refusal: the batch is read again whole
            yield next(blocks)
            raise NotBlockShaped("refused by the test")
        yield from blocks

    def _body(self, number: int) -> bytes:
        text = json.dumps({"success": True, "transactions": self.records[number]}, default=lambda d: f"@{d}@")
        return text.replace('"@', "").replace('@"', "").encode()

    def transaction(self, txn_id: int) -> dict:
        if txn_id not in self.known:
            raise NotFoundError(f"no transaction {txn_id}", system="paytrace")
        return self.known[txn_id]


class Erp(ErpConnector):
    """Documents with dates; `find` by exact reference, `list_documents` by date, journals written."""

    kind = "sage50"

    def __init__(self, can_list: bool = True) -> None:
        self.docs: list[tuple[date, ErpDocument]] = []
        self.can_list, self.finds = can_list, 0

    def add(self, kind: str, reference: str, amount, day: date = DAY) -> None:
        self.docs.append((day, ErpDocument(kind, f"K{len(self.docs)}", reference, amount)))

    def find(self, kind: str, reference: str) -> list[ErpDocument]:
        self.finds += 1
        return [d for _, d in self.docs if d.kind == kind and d.reference == reference]

    def list_documents(self, kind: str, day: date):
        if not self.can_list:
            raise NotImplementedError("no listing by date")
        return [d for when, d in self.docs if d.kind == kind and when == day]

    def _create_journal(self, entry):
        debit = sum(l.amount for l in entry.lines if l.amount > 0)
        self.add("journal", entry.reference, debit)
        return self.docs[-1][1]

    def upsert_customer(self, customer):
        raise NotImplementedError

    _create_sales_order = _create_invoice = _create_payment = upsert_customer


def sale(txn_id: int, amount: str, kind: str = "SALE", **extra) -> dict:
    return {"transaction_id": txn_id, "transaction_type": kind, "amount": D(amount),
            "credit_card": {"masked_number": "411111******1111"}, **extra}


def build_day(erp: Erp) -> tuple[dict[int, list[dict]], dict[int, dict], dict[int, tuple]]:
    """Two batches of every shape; the ERP's documents; our ledger (txn -> status, step, error, note, steps)."""
    ledger: dict[int, tuple] = {}
    both = ("payment", "journal")

    def docs(txn_id, amount, *, kinds=both, day=DAY, receipt=None, journal=None):
        for kind in kinds:
            erp.add(kind, ref(txn_id, kind), (receipt if kind == "payment" else journal) or D(amount), day)

    first = []
    for i, (amount, run) in enumerate([("10.00", "succeeded"), ("11.00", None), ("12.00", "dead")]):
        first.append(sale(1000 + i, amount))  # plain matches: with a run, without one, with a dead run
        docs(1000 + i, amount)
        if run:
            ledger[1000 + i] = (run, "gl", "boom" if run == "dead" else None, None, {"payment": "K", "journal": "J"})
    first.append(sale(1010, "20.00"))  # missing, never synced: repaired
    first.append(sale(1011, "21.00"))  # missing, sync running
    ledger[1011] = ("running", "payment", None, None, {})
    first.append(sale(1012, "22.00"))  # missing, dead-lettered
    ledger[1012] = ("dead", "payment", "unknown item X", None, {})
    first.append(sale(1013, "23.00"))  # skipped by us, settled by PayTrace
    ledger[1013] = ("skipped", None, None, "declined by the anomaly screen", {})
    first.append(sale(1014, "24.00"))  # journal removed in the ERP
    docs(1014, "24.00", kinds=("payment",))
    ledger[1014] = ("succeeded", "gl", None, None, {"payment": "K1", "journal": "J1"})
    first.append(sale(1020, "30.00"))  # receipt at another amount
    docs(1020, "30.00", receipt=D("31.00"))
    first.append(sale(1021, "30.00"))  # journal at another amount
    docs(1021, "30.00", journal=D("29.00"))
    first.append(sale(1022, "30.00"))  # two receipts
    docs(1022, "30.00")
    erp.add("payment", ref(1022, "payment"), D("30.00"))
    first.append(sale(1023, "30.00"))  # two journals
    docs(1023, "30.00")
    erp.add("journal", ref(1023, "journal"), D("30.00"))
    first.append(sale(1024, "40.00"))  # applied in part, the rest on account: matched
    docs(1024, "40.00", receipt=D("25.00"))
    erp.add("payment", ref(1024, "on_account"), D("15.00"))
    first.append(sale(1025, "40.00"))  # unapplied cash only: matched
    docs(1025, "40.00", kinds=("journal",))
    erp.add("payment", ref(1025, "on_account"), D("40.00"))
    first.append(sale(1026, "40.00"))  # applied in part, nothing on account
    docs(1026, "40.00", receipt=D("39.00"))
    first.append(sale(1027, "40.00"))  # the ERP does not say the receipt's amount
    docs(1027, "40.00")
    erp.docs[-2] = (DAY, ErpDocument("payment", "KN", ref(1027, "payment"), None))
    first.append(sale(1028, "40.00"))  # a receipt not at whole cents
    docs(1028, "40.00", receipt=D("40.004"))
    first.append(sale(1029, "40.00"))  # the same amount written 40.0: matched
    docs(1029, "40.00", receipt=D("40.0"))
    first.append(sale(1030, "50.00"))  # documents dated the day before (not listed): found, matched
    docs(1030, "50.00", day=OTHER_DAY)
    first.append(sale(1031, "50.00", "AUTHORIZATION"))  # a captured authorization: a sale
    docs(1031, "50.00")
    first.append(sale(1032, "50.00", " sale "))  # a type spelled loosely
    docs(1032, "50.00")
    first.append({**sale(1033, "0"), "amount": "12.50", "check": {"account_number": "***6789"},
                  "credit_card": None})  # an amount as text, a check
    docs(1033, "12.50")
    second = [sale(2000, "5.00", "REFUND", original_transaction_id=1000),  # a refund we posted
              sale(2001, "6.00", "REFUND", original_transaction_id=1001),  # one we did not
              sale(2002, "7.00", "VOID"),
              {"transaction_id": 2003, "transaction_type": "SALE"},  # unreadable: no amount
              {"transaction_id": 2004, "transaction_type": "DECLINED", "amount": D("1.00")},
              {"transaction_id": "abc", "transaction_type": "SALE", "amount": D("1.00")},
              sale(2005, "60.00")]
    docs(2005, "60.00")
    ledger[2000] = ("succeeded", None, None, None, {"refund": "R"})
    # Receipts of the day PayTrace settles in no batch of the day: unknown, pending, voided.
    for txn_id in (3000, 3001, 3002):
        erp.add("payment", ref(txn_id, "payment"), D("9.00"))
    known = {3001: {"status_code": "Y", "transaction_type": "SALE", "amount": D("9.00")},
             3002: {"status_code": "V", "transaction_type": "VOID", "amount": D("9.00"), "status_message": "Voided"}}
    for txn_id in (3001, 3002):  # our runs wrote them (the ledger fallback finds them by their run)
        ledger[txn_id] = ("succeeded", None, None, None, {"payment": "K"})
    return {7: first, 8: second}, known, ledger


def seed_ledger(db_url: str, ledger: dict[int, tuple]) -> None:
    created = datetime.combine(DAY, time(12), ZoneInfo(MAPPING.dates.timezone)).astimezone(timezone.utc)
    with session_scope(db_url) as s:
        for txn_id, (status, step, error, note, steps) in ledger.items():
            run = SyncRun(gateway="paytrace", transaction_id=txn_id, erp="sage50", status=status, current_step=step,
                          last_error=error, note=note, created_at=created, updated_at=created)
            s.add(run)
            s.flush()
            for name, key in steps.items():
                s.add(StepLedger(run_id=run.id, step=name, idempotency_key=f"{txn_id}:{name}", status="done",
                                 erp_ref=key))


def reconcile(db_url, tmp_path, erp, gateway, sent):
    ctx = settlement.ReconcileContext(db_url=db_url, gateway=gateway, erp=erp, erp_kind="sage50", mapping=MAPPING,
                                      enqueue=sent.append, lock=NoLock, reports_dir=tmp_path / "reports",
                                      chunk_size=7, erp_concurrency=1)
    outcome = settlement.reconcile(ctx, DAY, trigger="test")
    with session_scope(db_url) as s:
        run = s.get(ReconcileRun, outcome.run_id)
        items = list(settlement_items.run_items(s, run.id))
    return ctx, run, {i.subject: i for i in items}


def oracle(ctx, erp: Erp, record: dict, batch: int):
    """What the per-transaction flow concluded: `classify` with `find` per reference, the ledger by query."""
    t = settled_from(record, batch)
    docs: dict = {}
    if t.kind not in ("REFUND", "VOID"):
        docs = {kind: erp.find(kind, ref(t.transaction_id, kind)) for kind in SALE_DOCUMENTS}
        if asks_on_account(t, docs["payment"]):
            docs["on_account"] = erp.find("payment", ref(t.transaction_id, "on_account"))
    return t, classify(t, settlement._ledger(ctx, [t.transaction_id]).get(t.transaction_id), docs, ref)


@pytest.mark.parametrize("can_list, refuse_blocks", [(True, False), (False, False), (True, True)],
                         ids=["listed", "find-only", "record-by-record"])
def test_every_item_is_what_classify_says_and_a_second_run_reports_no_change(db_url, tmp_path, can_list,
                                                                            refuse_blocks):
    # Given a day of every shape, its ERP documents and our ledger
    erp = Erp(can_list)
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)
    sent: list[int] = []
    # When it is reconciled
    ctx, run, items = reconcile(db_url, tmp_path, erp, Gateway(batches, known, refuse_blocks), sent)
    asked = erp.finds
    # Then every readable record's item is classify's verdict, word for word
    readable = 0
    for number, records in batches.items():
        sums = BatchSums()
        for position, record in enumerate(records):
            try:
                t, verdict = oracle(ctx, erp, record, number)
            except (KeyError, TypeError, ValueError):
                sums.unreadable += 1
                continue
            readable += 1
            sums.add(t)
            got = items[f"T{t.transaction_id}"]
            assert (got.item_class, got.detail, got.expected_amount, got.found_amount, got.batch_number) == (
                verdict.item_class, verdict.detail, t.amount,
                None if verdict.found is None else verdict.found.quantize(D("0.01")), number), (t, got.detail)
            assert got.action.startswith("repair") if verdict.then == "repair" else \
                got.action == settlement.ACTIONS[verdict.then]
        # and each batch adds up to what BatchSums makes of the readable records
        assert run.totals[str(number)]["items"] == sums.as_dict()
    # and the unreadable records are exceptions in their own right, never zeros
    unreadable = sorted(i.detail for s, i in items.items() if s.startswith("R8:"))
    assert unreadable == ["unreadable batch record: 'no amount'",
                          "unreadable batch record: invalid literal for int() with base 10: 'abc'",
                          "unreadable batch record: transaction_type 'DECLINED' is not one a settled batch holds"]
    # and the receipts PayTrace settled in none of the day's batches are found
    assert [items[f"T{t}"].item_class for t in (3001, 3002)] == ["settles_later", "status_mismatch"]
    if can_list:  # (the ledger fallback only knows receipts our runs wrote)
        assert items["T3000"].item_class == "unknown_to_paytrace"
    # and every class of finding is among them, the one never-synced sale repaired once
    assert set(run.counts) >= set(CLASSES) - ({"unknown_to_paytrace"} if not can_list else set())
    assert len(items) == readable + 3 + 2 + (3 if can_list else 2)  # + unreadable, B/J of batch 8, outside
    assert sent and len(sent) == 1 and items["T1010"].action.startswith("repair: sync sent")
    if can_list and not refuse_blocks:
        # and the ERP was asked only for what its listing lacked, not for every sale
        assert asked <= 3 * 20

    # When the day is reconciled again
    _, again, items2 = reconcile(db_url, tmp_path, erp, Gateway(batches, known, refuse_blocks), sent)
    # Then it reports the same, sends no second repair, and posts no journal twice
    assert again.changes == {"previous_run": 1, "transitions": [], "posted": []}
    assert again.counts == run.counts and len(sent) == 1
    assert {s: i.item_class for s, i in items2.items()} == {s: i.item_class for s, i in items.items()}
    assert "already requested" in items2["T1010"].action


def test_a_repair_that_cannot_be_sent_is_kept_for_the_sweeper(db_url, tmp_path):
    # Given the day of every shape, and a broker that refuses the repair's message
    erp = Erp()
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)

    class Refused(list):
        def append(self, inbox_id):
            raise ConnectionError("broker down")

    # When it is reconciled
    _, run, items = reconcile(db_url, tmp_path, erp, Gateway(batches, known), Refused())
    # Then the never-synced sale's repair is stored, unsent, and says the sweeper sends it
    inbox_id = int(items["T1010"].action.split("inbox ")[1].split(")")[0])
    assert items["T1010"].action == f"repair stored (inbox {inbox_id}); the sweeper sends it"
    with session_scope(db_url) as s:
        event = s.get(InboxEvent, inbox_id)
        assert (event.source, event.event_id, event.transaction_id, event.enqueued_at) == (
            "reconcile", "1010:SALE", 1010, None)
    # and a second run, with the broker back, finds it requested already
    sent: list[int] = []
    _, _, items2 = reconcile(db_url, tmp_path, erp, Gateway(batches, known), sent)
    assert items2["T1010"].action == f"repair already requested (inbox {inbox_id}); re-checked next run"
    assert sent == []


def test_a_sent_repair_is_marked_sent(db_url, tmp_path):
    erp = Erp()
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)
    sent: list[int] = []
    _, _, items = reconcile(db_url, tmp_path, erp, Gateway(batches, known), sent)
    assert items["T1010"].action == f"repair: sync sent (inbox {sent[0]}); re-checked next run"
    with session_scope(db_url) as s:
        assert s.get(InboxEvent, sent[0]).enqueued_at is not None  # the sweeper leaves it alone


@pytest.mark.parametrize("stray, sale", [("pt1000-rcp", 1000), ("PT01000-RCP", 1000), ("pt1010-rcp", 1010)])
def test_a_second_receipt_keyed_differently_is_an_exception_of_its_own(db_url, tmp_path, stray, sale):
    # Given the day of every shape, and the ERP also listing a receipt of 999.00 keyed by hand in lower
    # case or with a leading zero, for the plainly matched 1000 or the missing 1010 (its transaction
    # read the same)
    erp = Erp()
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)
    erp.add("payment", stray, D("999.00"))
    key = erp.docs[-1][1].key
    known[sale] = {"status_code": "GB7", "transaction_type": "SALE", "amount": D("10.00")}
    alone_erp = Erp()
    _, alone, _ = reconcile(db_url, tmp_path / "alone", alone_erp, Gateway(*build_day(alone_erp)[:2]), [])
    # When the day is reconciled
    _, run, items = reconcile(db_url, tmp_path, erp, Gateway(batches, known), [])
    # Then the sale keeps its one finding, as without the receipt, not a second one "settles later"
    with session_scope(db_url) as s:
        of_sale = [i.item_class for i in settlement_items.run_items(s, run.id) if i.subject == f"T{sale}"]
    assert of_sale == ["matched" if sale == 1000 else "missing_in_erp"]
    assert run.counts["settles_later"] == 1  # 3001 only, as without the stray receipt
    # and the receipt is an exception of its own, under its ERP key, on the review list
    second = items[f"E{key}"]
    assert (second.item_class, second.transaction_id, second.found_amount, second.is_exception) == (
        "status_mismatch", sale, D("999.00"), True)
    assert stray in second.detail and "second receipt" in second.detail
    assert run.exceptions == alone.exceptions + 1
    with session_scope(db_url) as s:
        filed = s.scalars(select(ReviewItem).where(ReviewItem.reference == key)).all()
    assert len(filed) == 1 and filed[0].status == "open"


def test_a_receipt_whose_reference_reads_as_no_possible_id_is_reported_not_fatal(db_url, tmp_path):
    # Given the day, and a receipt keyed by hand whose reference reads as a 20-digit transaction id
    erp = Erp()
    batches, known, ledger = build_day(erp)
    seed_ledger(db_url, ledger)
    erp.add("payment", "PT99999999999999999999-RCP", D("5.00"))
    key = erp.docs[-1][1].key
    # When the day is reconciled, then the night finishes and the receipt is on the review list
    _, run, items = reconcile(db_url, tmp_path, erp, Gateway(batches, known), [])
    assert run.status == "done"
    odd = items[f"E{key}"]
    assert (odd.item_class, odd.transaction_id, odd.found_amount) == ("unknown_to_paytrace", None, D("5.00"))
