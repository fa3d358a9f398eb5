"""The README's first command: `paysync demo` on the embedded default (SQLite, its own Redis)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_on_the_embedded_default_with_no_setup(tmp_path):
    # given an operator's shell with production's addresses exported and no PAYSYNC_ENV at all
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "PAYTRACE_", "SAGE50_", "WEBHOOK_", "PAYSYNC_"))}
    env.update(DATABASE_URL="postgresql://prod@127.0.0.1:1/production", REDIS_URL="redis://127.0.0.1:1/0")
    # then the demo leaves them alone and runs on its own SQLite file and embedded Redis
    result = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--sales", "24", "--home", str(tmp_path / "demo")],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "redis embedded" in out and "sqlite" in out
    assert "What Sage 50 now holds" in out
    assert "receipts applied" in out and "dead letters: none" in out
    assert (tmp_path / "demo" / "paysync.sqlite3").exists()
    assert (tmp_path / "demo" / "demo-runs.csv").read_text().count("succeeded") >= 20


@pytest.mark.parametrize("erp,name", [("sage_x3", "Sage X3"), ("sage_pro", "Sage Pro")])
def test_demo_runs_for_the_other_erps_too(tmp_path, erp, name):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "PAYTRACE_", "SAGE50_", "SAGEX3_", "SAGEPRO_", "WEBHOOK_"))}
    result = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--erp", erp, "--sales", "12",
                             "--home", str(tmp_path / "demo")], env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"What {name} now holds" in result.stdout and "dead letters: none" in result.stdout
    # the table counts what paysync wrote, not the sandbox's seed rows: one invoice per approved sale
    approved = _count_in_row(result.stdout, "sales made on PayTrace (approved)")
    assert _count_in_row(result.stdout, "invoices (fully paid)") == approved


def _count_in_row(table: str, label: str) -> int:
    import re

    line = next(line for line in table.splitlines() if label in line)
    return int(re.findall(r"\b(\d+)\b", line.split(label, 1)[1])[0])
