"""Settlement totals come from the batch's transactions, never from invented export fields (in-process tier).

PayTrace's batch export confirms only `number`, so a batch's settlement journal is posted from what
batches/transaction_list adds up to; a record missing a field makes the totals unknown (no journal,
an exception), never zero. A card whose status reads "Settled" is settled. Over the PayTrace and
Sage 50 sandboxes in threads, on SQLite; judged by what the ERP holds.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from config.settings import Secret
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from connectors.sage50 import Sage50Config, Sage50Connector
from db.migrate import upgrade
from db.reconcile_models import SettlementPosting
from db.session import session_scope
from flows import settlement, settlement_items
from sandbox.paytrace import create_app as paytrace_app
from sandbox.sage50 import create_app as sage50_app
from sandbox.server import SandboxServer
from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from schemas.domain import Customer, OrderLine, Payment, SalesOrder
from schemas.paytrace import load_transaction
from workers.locks import NoLock

CARD = {"number": "4012000098765439", "expiration_month": 12, "expiration_year": 2030}


class Day:
    """Both sandboxes, the gateway, the ERP connector and a reconcile context on a fresh SQLite file."""

    def __init__(self, tmp: Path, answers: dict | None = None, mapping_text: str | None = None) -> None:
        self.paytrace = SandboxServer(paytrace_app(answers=answers)).start()
        self.sage50 = SandboxServer(sage50_app()).start()
        self.client = PayTraceClient(PayTraceConfig(self.paytrace.url, "demo", Secret("demo"), "PAYSYNC1", retries=0))
        self.erp = Sage50Connector(Sage50Config(self.sage50.url, Secret("demo-key"), retries=0))
        self.db = f"sqlite:///{tmp / 'paysync.sqlite3'}"
        upgrade(self.db)
        self.sent: list[int] = []
        path = DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml"
        if mapping_text is not None:
            path = tmp / path.name
            path.write_text(mapping_text)
        self.ctx = settlement.ReconcileContext(
            db_url=self.db, gateway=PayTraceGateway(self.client), erp=self.erp, erp_kind="sage50",
            mapping=load_mapping(path),
            enqueue=self.sent.append, lock=NoLock, reports_dir=tmp / "reports", erp_concurrency=1)

    def sale(self, amount: str, card: dict = CARD) -> int:
        answer = self.client.call("transactions/sale/keyed", {"amount": amount, "credit_card": card, "csc": "999",
                                                              "billing_address": {"name": "Ada", "zip": "98402"}})
        return int(answer["transaction_id"])

    def settle(self) -> int:
        return int(self.client.call("transactions/settle", {})["batch_number"])

    def today(self) -> date:
        pacific = requests.get(f"{self.paytrace.url}/_sandbox/clock", timeout=5).json()["pacific"]
        month, day, year = pacific.split()[0].split("/")
        return date(int(year), int(month), int(day))

    def reconcile(self, day: date):
        outcome = settlement.reconcile(self.ctx, day)
        with session_scope(self.db) as s:
            run = s.get(settlement.ReconcileRun, outcome.run_id)
            found = {i.subject: (i.item_class, i.detail) for i in settlement_items.run_items(s, run.id)}
            return run, found

    def journals(self) -> dict[str, dict]:
        state = requests.get(f"{self.sage50.url}/_sandbox/state", timeout=5).json()
        return {j["ReferenceNumber"]: j for j in state["journal_entries"] if j["ReferenceNumber"].endswith("-SET")}

    def close(self) -> None:
        self.client.close()
        self.erp.close()
        self.paytrace.stop()
        self.sage50.stop()


@pytest.fixture()
def make_day(tmp_path):
    made = []

    def make(mapping_text: str | None = None, **answers) -> Day:
        home = tmp_path / str(len(made))
        home.mkdir()
        made.append(Day(home, answers or None, mapping_text))
        return made[-1]

    yield make
    for day in made:
        day.close()


def _lines(journal: dict) -> dict[str, Decimal]:
    return {line["AccountID"]: Decimal(line["Amount"]) for line in journal["Lines"]}


def test_a_batch_export_with_only_its_number_still_posts_the_settlement_journal_from_its_transactions(make_day):
    # Given an account whose batch export carries only each batch's number (the public evidence),
    # and a batch of two sales and a refund of 5.00 settled in a second batch
    day = make_day()
    first, _ = day.sale("20.00"), day.sale("12.34")
    batch = day.settle()
    day.client.call("transactions/refund/for_transaction", {"transaction_id": first, "amount": "5.00"})
    refunds = day.settle()
    exported = day.ctx.gateway.batches(day.today())
    assert all(set(b) == {"number", "created"} for b in exported)
    # When the day is reconciled
    run, _ = day.reconcile(day.today())
    # Then the ERP holds each batch's settlement journal at what its transactions add up to
    journals = day.journals()
    assert _lines(journals[f"PTB{batch}-SET"]) == {"1020": Decimal("32.34"), "1205": Decimal("-32.34")}
    assert _lines(journals[f"PTB{refunds}-SET"]) == {"1020": Decimal("-5.00"), "1205": Decimal("5.00")}
    assert run.totals[str(batch)]["items"]["net_amount"] == "32.34"  # derived from first and second
    with session_scope(day.db) as s:
        assert {p.batch_number: p.status for p in s.scalars(select(SettlementPosting))} == {
            batch: "posted", refunds: "posted"}


def test_each_brand_leaves_its_own_clearing_account_when_the_batch_settles(make_day):
    # Given a mapping clearing AMEX through 1215 and every other card through 1205, and a batch of a
    # Visa sale, an Amex sale and the refund of an Amex sale settled the batch before
    shipped = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    assert 'clearing: "1205"' in shipped
    day = make_day(mapping_text=shipped.replace('clearing: "1205"', 'clearing: {default: "1205", by_brand: {AMEX: "1215"}}'))
    amex_card = {"number": "378282246310005", "expiration_month": 12, "expiration_year": 2030}
    earlier = day.sale("50.00", amex_card)
    first = day.settle()
    day.sale("20.00")
    day.sale("30.00", amex_card)
    day.client.call("transactions/refund/for_transaction", {"transaction_id": earlier, "amount": "8.00"})
    batch = day.settle()
    # When the day is reconciled
    run, _ = day.reconcile(day.today())
    # Then each settlement journal deposits the net and credits each brand's clearing what passed through it
    assert run.totals[str(batch)]["items"]["by_brand"] == {"AMEX": "22.00", "VISA": "20.00"}
    journals = day.journals()
    assert _lines(journals[f"PTB{batch}-SET"]) == {"1020": Decimal("42.00"), "1205": Decimal("-20.00"),
                                                   "1215": Decimal("-22.00")}
    assert _lines(journals[f"PTB{first}-SET"]) == {"1020": Decimal("50.00"), "1215": Decimal("-50.00")}


def test_a_record_missing_its_amount_makes_the_totals_unknown_never_zero(make_day):
    # Given an account whose batch records come without `amount`
    day = make_day(omit_fields=["amount"])
    day.sale("40.00")
    batch = day.settle()
    # When the day is reconciled
    run, found = day.reconcile(day.today())
    # Then no settlement journal is posted (and none is recorded as "nothing deposited"), and a person
    # is told why: the record, the batch's totals and the journal are exceptions
    assert day.journals() == {}
    with session_scope(day.db) as s:
        assert [p.status for p in s.scalars(select(SettlementPosting))] == []
    assert found[f"J{batch}"][0] == "settlement_not_posted" and "totals are unknown" in found[f"J{batch}"][1]
    assert found[f"B{batch}"][0] == "batch_total_mismatch" and "unreadable" in found[f"B{batch}"][1]
    assert any(k.startswith(f"R{batch}:") and v[0] == "status_mismatch" and "amount" in v[1] for k, v in found.items())
    assert run.totals[str(batch)]["settlement"]["status"] == "failed"


def test_a_batch_without_a_number_fails_the_run_loudly(make_day, monkeypatch):
    # Given a batch export that names no batch number
    day = make_day()
    monkeypatch.setattr(day.ctx.gateway, "batches", lambda start, end=None: [{"created": "1/1/2026 1:00:00 PM"}])
    # When the day is reconciled, then the run fails with what is wrong, and nothing is posted
    with pytest.raises(settlement.MalformedExport, match="without a number"):
        settlement.reconcile(day.ctx, day.today())
    assert day.journals() == {}


def test_a_card_settled_in_another_batch_reads_settled_when_its_status_says_settled(make_day):
    # Given an account that writes a settled card's status as "Settled" (as mantle-paytrace reads it),
    # a sale today whose receipt is in the ERP, and the batch closing tomorrow
    day = make_day(settled_status="Settled")
    txn_id = day.sale("15.00")
    today = day.today()
    day.erp.upsert_customer(Customer("C-SETTLED", "Ada"))
    invoice = day.erp.ensure_invoice(SalesOrder(f"PT{txn_id}-INV", "C-SETTLED", today,
                                                (OrderLine("PAYMENT", Decimal("1"), Decimal("15.00")),)))
    day.erp.ensure_payment(Payment(f"PT{txn_id}-RCP", "C-SETTLED", today, Decimal("15.00"), invoice.key, "1200",
                                   "Credit Card"))
    requests.post(f"{day.paytrace.url}/_sandbox/clock", json={"advance_seconds": 86400}, timeout=5)
    day.settle()
    assert day.ctx.gateway.transaction(txn_id)["status_code"] == "Settled"
    # When today is reconciled (no batch of its own)
    run, found = day.reconcile(today)
    # Then the receipt is one that settles later, not a status mismatch on the review list
    assert found[f"T{txn_id}"][0] == "settles_later", found
    assert run.exceptions == 0
    assert load_transaction(day.ctx.gateway.transaction(txn_id)).is_settled
