"""Issue 11, an operator's first hour: every mistake is one line saying what to do, exit status 2.

The `paysync` command runs as a child process, as an operator runs it, with the environment the
test gives it (never the test session's own).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import runtime
from cli.demo import HOME_MARK, DemoHomeError, demo_urls, new_since, prepare_home

ROOT = Path(__file__).resolve().parents[2]
DEMO_ENV = {"PAYSYNC_ENV": "demo"}


def paysync(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PAYSYNC_", "DATABASE_URL", "REDIS_URL",
                                                                   "PAYTRACE_", "SAGE50_", "SAGEX3_", "SAGEPRO_"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env={**base, **env}, capture_output=True,
                          text=True, timeout=120, cwd=cwd or ROOT)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_commands_before_migrate_say_so_and_create_nothing(tmp_path):
    env = {**DEMO_ENV, "PAYSYNC_HOME": str(tmp_path / "home")}
    for command in (["dlq", "list"], ["review", "list"]):
        line = one_line_error(paysync(*command, env=env, cwd=tmp_path))
        assert "paysync migrate" in line
    assert not list(tmp_path.rglob("*.sqlite3"))


def test_a_database_without_tables_or_out_of_reach_is_named(pg_url):
    line = one_line_error(paysync("dlq", "list", env={**DEMO_ENV, "DATABASE_URL": pg_url}))
    assert "paysync migrate" in line and pg_url.rsplit("/", 1)[1] in line
    port = runtime.free_port()
    line = one_line_error(paysync("review", "list", env={**DEMO_ENV,
                                                         "DATABASE_URL": f"postgresql://ops:pw@127.0.0.1:{port}/x"}))
    assert f"127.0.0.1:{port}" in line and "DATABASE_URL" in line and ":pw@" not in line


def test_an_unreachable_service_is_named_with_its_url(tmp_path):
    env = {**DEMO_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
           "PAYTRACE_BASE_URL": f"http://127.0.0.1:{runtime.free_port()}", "HTTP_RETRIES": "0"}
    assert paysync("migrate", env=env).returncode == 0
    line = one_line_error(paysync("reconcile", "--date", "2026-11-21", env=env))
    assert env["PAYTRACE_BASE_URL"] in line and "PAYTRACE_BASE_URL" in line


def test_a_command_that_sends_work_refuses_to_run_without_a_broker(tmp_path):
    # given no REDIS_URL (demo mode allows that for commands that need none)
    env = {**DEMO_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    assert paysync("migrate", env=env).returncode == 0
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,transaction_id,amount\nCB1,100000001,5.00\n")
    # then importing chargebacks stops at once, naming REDIS_URL, and stores nothing
    line = one_line_error(paysync("import", "chargebacks", str(cases), env=env))
    assert "REDIS_URL" in line
    assert "no dead letters" in paysync("dlq", "list", env=env).stdout


def test_settings_mistakes_are_listed_not_a_traceback():
    result = paysync("dlq", "list", env={**DEMO_ENV, "VISIBILITY_TIMEOUT": "soon", "RETRY_BACKOFF_MAX": "-5"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "VISIBILITY_TIMEOUT" in result.stderr and "RETRY_BACKOFF_MAX" in result.stderr


def test_production_without_addresses_lists_each_missing_key_on_its_own_line(tmp_path):
    result = paysync("dlq", "list", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for key in ("REDIS_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "SAGE50_BASE_URL", "PAYSYNC_ID_HASH_KEY"):
        assert sum(key in line for line in result.stderr.splitlines()) == 1, key


@pytest.mark.parametrize("command", [["mapping", "suggest", "{bad}", "{good}"],
                                     ["mapping", "check", "config/mappings/paytrace-sage50.yaml", "--samples", "{bad}"]])
def test_malformed_json_is_one_line_naming_the_file_and_where(tmp_path, command):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text('{"transaction_id": 1,\n "amount": }')
    good.write_text("{}")
    args = [a.replace("{bad}", str(bad)).replace("{good}", str(good)) for a in command]
    line = one_line_error(paysync(*args, env=DEMO_ENV))
    assert "bad.json" in line and "line 2" in line


def test_the_demo_never_empties_a_folder_it_did_not_make(tmp_path):
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    line = one_line_error(paysync("demo", "--sales", "1", "--home", str(precious), env={}))
    assert "not made by `paysync demo`" in line and (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(DemoHomeError):
        prepare_home(precious / "notes.txt")
    # a folder an earlier demo made, or an empty one, is the demo's to use
    made = tmp_path / "demo"
    prepare_home(made)
    (made / "old.log").write_text("x")
    prepare_home(made)
    assert sorted(p.name for p in made.iterdir()) == [HOME_MARK]


def test_the_demo_uses_the_environments_database_and_redis_only_when_asked(tmp_path):
    env = {"DATABASE_URL": "postgresql://prod/production", "REDIS_URL": "redis://prod:6379/0"}
    assert demo_urls(tmp_path, use_env=False, environ=env) == (f"sqlite:///{tmp_path / 'paysync.sqlite3'}", None)
    assert demo_urls(tmp_path, use_env=True, environ=env) == (env["DATABASE_URL"], env["REDIS_URL"])


def test_the_demo_table_counts_only_what_the_demo_wrote():
    seed = {"customers": 3, "invoices": [{"key": "5000", "reference": "CO-7781"}], "payments": []}
    now = {"customers": 5, "invoices": [{"key": "5000", "reference": "CO-7781", "open": 0},
                                        {"key": "5001", "reference": "PT1-INV"}], "payments": [{"reference": "R"}]}
    assert new_since(now, seed) == {"customers": 2, "invoices": [{"key": "5001", "reference": "PT1-INV"}],
                                    "payments": [{"reference": "R"}]}


@pytest.mark.slow
def test_a_second_demo_on_the_same_database_reports_only_its_own_runs(pg_url, redis_url, tmp_path):
    env = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    first = paysync("demo", "--sales", "6", "--home", str(tmp_path / "one"), "--use-env", env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    second = paysync("demo", "--sales", "4", "--home", str(tmp_path / "two"), "--use-env", env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    # the second demo's sales are new transactions, and its report speaks of them alone
    runs = (tmp_path / "two" / "demo-runs.csv").read_text().splitlines()[1:]
    assert len(runs) == 4 and sum(int(n) for n in _statuses(second.stdout).values()) == 4


def _statuses(out: str) -> dict[str, str]:
    line = next(line for line in out.splitlines() if line.startswith("sync runs:"))
    return dict(part.strip().rsplit(" ", 1) for part in line.split(":", 1)[1].split(","))
