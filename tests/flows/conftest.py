"""The fast tier: flows run in this process (tests/inprocess.py) on SQLite, the sandboxes in threads.

A `world` is one integration pair: a PayTrace sandbox, an ERP under test (its sandbox over real
HTTP, or Sage Pro's tables), a fresh paysync database, and the FlowContext the workers would build,
with the ERP's shipped mapping unless a test gives its own.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping, rates_for
from config.settings import Secret
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from db.migrate import upgrade
from flows.runs import FlowContext
from sandbox.paytrace import create_app as paytrace_app
from sandbox.server import SandboxServer
from schemas.mapping import Mapping
from tests.contract.erps import ERPS, ErpUnderTest


@dataclass
class World:
    """Everything one in-process pair needs, and the client a test pays with."""

    ctx: FlowContext
    paytrace: PayTraceClient
    paytrace_url: str
    erp: ErpUnderTest

    def with_mapping(self, mapping: Mapping) -> "World":
        return replace(self, ctx=replace(self.ctx, mapping=mapping, rates=rates_for(mapping)))

    def sale(self, amount: str, *, card: str = "4012000098765439", name: str = "Ada Lovelace", invoice_id: str = "",
             customer_id: str = "", **extra) -> int:
        if customer_id:
            body = {"customer_id": customer_id}
            path = "transactions/sale/by_customer"
        else:
            body = {"credit_card": {"number": card, "expiration_month": 12, "expiration_year": 2030}, "csc": "999",
                    "billing_address": {"name": name, "zip": "99201"}}
            path = "transactions/sale/keyed"
        answer = self.paytrace.transact(path, {"amount": amount, **body,
                                               **({"invoice_id": invoice_id} if invoice_id else {}), **extra})
        return int(answer["transaction_id"])

    def settle(self) -> None:
        self.paytrace.call("transactions/settle", {})

    def refund(self, transaction_id: int, amount: str | None = None) -> int:
        body = {"transaction_id": transaction_id, **({"amount": amount} if amount else {})}
        return int(self.paytrace.call("transactions/refund/for_transaction", body)["transaction_id"])

    def record(self, transaction_id: int) -> dict:
        return PayTraceGateway(self.paytrace).transaction(transaction_id)


def make_world(stack: ExitStack, tmp_path, erp: str, *, refund_links: bool = False,
               mapping: Mapping | None = None, refund_link_wait: float = 0.0) -> World:
    paytrace = stack.enter_context(SandboxServer(paytrace_app("demo", "demo", "PAYSYNC1", refund_links=refund_links)))
    under_test = stack.enter_context(ERPS[erp]())
    db_url = f"sqlite:///{tmp_path / f'paysync-{erp}.sqlite3'}"
    upgrade(db_url)
    client = PayTraceClient(PayTraceConfig(paytrace.url, "demo", Secret("demo"), "PAYSYNC1", retries=0))
    stack.callback(client.close)
    mapping = mapping or load_mapping(DEFAULT_MAPPINGS_DIR / f"paytrace-{erp}.yaml")
    ctx = FlowContext(db_url=db_url, gateway=PayTraceGateway(client), erp=under_test.connector, mapping=mapping,
                      lease_seconds=60, rates=rates_for(mapping), refund_link_wait_seconds=refund_link_wait)
    return World(ctx, client, paytrace.url, under_test)


@pytest.fixture
def world_factory(tmp_path):
    with ExitStack() as stack:
        yield lambda erp="sage50", **kw: make_world(stack, tmp_path, erp, **kw)


@pytest.fixture(params=sorted(ERPS))
def any_world(request, world_factory):
    """The same scenario over every ERP."""
    return world_factory(request.param)


MONEY = Decimal("0.01")
