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
from schemas.paytrace import load_check, load_transaction

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


# -- checks, vault profiles and vault sales -----------------------------------------------------
ACCOUNT = "000123456789"
CHECK = {"account_number": ACCOUNT, "routing_number": "325070760"}
BILLING = {"name": "Ada", "street_address": "1 Elm", "city": "Spokane", "state": "WA", "zip": "99201",
           "country": "US"}


def today_window() -> tuple[date, date]:
    today = date.today()
    return today - timedelta(days=1), today + timedelta(days=1)


def vault(client, customer_id, **payment):
    body = {"customer_id": customer_id, "billing_address": BILLING, "email": f"{customer_id}@example.com",
            "phone": "5095550100", **(payment or {"credit_card": CARD})}
    client.call("customer/create", body)


def test_checks_are_read_by_their_own_ids_and_load_as_ach(sandbox):
    # given a card sale and a check sale that got the same id (the sequences overlap on purpose)
    client = client_for(sandbox)
    card_id = sale(client, amount="5.00")["transaction_id"]
    made = client.transact("checks/sale/by_account", {"amount": "25.00", "check": CHECK, "billing_address": BILLING,
                                                      "invoice_id": "INV-7"})
    assert made["check_transaction_id"] == card_id
    gateway = PayTraceGateway(client)
    # when each is read through its own method, then each is itself
    assert gateway.transaction(card_id)["amount"] == 5.0
    record = gateway.check(card_id)
    txn = load_check(record)
    assert (txn.payment_type, txn.card_brand, txn.masked_card) == ("ACH", "ACH", "xxxxxx6789")
    assert (txn.transaction_type, txn.status_code, txn.amount) == ("SALE", "Y", Decimal("25.00"))
    assert txn.invoice_id == "INV-7" and txn.transaction_id == card_id
    assert load_transaction(gateway.transaction(card_id)).payment_type == "CARD"
    assert [r["check_transaction_id"] for r in gateway.checks_between(*today_window())] == [card_id]
    assert ACCOUNT not in str(record)
    with pytest.raises(NotFoundError):
        gateway.check(card_id + 1)


def test_a_check_that_is_not_processed_is_an_answer_and_loads_as_declined(sandbox):
    client = client_for(sandbox)
    answer = client.transact("checks/sale/by_account", {"amount": "0.21", "check": CHECK, "billing_address": BILLING})
    # ach_code is the number 0 with no message, as recorded [C]: no reason is made up from it
    assert answer["success"] is False and answer["response_code"] == 125 and answer["ach_code"] == 0
    txn = load_check(PayTraceGateway(client).check(answer["check_transaction_id"]))
    assert (txn.transaction_type, txn.status_code) == ("DECLINED", "N")
    assert txn.status_message == "Not Processed" and txn.is_declined


def test_settled_and_returned_checks_map_to_settled_and_returned(sandbox):
    client = client_for(sandbox)
    check_id = client.transact("checks/sale/by_account", {"amount": "8.00", "check": CHECK,
                                                          "billing_address": BILLING})["check_transaction_id"]
    gateway = PayTraceGateway(client)
    requests.post(f"{sandbox.url}/_sandbox/checks/settle", timeout=5).raise_for_status()
    settled = load_check(gateway.check(check_id))
    assert settled.status_code == "SETTLED" and settled.settled_at is not None and settled.batch_number is None
    requests.post(f"{sandbox.url}/_sandbox/checks/return", json={"check_transaction_id": check_id,
                                                                 "ach_code": "R02"}, timeout=5).raise_for_status()
    returned = load_check(gateway.check(check_id))
    assert (returned.transaction_type, returned.status_code) == ("SALE", "RETURNED")
    assert returned.status_message == "Returned (R02 Account Closed)"


def test_customers_lists_profiles_with_contact_details(sandbox):
    client = client_for(sandbox)
    vault(client, "c1")
    vault(client, "c2", check=CHECK)
    gateway = PayTraceGateway(client)
    profiles = {c["customer_id"]: c for c in gateway.customers()}
    assert set(profiles) == {"c1", "c2"}
    assert profiles["c1"]["email"] == "c1@example.com" and profiles["c1"]["phone"] == "5095550100"
    assert profiles["c1"]["billing_address"]["city"] == "Spokane" and "shipping_address" in profiles["c1"]
    assert profiles["c2"]["check"]["masked_account_number"] == "xxxxxx6789"
    assert [c["customer_id"] for c in gateway.customers("c2")] == ["c2"]
    assert gateway.customers("nobody") == []
    assert ACCOUNT not in str(profiles)


def test_update_customer_sends_contact_details_only(sandbox):
    client = client_for(sandbox)
    vault(client, "c1")
    gateway = PayTraceGateway(client)
    answer = gateway.update_customer("c1", email="new@example.com", phone="5095550199",
                                     billing_address={"street_address": "9 Pine", "zip": "99202"})
    assert (answer["success"], answer["response_code"]) == (True, 161)
    profile = gateway.customers("c1")[0]
    assert (profile["email"], profile["phone"]) == ("new@example.com", "5095550199")
    assert profile["billing_address"]["street_address"] == "9 Pine" and profile["billing_address"]["name"] == "Ada"
    assert profile["credit_card"]["masked_number"].endswith("5439")
    with pytest.raises(ValueError, match="nothing to update"):
        gateway.update_customer("c1")
    with pytest.raises(ValueError, match="not billing address fields: credit_card"):
        gateway.update_customer("c1", billing_address={"credit_card": CARD})
    with pytest.raises(ValueError, match="card or account data"):
        gateway.update_customer("c1", billing_address={"street_address": CARD["number"]})
    with pytest.raises(NotFoundError):
        gateway.update_customer("nobody", email="x@example.com")


def test_sale_by_customer_sends_the_amount_as_text_and_returns_declines(sandbox, monkeypatch):
    client = client_for(sandbox)
    vault(client, "c1")
    gateway = PayTraceGateway(client)
    sent = []
    real_call = client.call
    monkeypatch.setattr(client, "call", lambda path, body=None, **kw: sent.append(body) or real_call(path, body, **kw))
    answer = gateway.sale_by_customer("c1", Decimal("19.99"), invoice_id="INV-1", description="March")
    assert answer["success"] is True and answer["response_code"] == 101
    assert sent[-1] == {"customer_id": "c1", "amount": "19.99", "invoice_id": "INV-1", "description": "March"}
    record = load_transaction(gateway.transaction(answer["transaction_id"]))
    assert (record.amount, record.invoice_id, record.customer_id) == (Decimal("19.99"), "INV-1", "c1")
    declined = gateway.sale_by_customer("c1", Decimal("0.21"), invoice_id="INV-2")
    assert declined["success"] is False and declined["response_code"] == 102 and declined["transaction_id"]
    with pytest.raises(TypeError):
        gateway.sale_by_customer("c1", 19.99, invoice_id="INV-3")  # type: ignore[arg-type]
    for bad in (Decimal("0"), Decimal("1.001"), Decimal("-5")):
        with pytest.raises(ValueError):
            gateway.sale_by_customer("c1", bad, invoice_id="INV-3")
    with pytest.raises(ValueError, match="invoice_id"):
        gateway.sale_by_customer("c1", Decimal("1.00"), invoice_id=" ")
    with pytest.raises(NotFoundError):
        gateway.sale_by_customer("nobody", Decimal("1.00"), invoice_id="INV-4")


def test_sales_for_invoice_matches_the_invoice_exactly(sandbox):
    client = client_for(sandbox)
    vault(client, "c1")
    vault(client, "c2")
    gateway = PayTraceGateway(client)
    charged = gateway.sale_by_customer("c1", Decimal("10.00"), invoice_id="INV-1")["transaction_id"]
    declined = gateway.sale_by_customer("c1", Decimal("0.21"), invoice_id="INV-1")["transaction_id"]
    gateway.sale_by_customer("c1", Decimal("10.00"), invoice_id="INV-10")  # a longer id, same prefix
    gateway.sale_by_customer("c2", Decimal("10.00"), invoice_id="INV-1")  # another customer
    found = gateway.sales_for_invoice("c1", "INV-1", *today_window())
    assert [r["transaction_id"] for r in found] == [charged, declined]
    assert [r["transaction_type"] for r in found] == ["SALE", "DECLINED"]
    assert gateway.sales_for_invoice("c1", "INV-2", *today_window()) == []


def test_sales_for_invoice_does_not_trust_including_text_to_find_a_charge(sandbox, monkeypatch):
    # given a PayTrace whose including_text searches something else than we guessed [I]
    client = client_for(sandbox)
    vault(client, "c1")
    gateway = PayTraceGateway(client)
    charged = gateway.sale_by_customer("c1", Decimal("10.00"), invoice_id="INV-1")["transaction_id"]
    real_call = client.call
    asked = []

    def blind_text(path, body=None, **kw):
        asked.append(dict(body or {}))
        if body and "including_text" in body:
            body = {**body, "including_text": "matches-nothing"}
        return real_call(path, body, **kw)

    monkeypatch.setattr(client, "call", blind_text)
    # when paysync asks whether the invoice was charged, then the charge is still found
    found = gateway.sales_for_invoice("c1", "INV-1", *today_window())
    assert [r["transaction_id"] for r in found] == [charged]
    assert [("including_text" in a, a["customer_id"]) for a in asked] == [(True, "c1"), (False, "c1")]


def test_the_paytrace_layout_renames_the_inferred_names_and_can_turn_the_narrowing_filter_off(sandbox):
    # Given a site whose account has no `including_text` filter (PAYTRACE_LAYOUT {"including_text": ""})
    from connectors.paytrace.config import PayTraceLayout

    layout = PayTraceLayout.from_overrides({"including_text": ""})
    client = PayTraceClient(PayTraceConfig(sandbox.url, "u", Secret("p"), "INTEG1", timeout=5, retries=0,
                                           layout=layout))
    vault(client, "c1")
    gateway = PayTraceGateway(client)
    asked = []
    real_call = client.call
    charged = gateway.sale_by_customer("c1", Decimal("10.00"), invoice_id="INV-9")["transaction_id"]
    client.call = lambda path, body=None, **kw: asked.append(dict(body or {})) or real_call(path, body, **kw)
    # When paysync asks whether the invoice was charged, then it reads the range once, unfiltered, and finds it
    assert [r["transaction_id"] for r in gateway.sales_for_invoice("c1", "INV-9", *today_window())] == [charged]
    assert len(asked) == 1 and "including_text" not in asked[0]
    # And a site whose check export is elsewhere names it: the sandbox has none there, so PayTrace says 404
    elsewhere = PayTraceGateway(PayTraceClient(PayTraceConfig(
        sandbox.url, "u", Secret("p"), "INTEG1", timeout=5, retries=0,
        layout=PayTraceLayout.from_overrides({"check_export_by_id": "checks/export/one"}))))
    with pytest.raises(Exception, match="checks/export/one"):
        elsewhere.check(1)
