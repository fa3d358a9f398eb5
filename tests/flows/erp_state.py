"""What an ERP under test holds, in its own shape (for sandbox.summary)."""
from __future__ import annotations

import requests


def erp_state(world) -> dict:
    connector = world.erp.connector
    if world.erp.name == "sage_pro":
        from sandbox.sage_pro import state

        return state(connector.config.database_url, connector.config.company)
    return requests.get(f"{connector.config.base_url}/_sandbox/state", timeout=10).json()
