"""Which ERP connectors exist, and how to build one from its system's frozen config."""
from __future__ import annotations

from typing import Any, Callable

from connectors.base import ErpConnector


def _sage50(config: Any) -> ErpConnector:
    from connectors.sage50 import Sage50Connector

    return Sage50Connector(config)


def _sage_x3(config: Any) -> ErpConnector:
    from connectors.sage_x3 import SageX3Connector

    return SageX3Connector(config)


def _sage_pro(config: Any) -> ErpConnector:
    from connectors.sage_pro import SageProConnector

    return SageProConnector(config)


ERP_CONNECTORS: dict[str, Callable[[Any], ErpConnector]] = {
    "sage50": _sage50,
    "sage_x3": _sage_x3,
    "sage_pro": _sage_pro,
}


def build_connector(kind: str, config: Any) -> ErpConnector:
    """The connector of ERP `kind`, built from that system's config (Sage50Config, SageX3Config, SageProConfig)."""
    try:
        factory = ERP_CONNECTORS[kind]
    except KeyError:
        raise ValueError(f"unknown ERP kind {kind!r}; known: {', '.join(sorted(ERP_CONNECTORS))}") from None
    return factory(config)
