"""A 60-character customer name, through the sale flow into each ERP (in-process tier: SQLite, sandboxes in threads).

The ERP keeps what fits; where it has a place for the rest (X3: the company name's two lines; Sage 50:
a customer custom field) the whole name is kept there; and either way a person is told, on the review
list. Judged by the ERP sandboxes' own state.
"""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from config.settings import Secret
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from config.mapping import DEFAULT_MAPPINGS_DIR, load_mapping
from db.migrate import upgrade
from db.models import ReviewItem
from db.session import session_scope
from flows.runs import FlowContext
from sandbox import sage_pro as sage_pro_sandbox
from sandbox.paytrace import create_app as paytrace_app
from sandbox.server import SandboxServer
from tests.contract.erp_sage_pro import COMPANY, sage_pro
from tests.contract.erps import ERPS
from tests.inprocess import poll_record

NAME = "Northwestern Consolidated Widget Manufacturing & Supply, LLC"  # 60 characters


def _erp(name: str):
    return sage_pro("sqlite") if name == "sage_pro" else ERPS[name]()


def _customer_row(erp, customer_id: str) -> dict:
    """The ERP's own record of the customer, from its sandbox."""
    if erp.name == "sage_pro":
        rows = sage_pro_sandbox.state(erp.connector.config.database_url, COMPANY)["arcust"]
        return next(r for r in rows if r["CUSTGEN"].strip() == customer_id)
    state = requests.get(f"{erp.connector.config.base_url}/_sandbox/state", timeout=5).json()
    if erp.name == "sage50":
        return next(c for c in state["customers"] if c["ID"] == customer_id)
    return next(c for c in state["customers"] if c["BPC0_1"]["BPCNUM"] == customer_id)


@pytest.mark.parametrize("erp_name", sorted(ERPS))
def test_a_60_character_name_is_cut_to_the_erps_width_kept_whole_where_it_can_be_and_reviewed(tmp_path, erp_name):
    assert len(NAME) == 60
    db = f"sqlite:///{tmp_path / 'paysync.sqlite3'}"
    upgrade(db)
    with SandboxServer(paytrace_app()) as paytrace, _erp(erp_name) as erp:
        client = PayTraceClient(PayTraceConfig(paytrace.url, "demo", Secret("demo"), "PAYSYNC1", retries=0))
        # Given a PayTrace sale whose payer's name is 60 characters long
        answer = client.call("transactions/sale/keyed", {
            "amount": "25.00", "csc": "999", "credit_card": {"number": "4012000098765439", "expiration_month": 12,
                                                            "expiration_year": 2030},
            "billing_address": {"name": NAME, "street_address": "1 Pier Rd", "city": "Tacoma", "state": "WA",
                                "zip": "98402", "country": "US"}})
        txn_id = int(answer["transaction_id"])
        gateway = PayTraceGateway(client)
        ctx = FlowContext(db, gateway, erp.connector, load_mapping(DEFAULT_MAPPINGS_DIR / f"paytrace-{erp_name}.yaml"),
                          30)
        # When the sale flow runs
        poll_record(ctx, gateway.transaction(txn_id))
        with session_scope(db) as s:
            [item] = s.scalars(select(ReviewItem).where(ReviewItem.kind == "customer_name_cut")).all()
        erp_id = item.context["erp_customer_id"]
        row = _customer_row(erp, erp_id)
        width = erp.connector.customer_name_width
        # Then the ERP keeps the name cut to its width
        if erp_name == "sage50":
            assert row["Name"] == NAME[:width] == NAME[:39] and row["CustomFields"]["Full name"] == NAME
        elif erp_name == "sage_x3":
            assert row["BPC0_1"]["BPCNAM"] == NAME[:width] == NAME[:35] and "".join(row["BPRC_1"]["BPRNAM"]) == NAME
        else:
            assert row["COMPANY"].strip() == NAME[:width].strip() and width == 35
        # and a person is told: the cut, and where the whole name is (or that it is nowhere)
        assert item.status == "open" and NAME in item.reason and f"cut to {width}" in item.reason
        assert ("has no field for the rest" in item.reason) == (erp_name == "sage_pro")
        client.close()
