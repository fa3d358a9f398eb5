"""Customer sync both ways over the PayTrace sandbox, each ERP sandbox that reads customers, and PostgreSQL.

The flow is plain functions, so the tests call `sync_customers` directly (no broker); the vault and
the ERP are real sandboxes over HTTP (or SQL for Sage Pro), the links real PostgreSQL rows.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import replace

import pytest
import requests
from sqlalchemy import select

from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from config.settings import Secret
from connectors.base import ErpConnector
from connectors.errors import RetriableError
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from db.migrate import upgrade
from db.models import CustomerLink, PollerCursor, ReviewItem
from db.session import session_scope
from flows import customers
from flows.runs import FlowContext
from flows.review import list_items
from sandbox.paytrace import create_app as paytrace_app
from sandbox.server import SandboxServer
from schemas.domain import Address, Customer
from schemas.mapping import Customers
from tests.contract.erps import ERPS

CARD = "4012000098765439"  # a test card: given to the vault once, never to be found in our tables
CHECK_ACCOUNT = "000123456789"


# -- fixtures by domain: the vault, the ERP, the links database ---------------------------------------
@pytest.fixture
def vault():
    with SandboxServer(paytrace_app("demo", "demo", "PAYSYNC1")) as server:
        client = PayTraceClient(PayTraceConfig(server.url, "demo", Secret("demo"), "PAYSYNC1", timeout=5, retries=0))
        yield Vault(server.url, client, PayTraceGateway(client))
        client.close()


class Vault:
    """The PayTrace sandbox's vault, as a merchant's other systems would change it."""

    def __init__(self, url: str, client: PayTraceClient, gateway: PayTraceGateway) -> None:
        self.url, self.client, self.gateway = url, client, gateway

    def create(self, profile_id: str, *, name: str = "Ada Lovelace", email: str = "", phone: str = "509-555-0100",
               street: str = "1 Main St", city: str = "Spokane", state: str = "WA", zip_code: str = "99201",
               check: bool = False) -> str:
        payment = ({"check": {"account_number": CHECK_ACCOUNT, "routing_number": "325081403"}} if check else
                   {"credit_card": {"number": CARD, "expiration_month": 12, "expiration_year": 2030}})
        self.client.call("customer/create", {
            "customer_id": profile_id, **payment, "email": email or f"{profile_id}@example.com", "phone": phone,
            "billing_address": {"name": name, "street_address": street, "city": city, "state": state,
                                "zip": zip_code, "country": "US"}})
        return profile_id

    def update(self, profile_id: str, **body) -> None:
        self.client.call("customer/update", {"customer_id": profile_id, **body})

    def profile(self, profile_id: str) -> dict:
        (record,) = self.gateway.customers(profile_id)
        return record

    def fail_every_call(self, on: bool) -> None:
        requests.post(f"{self.url}/_sandbox/faults", json={"error_rate": 1.0 if on else 0.0},
                      timeout=5).raise_for_status()


@pytest.fixture(params=sorted(ERPS))
def erp(request):
    with ERPS[request.param]() as under_test:
        if type(under_test.connector).customers_changed_since is ErpConnector.customers_changed_since:
            pytest.skip(f"{request.param}: its connector does not read customers yet")
        yield under_test


@pytest.fixture
def db_url(pg_url):
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def sync(db_url, vault, erp):
    """Run one customer sync with the ERP's shipped mapping and the given `customers` section."""
    mapping = load_mapping(DEFAULT_MAPPINGS_DIR / f"paytrace-{erp.name}.yaml")
    connector = erp.connector

    def run(duplicates: str = "review", erp_to_paytrace: bool = True) -> customers.CustomerSyncReport:
        ctx = FlowContext(db_url=db_url, gateway=vault.gateway, erp=connector, lease_seconds=60,
                          mapping=replace(mapping, customers=Customers(duplicates, erp_to_paytrace)))
        return customers.sync_customers(ctx)

    return run


def _id(prefix: str = "V") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def links(db_url: str) -> dict[str, CustomerLink]:
    with session_scope(db_url) as s:
        return {r.paytrace_customer_id: r for r in s.scalars(select(CustomerLink))}


def assert_no_card_data(db_url: str) -> None:
    """No card or account number in any link or review item: the masked number is the most kept."""
    with session_scope(db_url) as s:
        rows = [*s.scalars(select(CustomerLink)), *s.scalars(select(ReviewItem))]
    for row in rows:
        for column in type(row).__table__.columns:
            value = str(getattr(row, column.key))
            assert CARD not in value and CARD[6:12] not in value and CHECK_ACCOUNT not in value, (column.key, value)
            if not column.key.endswith("fingerprint"):  # hex digests may hold long digit runs by chance
                assert not re.search(r"\d{11,}", value), (column.key, value)
        if isinstance(row, CustomerLink) and row.masked_number:
            assert re.fullmatch(r"[x*]+\d{4}", row.masked_number), row.masked_number


# -- PayTrace -> ERP ------------------------------------------------------------------------------
def test_a_profile_becomes_one_erp_customer_and_a_second_sync_changes_nothing(vault, erp, sync, db_url):
    # given a vault profile paysync has never seen (and a check-only one)
    pid = vault.create(_id(), name="Ada Lovelace", email="ada@example.com")
    ach = vault.create(_id(), name="Grace Hopper", zip_code="98402", check=True)
    # when the customers are synced
    first = sync()
    # then each profile is a new ERP customer under the sale flow's id, linked, with only a masked number kept
    assert (first.created, first.updated, first.linked, first.review, first.errors) == (2, 0, 0, 0, [])
    made = erp.connector.customer(links(db_url)[pid].erp_customer_id)
    assert (made.name, made.email, made.address.postal_code) == ("Ada Lovelace", "ada@example.com", "99201")
    rows = links(db_url)
    assert rows[pid].status == "linked" and rows[pid].erp == erp.name
    assert rows[pid].masked_number.endswith(CARD[-4:]) and rows[ach].masked_number.endswith(CHECK_ACCOUNT[-4:])
    # and a second sync finds nothing to do: nothing created again, nothing pushed back
    second = sync()
    assert (second.created, second.updated, second.unchanged, second.pushed_to_paytrace) == (0, 0, 2, 0)
    assert [c.customer_id for c in erp.connector.find_customers(email="ada@example.com")] == \
           [rows[pid].erp_customer_id]
    assert_no_card_data(db_url)


def test_a_profile_address_change_updates_its_erp_customer_once(vault, erp, sync, db_url):
    pid = vault.create(_id())
    sync()
    # given the profile moved
    vault.update(pid, billing_address={"street_address": "9 Elm St", "city": "Olympia", "zip": "98501"},
                 phone="360-555-0142")
    # when synced
    report = sync()
    # then its ERP customer has the new address, and our write does not come back as an ERP change
    assert (report.updated, report.created, report.pushed_to_paytrace, report.errors) == (1, 0, 0, [])
    got = erp.connector.customer(links(db_url)[pid].erp_customer_id)
    assert (got.address.line1, got.address.city, got.address.postal_code) == ("9 Elm St", "Olympia", "98501")
    again = sync()
    assert (again.updated, again.unchanged, again.pushed_to_paytrace) == (0, 1, 0)
    assert vault.profile(pid)["billing_address"]["street_address"] == "9 Elm St"


# -- ERP -> PayTrace ------------------------------------------------------------------------------
def _edit_in_erp(erp, erp_id: str) -> None:
    """What an ERP user would do: a new email, phone and address on the customer."""
    time.sleep(1.1)  # Sage Pro stamps changes in whole seconds: an edit must fall after the cursor's second
    current = erp.connector.customer(erp_id)
    erp.connector.upsert_customer(Customer(
        erp_id, current.name, "ada.new@example.com", "206-555-0199",
        Address(current.address.name, "7 Pine Rd", "Unit 4", "Tacoma", "WA", "98402", "US")))


def test_an_erp_change_updates_the_profile_and_does_not_bounce_back(vault, erp, sync, db_url):
    pid = vault.create(_id(), name="Ada Lovelace")
    sync()
    erp_id = links(db_url)[pid].erp_customer_id
    # given an ERP user changed the customer's contact details
    _edit_in_erp(erp, erp_id)
    # when synced
    report = sync()
    # then the profile has them (read back from the vault's export), cardholder name and card untouched
    assert (report.pushed_to_paytrace, report.updated, report.errors) == (1, 0, [])
    profile = vault.profile(pid)
    b = profile["billing_address"]
    assert (profile["email"], profile["phone"]) == ("ada.new@example.com", "206-555-0199")
    assert (b["name"], b["street_address"], b["street_address2"], b["city"], b["zip"]) == \
           ("Ada Lovelace", "7 Pine Rd", "Unit 4", "Tacoma", "98402")
    assert profile["credit_card"]["masked_number"].endswith(CARD[-4:])
    # and the next sync neither writes the profile's (same) details back to the ERP nor pushes again
    again = sync()
    assert (again.pushed_to_paytrace, again.updated, again.unchanged, again.errors) == (0, 0, 1, [])
    assert_no_card_data(db_url)


def test_erp_changes_stay_one_way_when_the_mapping_says_so(vault, erp, sync, db_url):
    pid = vault.create(_id())
    sync(erp_to_paytrace=False)
    _edit_in_erp(erp, links(db_url)[pid].erp_customer_id)
    assert sync(erp_to_paytrace=False).pushed_to_paytrace == 0
    assert vault.profile(pid)["email"] == f"{pid}@example.com"


def test_a_failed_push_keeps_the_cursor_and_the_next_run_repeats_it(vault, erp, sync, db_url):
    pid = vault.create(_id())
    sync()
    _edit_in_erp(erp, links(db_url)[pid].erp_customer_id)
    with session_scope(db_url) as s:
        before = s.get(PollerCursor, "customers:default").position
    # given PayTrace fails every call while the ERP change is pushed
    ctx_report = customers.CustomerSyncReport()
    vault.fail_every_call(True)
    try:
        ctx = FlowContext(db_url=db_url, gateway=vault.gateway, erp=erp.connector, lease_seconds=60,
                          mapping=load_mapping(DEFAULT_MAPPINGS_DIR / f"paytrace-{erp.name}.yaml"))
        customers.push_erp_changes(ctx, "default", ctx_report)
    finally:
        vault.fail_every_call(False)
    # then the failure is on the report and the review list, and the cursor did not move past the change
    assert len(ctx_report.errors) == 1 and ctx_report.pushed_to_paytrace == 0
    with pytest.raises(RetriableError):
        ctx_report.raise_retriable()
    assert [i.kind for i in list_items(db_url, kind="customer_sync_failed")] == ["customer_sync_failed"]
    with session_scope(db_url) as s:
        assert s.get(PollerCursor, "customers:default").position == before
    # when the next run gets through, the change arrives and the review item is closed
    report = sync()
    assert (report.pushed_to_paytrace, report.errors) == (1, [])
    assert vault.profile(pid)["email"] == "ada.new@example.com"
    assert list_items(db_url, kind="customer_sync_failed") == []


def test_when_both_sides_changed_the_profile_wins_and_a_person_is_told(vault, erp, sync, db_url):
    pid = vault.create(_id())
    sync()
    erp_id = links(db_url)[pid].erp_customer_id
    # given an ERP user and the vault both changed the customer before the next run
    _edit_in_erp(erp, erp_id)
    vault.update(pid, phone="360-555-0142", billing_address={"street_address": "9 Elm St", "city": "Olympia"})
    report = sync()
    # then the profile's details are in the ERP, nothing bounces back, and the overwrite is on the review list
    assert (report.updated, report.pushed_to_paytrace, report.errors) == (1, 0, [])
    got = erp.connector.customer(erp_id)
    assert (got.phone, got.address.line1) == ("360-555-0142", "9 Elm St")
    (item,) = list_items(db_url, kind="customer_conflict")
    assert pid in item.reason and erp_id in item.reason
    assert sync().unchanged == 1


# -- duplicates -------------------------------------------------------------------------------------
def _existing_erp_customer(erp, email: str = "", name: str = "Lovelace Analytics", zip_code: str = "99201") -> str:
    """A customer the ERP had before paysync (its own id, no phone)."""
    return erp.connector.upsert_customer(Customer(
        _id("C"), name, email, "", Address(name, "1 Main St", "", "Spokane", "WA", zip_code, "US")))


def test_a_profile_with_an_erp_customers_email_goes_to_review_and_nothing_is_written(vault, erp, sync, db_url):
    existing = _existing_erp_customer(erp, email="ada@lovelace.example")
    pid = vault.create(_id(), email="ADA@Lovelace.example")
    report = sync(duplicates="review")
    assert (report.review, report.created, report.linked) == (1, 0, 0)
    # then a review item names the rule and both ids; the ERP has no second customer
    (item,) = list_items(db_url, kind="customer_duplicate")
    assert "same email" in item.reason and pid in item.reason and existing in item.reason
    assert [c.customer_id for c in erp.connector.find_customers(email="ada@lovelace.example")] == [existing]
    assert erp.connector.customer(f"PT-{pid}") is None
    assert erp.connector.customer(existing).phone == ""  # not even its blanks were filled
    assert links(db_url)[pid].status == "review"
    # and it stays waiting on a person, without a second review item
    again = sync(duplicates="review")
    assert (again.review, again.created) == (1, 0) and len(list_items(db_url, kind="customer_duplicate")) == 1
    assert_no_card_data(db_url)


def test_a_person_settles_a_duplicate_by_linking_it_or_keeping_it_apart(vault, erp, sync, db_url):
    from flows.customer_links import settle_duplicate

    existing = _existing_erp_customer(erp, email="ada@lovelace.example")
    same = vault.create(_id(), email="ada@lovelace.example")
    other = vault.create(_id(), email="ADA@lovelace.example")
    assert sync(duplicates="review").review == 2
    settle_duplicate(db_url, "default", same, link_to=existing, who="pat")
    settle_duplicate(db_url, "default", other, link_to=None, who="pat")
    with pytest.raises(LookupError):
        settle_duplicate(db_url, "default", same, link_to=existing, who="pat")  # already decided
    report = sync(duplicates="review")
    # then the linked one is that customer, the one kept apart has its own, and the list is clear
    assert (report.review, report.created) == (0, 1)
    assert links(db_url)[same].erp_customer_id == existing and links(db_url)[same].status == "linked"
    assert links(db_url)[other].status == "linked" and erp.connector.customer(links(db_url)[other].erp_customer_id)
    assert links(db_url)[other].erp_customer_id != existing
    assert list_items(db_url, kind="customer_duplicate") == []
    assert sync(duplicates="review").created == 0


def test_a_profile_with_an_erp_customers_email_is_merged_when_the_mapping_says_so(vault, erp, sync, db_url):
    existing = _existing_erp_customer(erp, email="ada@lovelace.example")
    pid = vault.create(_id(), email="ada@lovelace.example", phone="509-555-0100")
    report = sync(duplicates="merge")
    # then it is linked to the ERP's customer: no second customer, the ERP's name kept, a blank phone filled
    assert (report.linked, report.created, report.review, report.errors) == (1, 0, 0, [])
    assert links(db_url)[pid].erp_customer_id == existing and links(db_url)[pid].status == "linked"
    assert erp.connector.customer(f"PT-{pid}") is None
    got = erp.connector.customer(existing)
    assert (got.name, got.phone) == ("Lovelace Analytics", "509-555-0100")
    assert list_items(db_url, kind="customer_duplicate") == []
    # and nothing moves on the next sync
    again = sync(duplicates="merge")
    assert (again.unchanged, again.updated, again.pushed_to_paytrace) == (1, 0, 0)
    assert_no_card_data(db_url)


def test_the_same_name_and_postal_code_is_a_duplicate_too(vault, erp, sync, db_url):
    name = f"Grace {_id('H')}"
    existing = _existing_erp_customer(erp, name=name, zip_code="98402")
    pid = vault.create(_id(), name=name, zip_code="98402")
    assert sync(duplicates="review").review == 1
    (item,) = list_items(db_url, kind="customer_duplicate")
    assert "same name and postal code" in item.reason and existing in item.reason and pid in item.reason


def test_a_profile_whose_id_is_an_erp_customers_id_is_that_customer(vault, erp, sync, db_url):
    existing = _existing_erp_customer(erp, email="books@lovelace.example")
    vault.create(existing, email="ada@example.com")
    report = sync(duplicates="merge")
    assert (report.linked, report.created) == (1, 0) and links(db_url)[existing].erp_customer_id == existing


def test_a_profile_whose_sale_made_its_erp_customer_is_linked_to_it(vault, erp, sync, db_url):
    # given the sale flow already made the profile's customer (same id rule), from a sale's billing details
    pid = vault.create(_id(), phone="509-555-0100")
    erp.connector.upsert_customer(Customer(f"PT-{pid}", "Ada Lovelace", f"{pid}@example.com", "",
                                           Address("Ada Lovelace", "1 Main St", "", "Spokane", "WA", "99201", "US")))
    report = sync(duplicates="review")
    # then it is ours: linked, not a duplicate, and it takes the profile's details
    assert (report.linked, report.review, report.created) == (1, 0, 0)
    assert erp.connector.customer(links(db_url)[pid].erp_customer_id).phone == "509-555-0100"


def test_one_failing_customer_does_not_stop_the_others(vault, erp, sync, db_url):
    first = vault.create(_id(), name="Ada Lovelace")
    second = vault.create(_id(), name="Grace Hopper", zip_code="98402")
    assert sync().created == 2
    for pid in (first, second):
        vault.update(pid, phone="360-555-0142")
    # given the ERP has the first customer's record open elsewhere
    erp.lock_customer(links(db_url)[first].erp_customer_id)
    report = sync()
    assert report.updated == 1 and len(report.errors) == 1 and first in report.errors[0]
    with pytest.raises(RetriableError):
        report.raise_retriable()
    (item,) = list_items(db_url, kind="customer_sync_failed")
    assert first in item.reference


# -- the task on beat's schedule, through a real worker ----------------------------------------------
@pytest.mark.slow
def test_beat_runs_the_customer_sync_task_on_a_real_worker(stack_factory):
    from config.settings import get_settings
    from tests.conftest import dump_logs

    stack = stack_factory(erp="sage50", CUSTOMER_SYNC_INTERVAL_SECONDS="10")
    client = PayTraceClient(get_settings().paytrace)
    pid = Vault(stack.paytrace.url, client, PayTraceGateway(client)).create(_id())
    stack.start_worker("w1", concurrency=1)
    stack.start_beat()
    deadline, row = time.monotonic() + 60, None
    while time.monotonic() < deadline and row is None:
        row = links(stack.database_url).get(pid)
        time.sleep(0.5)
    client.close()
    assert row is not None and row.status == "linked", dump_logs(stack)
    assert row.erp_customer_id == f"PT-{pid}"
    assert_no_card_data(stack.database_url)


# -- the command ------------------------------------------------------------------------------------
def test_the_command_syncs_and_prints_the_report_as_a_table(vault, db_url, monkeypatch):
    from click.testing import CliRunner

    from cli.main import main
    from config.settings import get_settings
    from sandbox.sage50 import create_app as sage50_app

    pid = vault.create(_id())
    with SandboxServer(sage50_app(api_key="k")) as sage:
        for key, value in {"DATABASE_URL": db_url, "PAYTRACE_BASE_URL": vault.url, "PAYTRACE_USERNAME": "demo",
                           "PAYTRACE_PASSWORD": "demo", "PAYTRACE_INTEGRATOR_ID": "PAYSYNC1", "PAYSYNC_ERP": "sage50",
                           "SAGE50_BASE_URL": sage.url, "SAGE50_API_KEY": "k", "HTTP_RETRIES": "0"}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        try:
            first = CliRunner().invoke(main, ["customers", "sync"], terminal_width=120)
            second = CliRunner().invoke(main, ["customers", "sync"], terminal_width=120)
        finally:
            get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert re.search(r"created\s*│\s*1\b", first.output) and re.search(r"unchanged\s*│\s*1\b", second.output)
    assert links(db_url)[pid].erp_customer_id == f"PT-{pid}"
