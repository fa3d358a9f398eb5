"""The Celery app's reliability settings, the chain the design card asks for, and the import rules."""
from __future__ import annotations

import ast
import pathlib
import re

from config.celery import all_queues, celery_app
from config.settings import get_settings
from flows import runs
from flows.kinds import KINDS
from workers import tasks

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("config", "schemas", "connectors", "flows", "workers", "ingress", "db", "cli")


def test_the_chain_is_customer_upsert_then_order_then_payment_then_gl_posting():
    # The design card's words, written out here rather than read from the code under test.
    assert list(tasks.STAGE_TASKS) == ["customer", "order", "payment", "gl"]
    assert [t.name for t in tasks.STAGE_TASKS.values()] == ["paysync.customer", "paysync.order", "paysync.payment",
                                                           "paysync.gl"]
    chain = tasks.stage_chain(7, "sage50", ("customer", "order", "payment", "gl"))
    assert [(sig.task, sig.args, sig.options["queue"]) for sig in chain.tasks] == [
        ("paysync.customer", (7,), "erp.sage50"), ("paysync.order", (7,), "erp.sage50"),
        ("paysync.payment", (7,), "erp.sage50"), ("paysync.gl", (7,), "erp.sage50")]
    for kind in KINDS.values():  # every kind uses the card's stages, none of its own
        assert set(kind.stages) <= {"customer", "order", "payment", "gl"}, kind.name


def test_reliability_settings():
    conf = celery_app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    s = get_settings()
    assert conf.broker_transport_options["visibility_timeout"] > s.retry_backoff_max + s.task_time_limit
    assert set(all_queues()) == {"ingest", "erp.sage50", "erp.sage_x3", "erp.sage_pro", "dead_letter", "reconcile"}
    assert {"poll-paytrace", "sweep-inbox"} <= set(conf.beat_schedule)
    assert not conf.task_always_eager  # never eager: tests use real workers


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _top_level_imports(path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """Our modules `path` imports when it is loaded (imports inside functions are not counted)."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` loads pkg.mod (and pkg's __init__, which Python lets finish later)
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and "." in name:
                out.add(name)
    return out


def test_no_import_circles():
    modules = _modules()
    graph = {name: _top_level_imports(path, modules) - {name} for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_layers_import_only_what_the_design_allows():
    offenders = []
    for name, path in _modules().items():
        text = path.read_text()
        top = name.split(".")[0]
        if top != "workers" and name != "config.celery" and re.search(r"^\s*(from|import) celery", text, re.M):
            offenders.append(f"{name} imports celery")
        if top == "connectors" and re.search(r"^\s*from (config\.settings|db)\b|^\s*import db\b", text, re.M):
            offenders.append(f"{name} imports config.settings or db")
        if top in ("flows", "connectors", "schemas", "db", "ingress") and re.search(r"^\s*from cli\b", text, re.M):
            offenders.append(f"{name} imports cli")
    assert offenders == []
