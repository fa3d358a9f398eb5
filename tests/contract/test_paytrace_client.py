"""PayTraceClient against the PayTrace sandbox over HTTP: tokens, integrator id, errors, exports."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests

from config.settings import Secret
from connectors.errors import ConfigurationError, NotFoundError
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from connectors.paytrace.mapping import export_date
from sandbox.paytrace import create_app
from sandbox.server import SandboxServer
from schemas.paytrace import load_transaction

CARD = {"number": "4012000098765439", "expiration_month": 12, "expiration_year": 2030}


@pytest.fixture
def sandbox():
    with SandboxServer(create_app("u", "p", "INTEG1")) as server:
        yield server


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def client_for(server, integrator="INTEG1", password="p", clock=None) -> PayTraceClient:
    cfg = PayTraceConfig(server.url, "u", Secret(password), integrator, timeout=5, retries=0)
    return PayTraceClient(cfg, clock=clock) if clock else PayTraceClient(cfg)


def sale(client, amount="10.00", **extra):
    return client.transact("transactions/sale/keyed", {"amount": amount, "credit_card": CARD, "csc": "999",
                                                       "billing_address": {"name": "Ada", "zip": "99201"}, **extra})


def test_token_is_cached_and_renewed_before_it_expires(sandbox):
    clock = Clock()
    client = client_for(sandbox, clock=clock)
    for _ in range(5):
        sale(client)
    assert client.token_grants == 1
    clock.now += 7200 - 299  # inside the renewal margin, before PayTrace's 7200 s run out
    sale(client)
    assert client.token_grants == 2


def test_a_token_refused_as_invalid_is_renewed_once_transparently(sandbox):
    client = client_for(sandbox)
    sale(client)
    requests.post(f"{sandbox.url}/_sandbox/expire_tokens", timeout=5).raise_for_status()
    answer = sale(client)
    assert answer["success"] is True and client.token_grants == 2


def test_wrong_password_and_wrong_integrator_id_are_configuration_errors(sandbox):
    with pytest.raises(ConfigurationError, match="invalid_grant"):
        sale(client_for(sandbox, password="nope"))
    with pytest.raises(ConfigurationError, match="971"):
        sale(client_for(sandbox, integrator="BOGUS"))


def test_declines_are_answers_with_a_transaction_id(sandbox):
    answer = sale(client_for(sandbox), amount="0.21")
    assert answer["success"] is False and answer["response_code"] == 102 and answer["transaction_id"]


def test_by_id_and_by_date_range_exports_load_into_the_domain(sandbox):
    client = client_for(sandbox)
    made = sale(client, amount="110.10", invoice_id="inv1234")
    gateway = PayTraceGateway(client)
    record = gateway.transaction(made["transaction_id"])
    txn = load_transaction(record)
    assert txn.amount == Decimal("110.10") and txn.invoice_id == "inv1234"
    assert txn.card_brand == "VISA" and txn.masked_card.endswith("5439")
    assert "4012000098765439" not in str(record)
    today = date.today()
    listed = gateway.transactions_between(today - timedelta(days=1), today + timedelta(days=1))
    assert made["transaction_id"] in {r["transaction_id"] for r in listed}
    with pytest.raises(NotFoundError):
        gateway.transaction(999)


def test_export_dates_are_mm_dd_yyyy():
    assert export_date(date(2026, 3, 7)) == "03/07/2026"
