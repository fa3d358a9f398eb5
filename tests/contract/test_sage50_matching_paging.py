"""The Sage 50 connector's matching reads follow the bridge's pages to the end, and refuse what
the bridge cannot search (docs/sage50-bridge-api.md "Lists: filters and paging")."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests

from connectors.errors import ValidationError
from connectors.sage50 import client as sage50_client
from schemas.domain import Customer, OrderLine, SalesOrder
from tests.contract.erps import sage50

DAY = date(2026, 11, 20)


@pytest.fixture
def erp(monkeypatch):
    monkeypatch.setattr(sage50_client, "PAGE_SIZE", 2)  # a few records then span several pages
    with sage50() as under_test:
        yield under_test


def _requests_to(erp, path: str) -> int:
    stats = requests.get(f"{erp.connector.config.base_url}/_sandbox/stats", timeout=5).json()
    return sum(stats["requests"].get(f"GET {path}", {}).values())


def test_every_page_is_read_for_invoices_and_customer_changes(erp) -> None:
    c = erp.connector
    for n in range(5):
        c.upsert_customer(Customer(f"C{n}", f"Customer {n}", f"c{n}@example.com"))
    for n in range(5):
        c.ensure_invoice(SalesOrder(f"I{n}", "C0", DAY, (OrderLine(erp.item, Decimal("1"), Decimal("70")),),
                                    customer_po="PO-SHARED"))
    before = _requests_to(erp, "/v1/invoices")
    assert len(c.find_invoices(c.invoice_po_field, "PO-SHARED")) == 5
    assert _requests_to(erp, "/v1/invoices") - before == 3  # pages of 2, 2 and 1
    assert len(list(c.open_invoices(customer_id="C0", amount=Decimal("70.00")))) == 5
    changes = list(c.customers_changed_since(None))
    assert [ch.customer.customer_id for ch in changes] == [f"C{n}" for n in range(5)]
    assert [ch.changed_at for ch in changes] == sorted(ch.changed_at for ch in changes)


def test_an_unsearchable_field_or_a_name_without_postal_code_asks_the_bridge_nothing(erp) -> None:
    c = erp.connector
    with pytest.raises(ValidationError):
        c.find_invoices("Amount", "70.00")
    assert c.find_customers(name="Customer 1") == []
    assert _requests_to(erp, "/v1/invoices") == _requests_to(erp, "/v1/customers") == 0
