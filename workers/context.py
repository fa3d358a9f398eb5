"""One FlowContext per integration pair per worker thread, built on first use (a forked child builds its own).

A thread pool runs many stages per process: each thread keeps its own connectors (sessions are
not shared between threads), and they all wait at one gate (workers/gate.py) and take the same
holds (workers/locks.RedisHolds) as every other process on every host.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Callable

from config.mapping import active_mapping, rates_for
from config.settings import Settings, get_settings
from connectors import gate
from connectors.errors import MappingError, RetriableError
from connectors.paytrace import PayTraceClient, PayTraceGateway
from connectors.registry import build_connector
from flows.runs import FlowContext
from schemas.mapping import Mapping

_local = threading.local()  # .contexts: by pair, for the process .pid
_gate_pid: int | None = None
_gate_lock = threading.Lock()


def erp_config(settings: Settings, mapping: Mapping):
    """The pair's ERP config with the codes its mapping file gives every document (one place for each fact)."""
    config, codes = settings.erp_config, mapping.defaults
    if settings.erp == "sage_x3":
        return replace(config, sales_site=codes["sales_site"], order_type=codes["order_type"],
                       invoice_type=codes["invoice_type"], payment_type=codes["payment_type"], bank=codes["bank"],
                       journal_code=codes["journal_code"], currency=mapping.currency.base,
                       layout=replace(config.layout, journal_type=codes["journal_type"]))
    if settings.erp == "sage_pro":
        if codes["company"] != config.company:
            raise MappingError(mapping.source, [f"defaults.company: {codes['company']} is not the company paysync "
                                                f"reaches (SAGEPRO_COMPANY {config.company}); make them the same"])
        return replace(config, order_reference=codes["order_reference"], user=codes["user"])
    return config


def build_context(settings: Settings) -> FlowContext:
    gateway = PayTraceGateway(PayTraceClient(settings.paytrace))
    mapping = active_mapping(settings)
    erp = build_connector(settings.erp, erp_config(settings, mapping))
    if mapping.references.max_length > erp.max_reference_length:
        raise MappingError(mapping.source, [f"references.max_length {mapping.references.max_length} exceeds what "
                                            f"{settings.erp} keeps ({erp.max_reference_length})"])
    lease = settings.task_time_limit + 30
    extra = {}
    if settings.redis_url:
        from workers.locks import RedisHolds

        extra["hold"] = RedisHolds(settings.redis_url, prefix=f"paysync:hold:{settings.pair}", ttl=lease)
    return FlowContext(db_url=settings.database_url, gateway=gateway, erp=erp, mapping=mapping,
                       lease_seconds=lease, pair=settings.pair, rates=rates_for(mapping),
                       refund_link_field=settings.paytrace.refund_link_field,
                       refund_link_wait_seconds=settings.refund_link_wait_seconds, **extra)


def install_gate(settings: Settings) -> None:
    """This process's connectors wait at the gate every worker shares (once per process; none without Redis)."""
    global _gate_pid
    with _gate_lock:
        if _gate_pid == os.getpid() or not settings.redis_url:
            return
        from workers.gate import Limit, RedisGate

        limits = {kind: Limit.of(*settings.erp_limit(kind)) for kind in {s.erp for s in settings.pairs()}}
        limits["paytrace"] = Limit.of(settings.paytrace_max_concurrent, settings.paytrace_rate_limit)
        # A stage holds its ledger claim and its customer/invoice hold for the lease (TASK_TIME_LIMIT
        # + 30 s), renewed by nobody, and a thread pool enforces no time limit: its few calls' waits
        # at the gate together must end well inside the lease, or a second run could take the hold.
        max_wait = min(settings.gate_max_wait_seconds, (settings.task_time_limit + 30) / 4)
        # A dead worker's slot is freed once it has been held as long as any call of ours may take.
        grace = max(settings.paytrace.timeout, settings.sage50.timeout, settings.sage_x3.timeout) + 5
        gate.install(RedisGate(settings.redis_url, limits, max_wait=max_wait, pad=settings.gate_rate_pad_seconds,
                               dead_grace=grace))
        _gate_pid = os.getpid()


def for_each_pair(pair: str | None, work: Callable[[str], dict]) -> dict[str, dict]:
    """`work(name)` for one pair, or for every pair even if one fails; then the first failure is raised
    (a retriable one first, so the task retries and the pairs that finished are idempotent repeats)."""
    results: dict[str, dict] = {}
    failures: list[Exception] = []
    for name in [pair] if pair else list(get_settings().pair_names):
        try:
            results[name] = work(name)
        except Exception as exc:  # raised below, after the other pairs had their run
            failures.append(exc)
    if failures:
        raise next((e for e in failures if isinstance(e, RetriableError)), failures[0])
    return results


def forget_contexts() -> None:
    """Build this thread's contexts again on next use (after the settings changed, in a test)."""
    _local.contexts = {}
    _local.pid = os.getpid()


def flow_context(pair: str | None = None) -> FlowContext:
    """The context of integration pair `pair` (the default pair when None), built once per thread."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.contexts = {}  # a fork's inherited sockets belong to the parent
        _local.pid = os.getpid()
    settings = get_settings()
    install_gate(settings)
    name = pair or settings.pair
    if name not in _local.contexts:
        _local.contexts[name] = build_context(settings.for_pair(name))
    return _local.contexts[name]


# -- nightly reconciliation ------------------------------------------------------------------
def enqueue_ingest(inbox_id: int) -> None:
    """Send an inbox event to its normal sync, as the ingress does."""
    from config.celery import send_ingest

    send_ingest(inbox_id)


def _no_broker(inbox_id: int) -> None:
    raise RuntimeError("REDIS_URL is not set: the stored repair waits for the sweeper")


def reconcile_context(settings: Settings, enqueue=enqueue_ingest):
    """What flows.settlement needs, from Settings: a fresh one per run (it is not kept)."""
    from functools import partial

    from flows.settlement_rules import Fees
    from flows.settlement_run import ReconcileContext
    from workers.locks import DayLock, NoLock

    install_gate(settings)  # its ERP calls share the io workers' cap, rate and pauses
    flow = build_context(settings)
    lock = partial(DayLock, settings.redis_url, ttl=settings.reconcile_lock_ttl) if settings.redis_url else NoLock
    return ReconcileContext(
        db_url=settings.database_url, gateway=flow.gateway, erp=flow.erp, erp_kind=settings.erp, mapping=flow.mapping,
        enqueue=enqueue if settings.redis_url else _no_broker,
        lock=lock, reports_dir=settings.reports_dir,
        fees=Fees(settings.reconcile_fee_rate, settings.reconcile_fee_fixed, settings.reconcile_fee_account),
        chunk_size=settings.reconcile_chunk_size, erp_concurrency=settings.reconcile_erp_concurrency,
        pair=settings.pair)
