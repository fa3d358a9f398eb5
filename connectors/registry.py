"""Which ERP connectors exist, and how to build one from Settings."""
from __future__ import annotations

from typing import Callable

from config.settings import Settings
from connectors.base import ErpConnector


def _sage50(settings: Settings) -> ErpConnector:
    from connectors.sage50 import Sage50Config, Sage50Connector

    return Sage50Connector(Sage50Config.from_settings(settings))


def _sage_x3(settings: Settings) -> ErpConnector:
    from connectors.sage_x3 import SageX3Config, SageX3Connector

    return SageX3Connector(SageX3Config.from_settings(settings))


def _sage_pro(settings: Settings) -> ErpConnector:
    from connectors.sage_pro import SageProConfig, SageProConnector

    return SageProConnector(SageProConfig.from_settings(settings))


ERP_CONNECTORS: dict[str, Callable[[Settings], ErpConnector]] = {
    "sage50": _sage50,
    "sage_x3": _sage_x3,
    "sage_pro": _sage_pro,
}


def build_connector(kind: str, settings: Settings) -> ErpConnector:
    try:
        factory = ERP_CONNECTORS[kind]
    except KeyError:
        raise ValueError(f"unknown ERP kind {kind!r}; known: {', '.join(sorted(ERP_CONNECTORS))}") from None
    return factory(settings)
