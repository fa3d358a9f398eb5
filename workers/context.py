"""One FlowContext per worker process, built on first use (a forked child builds its own)."""
from __future__ import annotations

import os

from config.settings import Settings, get_settings
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from connectors.registry import build_connector
from flows.payment_sync import FlowContext

_contexts: dict[int, FlowContext] = {}


def build_context(settings: Settings) -> FlowContext:
    gateway = PayTraceGateway(PayTraceClient(PayTraceConfig.from_settings(settings)))
    erp = build_connector(settings.erp, settings)
    return FlowContext(db_url=settings.database_url, gateway=gateway, erp=erp,
                       rules=erp.posting_rules(settings.merchant_timezone), lease_seconds=settings.task_time_limit + 30)


def flow_context() -> FlowContext:
    pid = os.getpid()
    if pid not in _contexts:
        _contexts.clear()  # a fork's inherited sockets belong to the parent
        _contexts[pid] = build_context(get_settings())
    return _contexts[pid]
