"""The deployment topology: docker-compose.yml is valid Compose, and the Procfile runs it (honcho).

Docker does not run here, so the compose file is validated against the Compose Specification
schema, and the same processes are started from the Procfile with honcho and driven end to end.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import requests
import yaml

from cli import runtime
from cli.stack import wait_http
from cli.traffic import make_sales, push_webhook
from config.settings import get_settings
from connectors.paytrace import PayTraceClient
from tests.integration.erp_checks import assert_erp_exactly, wait_for_runs

ROOT = Path(__file__).resolve().parents[2]
#: The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0).
SCHEMA = ROOT / "tests" / "data" / "compose-spec.schema.json"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_compose_file_is_valid_compose_with_the_procfile_topology():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose)
    assert set(procfile()) <= set(compose["services"])
    assert {"redis", "postgres"} <= set(compose["services"])
    # every queue is read, by the same role in both: long jobs in processes, waiting steps in threads
    from config.queues import all_queues

    roles = {}
    for role in ("worker", "io"):
        compose_cmd, proc_cmd = " ".join(compose["services"][role]["command"]), procfile()[role]
        queues = compose_cmd.split("-Q ", 1)[1].split()[0]
        assert f"-Q {queues} " in proc_cmd, (role, queues)
        assert ("-P threads" in compose_cmd) == ("-P threads" in proc_cmd) == (role == "io")
        roles[role] = set(queues.split(","))
    assert roles["worker"] | roles["io"] == set(all_queues()) and not roles["worker"] & roles["io"]
    assert "FLOWER_BASIC_AUTH" in compose["services"]["flower"]["environment"]


def test_compose_publishes_on_loopback_and_can_run_every_erp():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # every published port is bound to 127.0.0.1 unless PAYSYNC_PUBLISH_ADDRESS says otherwise
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published and all(p.startswith("${PAYSYNC_PUBLISH_ADDRESS:-127.0.0.1}:") for p in published)
    # the ERP is a choice, and no one ERP's keys are demanded by compose (settings refuse what is missing)
    env = compose["x-paysync-env"]
    assert env["PAYSYNC_ERP"] == "${PAYSYNC_ERP:-sage50}"
    for key in ("SAGE50_BASE_URL", "SAGE50_API_KEY", "SAGEX3_BASE_URL", "SAGEX3_USERNAME", "SAGEX3_PASSWORD",
                "SAGEPRO_DATABASE_URL"):
        assert env[key] == f"${{{key}:-}}", key
    # and production settings built from it work for each ERP once its own keys are given
    from config.settings import load_settings

    given = {"PAYSYNC_ENV": "production", "DATABASE_URL": "postgresql://p@db/p", "REDIS_URL": "redis://r:6379/0",
             "PAYSYNC_ID_HASH_KEY": "k" * 32, "PAYTRACE_USERNAME": "u", "PAYTRACE_PASSWORD": "p",
             "PAYTRACE_INTEGRATOR_ID": "i", **{k: "" for k in env if k.startswith(("SAGE50_", "SAGEX3_", "SAGEPRO_"))}}
    erps = {"sage50": {"SAGE50_BASE_URL": "https://bridge:8443", "SAGE50_API_KEY": "k"},
            "sage_x3": {"SAGEX3_BASE_URL": "https://x3:8124", "SAGEX3_USERNAME": "u", "SAGEX3_PASSWORD": "p"},
            "sage_pro": {"SAGEPRO_DATABASE_URL": "postgresql://pro@db/pro"}}
    for erp, keys in erps.items():
        assert load_settings({**given, "SAGEX3_POOL_ALIAS": "SEED", "SAGEX3_ENDPOINT": "SEED",
                              "SAGEPRO_COMPANY": "01", "PAYSYNC_ERP": erp, **keys}).erp == erp


def test_procfile_under_honcho_runs_ingress_worker_beat_and_flower_end_to_end(stack_factory, tmp_path):
    stack = stack_factory()
    ingress_port, flower_port = runtime.free_port(), runtime.free_port()
    # an operator's shell: the project's .venv is not on PATH (the Procfile finds it on its own)
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {**stack.env, "INGRESS_BIND": f"127.0.0.1:{ingress_port}", "FLOWER_PORT": str(flower_port),
           "FLOWER_BASIC_AUTH": "finance:s3cret", "PAYSYNC_HOME": str(tmp_path), "PATH": path}
    env.pop("VIRTUAL_ENV", None)
    log = open(tmp_path / "honcho.log", "wb")
    honcho = subprocess.Popen([sys.executable, "-m", "honcho", "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "start"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ingress = f"http://127.0.0.1:{ingress_port}"
        wait_http(f"{ingress}/healthz", timeout=60)
        wait_http(f"http://127.0.0.1:{flower_port}/", timeout=60)
        assert requests.get(f"http://127.0.0.1:{flower_port}/", timeout=5).status_code == 401
        assert requests.get(f"http://127.0.0.1:{flower_port}/", auth=("finance", "s3cret"), timeout=5).status_code == 200
        wait_http(f"{stack.console_url}/healthz", timeout=60)  # the console: CONSOLE_BIND of the stack
        assert requests.get(f"{stack.console_url}/today", timeout=5, allow_redirects=False).status_code == 302
        for path in ("/metrics", "/healthcheck"):  # the same credentials as the UI
            assert requests.get(f"http://127.0.0.1:{flower_port}{path}", timeout=5).status_code == 401
            assert requests.get(f"http://127.0.0.1:{flower_port}{path}", auth=("finance", "s3cret"),
                                timeout=5).status_code == 200
        client = PayTraceClient(get_settings().paytrace)
        sales = make_sales(client, 5, seed=4, decline_every=0)
        pushed = push_webhook(ingress, stack.webhook_secret, sales[0])
        assert pushed.status_code == 202
        # the other four arrive only through beat's poller
        assert wait_for_runs(stack.database_url, [s.transaction_id for s in sales], timeout=90) == 5, \
            (tmp_path / "honcho.log").read_text()[-3000:]
        assert_erp_exactly(stack.erp_summary(), sales)
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        log.close()
    text = (tmp_path / "honcho.log").read_text()
    for name in ("ingress", "worker", "io", "beat", "flower", "console"):
        assert f"{name}.1" in text, f"{name} never started under honcho"
