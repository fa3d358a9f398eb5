"""Every registered ERP connector with its sandbox, for the contract suite.

To add an ERP: add an `ErpUnderTest` factory here; the whole suite then runs against it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import requests

from config.settings import Secret
from connectors.base import ErpConnector
from sandbox.server import SandboxServer


@dataclass
class ErpUnderTest:
    """A connector wired to a live sandbox, plus the knobs the contract needs."""

    name: str
    connector: ErpConnector
    item: str  # an item the ERP knows
    cash_account: str
    other_account: str
    set_busy: Callable[[bool], None]  # make the ERP answer "busy / locked" (retriable) or not
    lock_customer: Callable[[str], None]  # make writes for one customer hit a locked record
    add_item: Callable[[str], None]
    #: The ERP keeps a customer's PO on the order, not the invoice (X3: SORDER.CUSORDREF [C]).
    po_on_order: bool = False


@contextmanager
def sage50() -> Iterator[ErpUnderTest]:
    from connectors.sage50 import Sage50Config, Sage50Connector
    from sandbox.sage50 import create_app

    with SandboxServer(create_app(api_key="k")) as server:
        connector = Sage50Connector(Sage50Config(base_url=server.url, api_key=Secret("k"), retries=0, timeout=5))

        def faults(**kw):
            requests.post(f"{server.url}/_sandbox/faults", json=kw, timeout=5).raise_for_status()

        def add_item(item_id: str):
            requests.post(f"{server.url}/v1/products", json={"ID": item_id, "Description": item_id},
                          headers={"Authorization": "Bearer k"}, timeout=5).raise_for_status()

        yield ErpUnderTest("sage50", connector, item="PAYMENT", cash_account="1200", other_account="1205",
                           set_busy=lambda on: faults(license_busy=on),
                           lock_customer=lambda cid: faults(record_in_use=[cid]), add_item=add_item)
        connector.close()


def _sage_pro():
    from tests.contract.erp_sage_pro import sage_pro

    return sage_pro()


def _sage_x3():
    from tests.contract.erp_sage_x3 import sage_x3

    return sage_x3()


ERPS = {"sage50": sage50, "sage_pro": _sage_pro, "sage_x3": _sage_x3}
