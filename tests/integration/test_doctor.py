"""`paysync doctor` against the sandboxes (in-process tier: sandboxes in threads, the CLI in this process).

Given accounts shaped as the public evidence says, every assumption holds (or cannot be told yet) and
nothing anywhere changes; given sandboxes set to answer the other way, the doctor says which
assumption fails and the setting to change; a usage mistake is one line and exit status 2.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests
from click.testing import CliRunner

from cli.main import main as paysync
from config.settings import Secret
from connectors.paytrace import PayTraceClient
from connectors.paytrace.config import PayTraceConfig
from sandbox import sage_pro as sage_pro_sandbox
from sandbox.paytrace import create_app as paytrace_app
from sandbox.sage50 import create_app as sage50_app
from sandbox.sage_x3 import create_app as x3_app
from sandbox.server import SandboxServer
from schemas.domain import Address, Customer, JournalEntry, JournalLine, OrderLine, Payment, SalesOrder

CARD = {"number": "4012000098765439", "expiration_month": 12, "expiration_year": 2030}
CHECK = {"account_number": "123456789", "routing_number": "325070760"}
DAY = date(2026, 11, 20)


def _paytrace_day(url: str, checks: bool = True) -> None:
    """A day of activity: sales with invoice ids, a vault sale, a settled batch, a refund, a check."""
    client = PayTraceClient(PayTraceConfig(url, "demo", Secret("demo"), "PAYSYNC1", retries=0))
    billing = {"name": "Ada", "street_address": "1 Main", "zip": "99201"}
    sale = client.call("transactions/sale/keyed", {"amount": "40.00", "credit_card": CARD, "csc": "999",
                                                   "billing_address": billing, "invoice_id": "INV-7"})
    client.call("transactions/sale/keyed", {"amount": "12.00", "credit_card": CARD, "billing_address": billing})
    client.call("customer/create", {"customer_id": "cust-1", "credit_card": CARD, "billing_address": billing})
    client.transact("transactions/sale/by_customer", {"customer_id": "cust-1", "amount": "5.00"})
    client.call("transactions/settle", {})
    client.call("transactions/refund/for_transaction", {"transaction_id": sale["transaction_id"], "amount": "4.00"})
    if checks:
        client.transact("checks/sale/by_account", {"amount": "9.00", "check": CHECK, "billing_address": billing})
    client.close()


def _erp_records(connector) -> None:
    """A customer with an address, an order, an invoice billing it, a receipt and a journal in the ERP."""
    from config.mapping import DEFAULT_MAPPINGS_DIR, account_for, item_for, load_mapping

    mapping = load_mapping(DEFAULT_MAPPINGS_DIR / f"paytrace-{connector.kind}.yaml")
    item, cash, clearing = item_for(mapping), account_for(mapping, "cash"), account_for(mapping, "clearing")
    cid = connector.upsert_customer(Customer("PT-DOC1", "Ada Lovelace", "ada@example.com", "555-0100",
                                             Address("Ada", "1 Main", "", "Spokane", "WA", "99201", "US")))
    lines = (OrderLine(item, Decimal("1"), Decimal("30.00")),)
    order = connector.ensure_sales_order(SalesOrder("PT1-SO", cid, DAY, lines))
    invoice = connector.ensure_invoice(SalesOrder("PT1-INV", cid, DAY, lines, order_ref=order.key, invoice_id="INV-1"))
    connector.ensure_payment(Payment("PT1-RCP", cid, DAY, Decimal("30.00"), invoice.key, cash, "CB"))
    connector.ensure_journal(JournalEntry("PT1-JE", DAY, "doctor", (JournalLine(clearing, Decimal("30.00")),
                                                                    JournalLine(cash, Decimal("-30.00")))))


class World:
    """The sandboxes of one ERP kind, the environment pointing paysync at them, and their states."""

    def __init__(self, erp: str, tmp_path, monkeypatch, *, paytrace: dict | None = None, x3: dict | None = None,
                 pro_character_dates: tuple = ()) -> None:
        self.erp, self.servers = erp, []
        self.paytrace = self._serve(paytrace_app(answers=paytrace))
        env = {"PAYSYNC_ENV": "test", "PAYSYNC_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
               "PAYSYNC_ERP": erp,
               "PAYTRACE_BASE_URL": self.paytrace.url, "PAYTRACE_USERNAME": "demo", "PAYTRACE_PASSWORD": "demo",
               "PAYTRACE_INTEGRATOR_ID": "PAYSYNC1", "HTTP_RETRIES": "0"}
        if erp == "sage50":
            self.sage50 = self._serve(sage50_app())
            env.update(SAGE50_BASE_URL=self.sage50.url, SAGE50_API_KEY="demo-key")
        elif erp == "sage_x3":
            self.x3 = self._serve(x3_app(**(x3 or {})))
            env.update(SAGEX3_BASE_URL=self.x3.url, SAGEX3_USERNAME="admin", SAGEX3_PASSWORD="admin")
        else:
            self.pro_url = f"sqlite:///{tmp_path / 'pro.sqlite3'}"
            sage_pro_sandbox.install(self.pro_url, "01", character_dates=pro_character_dates)
            env.update(SAGEPRO_DATABASE_URL=self.pro_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    def _serve(self, app) -> SandboxServer:
        self.servers.append(SandboxServer(app).start())
        return self.servers[-1]

    def connector(self):
        from config.settings import load_settings
        from connectors.registry import build_connector

        return build_connector(self.erp, getattr(load_settings(), self.erp))

    def states(self) -> dict:
        out = {"paytrace": _without_clock(requests.get(f"{self.paytrace.url}/_sandbox/state", timeout=5).json())}
        if self.erp == "sage50":
            out["erp"] = requests.get(f"{self.sage50.url}/_sandbox/state", timeout=5).json()
        elif self.erp == "sage_x3":
            out["erp"] = requests.get(f"{self.x3.url}/_sandbox/state", timeout=5).json()
            out["saves"] = requests.get(f"{self.x3.url}/_sandbox/stats", timeout=5).json()["saves"]
        else:
            out["erp"] = sage_pro_sandbox.state(self.pro_url, "01")
        return out

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _without_clock(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "now"}


def doctor(*args: str):
    return CliRunner().invoke(paysync, ["doctor", *args], terminal_width=250)


def rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if "│" in line]


@pytest.fixture()
def world(tmp_path, monkeypatch):
    made = []

    def make(erp: str, **kw) -> World:
        made.append(World(erp, tmp_path, monkeypatch, **kw))
        return made[-1]

    yield make
    for w in made:
        w.stop()


@pytest.mark.parametrize("erp", ["sage50", "sage_x3", "sage_pro"])
def test_on_accounts_shaped_as_the_evidence_says_every_assumption_holds_and_nothing_changes(world, erp):
    # Given a PayTrace day of sales, a refund, a batch and a check, and an ERP holding paysync's documents
    w = world(erp)
    _paytrace_day(w.paytrace.url)
    connector = w.connector()
    _erp_records(connector)
    connector.close()
    before = w.states()
    # When the doctor runs
    result = doctor()
    # Then nothing fails, it says so, and no sandbox changed (the doctor writes nothing anywhere)
    assert result.exit_code == 0, result.output
    assert " fails " not in result.output and "0 fail," in result.output
    assert "Nothing was written" in result.output
    text = " ".join(result.output.split())
    for assumption in ("logs in", "refund records carry something that links", "batches/export names every batch",
                       "checks (ACH) export answers", "transactions/export/by_date_range"):
        assert assumption in text, assumption
    assert "masked card and expiry" in text and "invoice id" in text
    assert w.states() == before


def test_accounts_that_answer_the_other_way_fail_the_right_assumptions_with_the_setting_to_change(world):
    # Given a PayTrace account whose refunds carry no link, whose batch records lack an amount and
    # whose API has no checks, and an X3 folder with its own invoice class name
    w = world("sage_x3", paytrace={"omit_fields": ["invoice_id", "customer_id", "credit_card",
                                                   "original_transaction_id", "amount"], "checks_api": False},
              x3={"classes": {"SINVOICEV": "ZSIH"}})
    _paytrace_day(w.paytrace.url, checks=False)
    before = w.states()
    # When the doctor runs
    result = doctor("--days", "2")
    text = " ".join(result.output.split())
    # Then it fails, naming each broken assumption and what to set
    assert result.exit_code == 1, result.output
    failing = [r for r in rows(result.output) if "fails" in r]
    joined = " ".join(" ".join(failing).split())
    assert "refund records carry" in text and "carry nothing" in text
    assert "missing amount" in text  # batches/transaction_list
    assert "PAYTRACE_ACH=false" in joined
    assert "SINVOICEV" in joined and "invoice_class" in joined
    assert w.states() == before


def test_a_sage_pro_install_keeping_ordate_as_character_is_told_to_say_so(world):
    # Given a Sage Pro company whose somast.ORDATE is character 'MM/DD/YYYY' and paysync's default (a date)
    world("sage_pro", pro_character_dates=("somast.ORDATE",))
    result = doctor()
    # Then the somast check fails, saying ORDATE is character here and which setting takes that
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "ORDATE: character on this install" in text and "SAGEPRO_COLUMNS" in text


def test_a_missing_sage50_account_is_named_with_its_mapping_key(world, monkeypatch, tmp_path):
    # Given a mapping file whose cash account the Sage 50 company does not have
    from config.mapping import DEFAULT_MAPPINGS_DIR

    w = world("sage50")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    assert 'cash: "1200"' in text, "the demo's cash account moved"
    (mappings / "paytrace-sage50.yaml").write_text(text.replace('cash: "1200"', 'cash: "9999"', 1))
    monkeypatch.setenv("PAYSYNC_MAPPINGS", str(mappings))
    # When the doctor runs
    result = doctor()
    # Then it fails, naming the missing account by the mapping key that holds it, and writes nothing
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "9999" in text and "mapping accounts.cash" in text
    assert w.states()["erp"]["payments"] == []


def test_a_retired_account_setting_is_refused_with_where_it_lives_now(world, monkeypatch):
    world("sage50")
    monkeypatch.setenv("SAGE50_CASH_ACCOUNT", "9999")
    result = doctor()
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "SAGE50_CASH_ACCOUNT" in text and "accounts.cash" in text


def test_usage_mistakes_are_one_line_and_exit_status_2(world, monkeypatch):
    world("sage50")
    unknown = doctor("--pair", "nosuch")
    assert unknown.exit_code == 2 and len(unknown.output.strip().splitlines()) == 1
    assert "no integration pair 'nosuch'" in unknown.output
    monkeypatch.setenv("PAYTRACE_BASE_URL", "ftp://nowhere")
    bad = doctor()
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1 and "PAYTRACE_BASE_URL" in bad.output
    assert "Traceback" not in bad.output


def test_the_doctor_leaves_paysyncs_logging_as_it_found_it(world):
    import logging

    world("sage50")
    before = logging.getLogger("paysync").level
    doctor()
    assert logging.getLogger("paysync").level == before
