"""Checks (ACH) as a payment type of their own, and several integration pairs in one deployment.

Checks are numbered apart from card transactions (the sandbox deliberately lets the two sequences
overlap), so a check and a card sale with the same number are two payments with two sets of
documents. Two PayTrace accounts, each with its own ERP and mapping, share one paysync: each
account's payments reach its own ERP only.
"""
from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests

from cli.traffic import make_sales
from config.mapping import DEFAULT_MAPPINGS_DIR
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from connectors.registry import build_connector
from db.models import SyncRun
from db.session import session_scope
from sandbox.paytrace import create_app as paytrace_app
from sandbox.sage50 import create_app as sage50_app
from sandbox.server import SandboxServer
from tests.conftest import dump_logs

pytestmark = pytest.mark.slow
ROUTING = "325070760"  # the ACH test routing number PayTrace's own tests use [C]


def _check_sale(client: PayTraceClient, amount: str) -> int:
    answer = client.transact("checks/sale/by_account", {
        "amount": amount, "check": {"account_number": "000123456789", "routing_number": ROUTING},
        "billing_address": {"name": "Radia Perlman", "street_address": "9 Mesh Way", "city": "Spokane",
                            "state": "WA", "zip": "99201", "country": "US"}, "invoice_id": "WEB-ACH-1"})
    assert answer.get("success"), answer
    return int(answer["check_transaction_id"])


def _run_status(database_url: str, gateway: str, transaction_id: int, kind: str, timeout: float = 90) -> str:
    deadline, status = time.monotonic() + timeout, "absent"
    while time.monotonic() < deadline:
        with session_scope(database_url) as s:
            run = s.query(SyncRun).filter_by(gateway=gateway, transaction_id=transaction_id, kind=kind).one_or_none()
            status = run.status if run else "absent"
        if status in ("succeeded", "dead", "skipped"):
            return status
        time.sleep(0.3)
    return status


def test_a_check_posts_as_ach_apart_from_the_card_sale_with_its_number_and_a_return_undoes_it(stack_factory):
    stack = stack_factory(erp="sage50")
    stack.start_worker("w1", concurrency=2)
    stack.start_beat()
    settings = get_settings()
    client = PayTraceClient(settings.paytrace)
    erp = build_connector("sage50", settings.sage50)
    try:
        [card] = make_sales(client, 1, seed=5, decline_every=0)
        check = _check_sale(client, "310.00")
        assert check == card.transaction_id, "the sandbox numbers checks from the card sequence's start"
        assert _run_status(stack.database_url, "paytrace_ach", check, "sale") == "succeeded", dump_logs(stack)
        assert _run_status(stack.database_url, "paytrace", card.transaction_id, "sale") == "succeeded"

        receipt = erp.find("payment", f"PTA{check}-RCP")
        assert [d.amount for d in receipt] == [Decimal("310.00")]
        assert [d.amount for d in erp.find("payment", f"PT{card.transaction_id}-RCP")] == [card.amount]
        state = requests.get(f"{stack.erp_server.url}/_sandbox/state", timeout=10).json()
        ach = [r for r in state["payments"] if r.get("ReferenceNumber") == f"PTA{check}-RCP"]
        assert ach and ach[0]["PaymentMethod"] == "ACH", ach
        # the ACH journal uses the mapping's ACH accounts; nothing of the account number but its last 4
        assert len(erp.find("journal", f"PTA{check}-JE")) == 1
        assert "000123456789" not in str(state) and "123456789" not in str(state)

        # days later the bank returns it (NSF): the receipt is reversed and the invoice is open again
        requests.post(f"{stack.paytrace.url}/_sandbox/checks/return",
                      json={"check_transaction_id": check, "ach_code": "R01"}, timeout=10).raise_for_status()
        assert _run_status(stack.database_url, "paytrace_ach", check, "void") == "succeeded", dump_logs(stack)
        assert len(erp.find("reversal", f"PTA{check}-VD")) == 1
        [invoice] = erp.find("invoice", f"PTA{check}-INV")
        assert invoice.amount_due == Decimal("310.00")
        assert erp.find("reversal", f"PT{card.transaction_id}-VD") == []  # the card sale is untouched

        # a hold posts nothing until it is funded; then it is a sale like any other
        hold = int(client.transact("checks/hold/by_account", {
            "amount": "75.00", "check": {"account_number": "000123456789", "routing_number": ROUTING},
            "billing_address": {"name": "Radia Perlman", "zip": "99201"}})["check_transaction_id"])
        assert _run_status(stack.database_url, "paytrace_ach", hold, "sale") == "skipped", dump_logs(stack)
        assert erp.find("payment", f"PTA{hold}-RCP") == []
        client.transact("checks/manage/fund", {"check_transaction_id": hold})
        deadline = time.monotonic() + 60
        while not erp.find("payment", f"PTA{hold}-RCP") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert [d.amount for d in erp.find("payment", f"PTA{hold}-RCP")] == [Decimal("75.00")], dump_logs(stack)
    finally:
        erp.close()
        client.close()


def test_two_paytrace_accounts_reach_their_own_erps_in_one_deployment(stack_factory, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shipped = (DEFAULT_MAPPINGS_DIR / "paytrace-sage50.yaml").read_text()
    (mappings / "main.yaml").write_text(shipped)
    (mappings / "east.yaml").write_text(shipped.replace("  account: demo", "  account: east-store").replace(
        "name: PayTrace to Sage 50 (default)", "name: East store to its Sage 50"))
    with SandboxServer(paytrace_app("east-store", "pw-east", "PAYSYNC1")) as east_paytrace, \
            SandboxServer(sage50_app(api_key="east-key")) as east_erp:
        stack = stack_factory(erp="sage50", PAYSYNC_MAPPINGS=str(mappings), PAYSYNC_PAIRS="main,east",
                              PAYSYNC_PAIR_EAST_PAYTRACE_BASE_URL=east_paytrace.url,
                              PAYSYNC_PAIR_EAST_PAYTRACE_USERNAME="east-store",
                              PAYSYNC_PAIR_EAST_PAYTRACE_PASSWORD="pw-east",
                              PAYSYNC_PAIR_EAST_SAGE50_BASE_URL=east_erp.url,
                              PAYSYNC_PAIR_EAST_SAGE50_API_KEY="east-key")
        stack.start_worker("w1", concurrency=2)
        stack.start_beat()
        settings = get_settings()
        main_client = PayTraceClient(settings.for_pair("main").paytrace)
        east_client = PayTraceClient(settings.for_pair("east").paytrace)
        main_erp = build_connector("sage50", settings.for_pair("main").sage50)
        east_erp_c = build_connector("sage50", settings.for_pair("east").sage50)
        try:
            main_sales = make_sales(main_client, 3, seed=11, decline_every=0)
            east_sales = make_sales(east_client, 2, seed=12, decline_every=0)
            # both sandboxes start numbering at the same id: the same number in two accounts is two payments
            assert {s.transaction_id for s in main_sales} & {s.transaction_id for s in east_sales}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with session_scope(stack.database_url) as s:
                    done = {(r.pair, r.transaction_id) for r in s.query(SyncRun).filter_by(status="succeeded")}
                if len(done) >= 5:
                    break
                time.sleep(0.5)
            assert done == {("main", s.transaction_id) for s in main_sales} | \
                {("east", s.transaction_id) for s in east_sales}, dump_logs(stack)
            for sale in main_sales:
                assert [d.amount for d in main_erp.find("payment", f"PT{sale.transaction_id}-RCP")] == [sale.amount]
            for sale in east_sales:
                assert [d.amount for d in east_erp_c.find("payment", f"PT{sale.transaction_id}-RCP")] == [sale.amount]
            main_ids = {s.transaction_id for s in main_sales}
            east_only = [s for s in east_sales if s.transaction_id not in main_ids]
            for sale in east_only:  # an east payment never lands in main's books
                assert main_erp.find("payment", f"PT{sale.transaction_id}-RCP") == []
        finally:
            for closeable in (main_client, east_client, main_erp, east_erp_c):
                closeable.close()
