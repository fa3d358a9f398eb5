"""One FlowContext per worker process, built on first use (a forked child builds its own)."""
from __future__ import annotations

import os

from config.settings import Settings, get_settings
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.paytrace.config import PayTraceConfig
from connectors.registry import build_connector
from flows.payment_sync import FlowContext
from flows.transform import PostingRules

_contexts: dict[int, FlowContext] = {}


def posting_rules(settings: Settings) -> PostingRules:
    s = settings.sage50
    return PostingRules(cash_account=s.cash_account, clearing_account=s.clearing_account,
                        default_item=s.default_item, payment_method=s.payment_method,
                        timezone=settings.merchant_timezone)


def build_context(settings: Settings) -> FlowContext:
    gateway = PayTraceGateway(PayTraceClient(PayTraceConfig.from_settings(settings)))
    return FlowContext(db_url=settings.database_url, gateway=gateway,
                       erp=build_connector(settings.erp, settings), rules=posting_rules(settings),
                       lease_seconds=settings.task_time_limit + 30)


def flow_context() -> FlowContext:
    pid = os.getpid()
    if pid not in _contexts:
        _contexts.clear()  # a fork's inherited sockets belong to the parent
        _contexts[pid] = build_context(get_settings())
    return _contexts[pid]
