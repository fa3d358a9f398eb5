"""Property: any sequence of sale, partial refunds, void and chargeback on one transaction leaves the
ERP agreeing with PayTrace: card clearing holds what PayTrace will settle (less any chargeback),
the invoice is open only after a void, the cash account nets to zero, and every journal balances.

The flows are plain functions, so this drives them directly (no broker) against the Sage 50
sandbox over HTTP, with PostgreSQL as the ledger.
"""
from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from cli.traffic import TEST_CARDS
from config.settings import load_settings
from connectors.paytrace import PayTraceClient
from db.migrate import upgrade
from tests import inprocess
from sandbox.paytrace import create_app as paytrace_app
from sandbox.sage50 import create_app as sage50_app
from sandbox.server import SandboxServer
from workers.context import build_context

logging.getLogger("werkzeug").setLevel(logging.WARNING)
CASH, CLEARING = "1200", "1205"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import uuid

    from sqlalchemy import create_engine, text

    from tests.conftest import PG_ADMIN_URL

    name = f"paysync_p_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(db_url)
    with SandboxServer(paytrace_app("demo", "demo", "PAYSYNC1")) as pt, SandboxServer(sage50_app(api_key="k")) as sage:
        s = load_settings({"PAYSYNC_ENV": "test", "DATABASE_URL": db_url, "PAYTRACE_BASE_URL": pt.url,
                           "SAGE50_BASE_URL": sage.url, "SAGE50_API_KEY": "k", "HTTP_RETRIES": "0",
                           "REFUND_LINK_WAIT_SECONDS": "0"})
        yield s, build_context(s), PayTraceClient(s.paytrace), sage.url
    from db.session import get_engine

    get_engine(db_url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def deliver(world, source_event: str, transaction_id: int, payload: dict | None = None) -> None:
    """Store an event and run what it calls for, stage by stage, as the workers would."""
    _, ctx, _, _ = world
    inprocess.deliver(ctx, source="webhook", event_id=f"{source_event}:{transaction_id}", event_type=source_event,
                      transaction_id=transaction_id, payload=payload)


OPS = st.one_of(
    st.just([("void",)]),
    st.lists(st.tuples(st.just("refund"), st.integers(1, 60)), max_size=3).flatmap(
        lambda refunds: st.lists(st.tuples(st.just("chargeback"), st.integers(1, 100)), max_size=1).map(
            lambda cb: refunds + cb)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(1000, 50000), ops=OPS)
def test_any_lifecycle_leaves_the_erp_agreeing_with_paytrace(world, cents, ops):
    s, ctx, client, sage_url = world
    amount = Decimal(cents) / 100
    sale = client.transact("transactions/sale/keyed", {
        "amount": str(amount), "csc": "999", "billing_address": {"name": "Barbara Liskov", "zip": "02139"},
        "invoice_id": f"WEB-{uuid.uuid4().hex[:10]}",  # a web shop's order number: what links its refunds
        "credit_card": {"number": TEST_CARDS[cents % 4], "expiration_month": 12, "expiration_year": 2030}})
    txn = int(sale["transaction_id"])
    deliver(world, "transaction.sale", txn)
    voided, refunded, charged_back, refund_ids = False, Decimal("0"), Decimal("0"), []
    if ops and ops[0][0] != "void":
        client.call("transactions/settle", {})
    for op in ops:
        if op[0] == "void":
            client.call("transactions/void", {"transaction_id": txn})
            deliver(world, "transaction.void", txn)
            voided = True
        elif op[0] == "refund":
            part = (amount * op[1] / 100).quantize(Decimal("0.01"))
            if part <= 0 or refunded + part > amount:
                continue  # PayTrace would refuse it: nothing happened
            refund = client.call("transactions/refund/for_transaction", {"transaction_id": txn, "amount": str(part)})
            refund_ids.append(int(refund["transaction_id"]))
            deliver(world, "transaction.refund", int(refund["transaction_id"]))
            refunded += part
        else:
            part = (amount * op[1] / 100).quantize(Decimal("0.01"))
            deliver(world, "chargeback", txn, {"case_id": f"CB{txn}", "transaction_id": txn, "amount": str(part)})
            charged_back = part

    state = requests.get(f"{sage_url}/_sandbox/state", timeout=10).json()
    mine = {f"PT{txn}-JE", f"PT{txn}-VJE", f"PT{txn}-CB", *(f"PT{r}-JE" for r in refund_ids)}
    journals = [j for j in state["journal_entries"] if j["ReferenceNumber"] in mine]
    for entry in journals:
        assert sum(Decimal(l["Amount"]) for l in entry["Lines"]) == 0, entry
    clearing = sum((Decimal(l["Amount"]) for j in journals for l in j["Lines"] if l["AccountID"] == CLEARING),
                   Decimal("0"))
    settles = Decimal("0") if voided else amount - refunded
    assert clearing == settles - charged_back, (ops, clearing, settles, charged_back)
    [invoice] = [i for i in state["invoices"] if i["ReferenceNumber"] == f"PT{txn}-INV"]
    assert Decimal(invoice["AmountDue"]) == (amount if voided else Decimal("0"))
    memos = [m for m in state.get("credit_memos", []) if m["ReferenceNumber"] in {f"PT{x}-CM" for x in refund_ids}]
    assert len(memos) == len(refund_ids) and all(m["ApplyToInvoiceKey"] == invoice["Key"] for m in memos), \
        "every refund is linked to its sale by the invoice id the records carry, and credits its invoice"
    cash = sum((Decimal(l["Amount"]) for j in journals for l in j["Lines"] if l["AccountID"] == CASH), Decimal("0"))
    receipts = sum(Decimal(p["Amount"]) for p in state["payments"] if p["ReferenceNumber"] == f"PT{txn}-RCP")
    paid_back = sum(Decimal(r["Amount"]) for r in state.get("customer_refunds", [])
                    if r["ReferenceNumber"] in {f"PT{x}-RFD" for x in refund_ids})
    reversed_ = sum(Decimal(v["Amount"]) for v in state.get("receipt_voids", [])
                    if v["ReferenceNumber"] == f"PT{txn}-VD")
    assert receipts + cash - paid_back - reversed_ == 0, "the cash account must net to zero for one payment"
    assert paid_back == refunded and reversed_ == (amount if voided else 0)
