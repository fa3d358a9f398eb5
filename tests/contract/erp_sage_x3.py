"""Sage X3 with its sandbox, for the contract suite: add `"sage_x3": sage_x3` to ERPS in erps.py."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import requests

from config.settings import Secret
from sandbox.server import SandboxServer

if TYPE_CHECKING:
    from tests.contract.erps import ErpUnderTest


@contextmanager
def sage_x3() -> Iterator[ErpUnderTest]:
    # Imported here so erps.py may import this module at its top without a cycle.
    from connectors.sage_x3 import SageX3Config, SageX3Connector
    from sandbox.sage_x3 import create_app
    from tests.contract.erps import ErpUnderTest

    with SandboxServer(create_app(username="paysync", password="x3-secret")) as server:
        connector = SageX3Connector(SageX3Config(base_url=server.url, username="paysync",
                                                 password=Secret("x3-secret"), retries=0, timeout=5))

        def faults(**kw) -> dict:
            response = requests.post(f"{server.url}/_sandbox/faults", json=kw, timeout=5)
            response.raise_for_status()
            return response.json()

        def lock_customer(bpcnum: str) -> None:
            current = requests.get(f"{server.url}/_sandbox/faults", timeout=5).json()["locked"]
            faults(locked=[*current, bpcnum])

        def add_item(item_id: str) -> None:
            requests.post(f"{server.url}/_sandbox/items", json={"ITMREF": item_id}, timeout=5).raise_for_status()

        yield ErpUnderTest("sage_x3", connector, item="PAYMENT", cash_account="10500", other_account="10510",
                           set_busy=lambda on: faults(pool_busy=on), lock_customer=lock_customer, add_item=add_item,
                           po_on_order=True)
        connector.close()
