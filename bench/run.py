"""`make bench`: every issue-10 figure beside its baseline, one table, and bench/results.json.

    python bench/run.py [--quick] [--only p2,p3]

Each figure comes from its own module (bench/figures.py REGISTRY) and is measured with its
baseline in the same run. results.json holds exactly the keys p1..p5 and backlog (each with the
keys issue 10 names), so runs compare; bench/results.md keeps the table with its date and machine
for the README. --quick takes minutes (smaller sizes, scaled where the figure says so).
Not a test: nothing here asserts a time; a missed target is printed, not raised.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import REGISTRY, Figure  # noqa: E402

HERE = Path(__file__).resolve().parent


def machine() -> str:
    memory = ""
    try:
        kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def table(figures: list[Figure]) -> str:
    rows = ["| key | figure | measured | baseline | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for f in figures:
        met = {True: "yes", False: "no", None: "-"}[f.met]
        rows.append(f"| {f.key} | {REGISTRY[f.key][1]} | {f.value} | {f.baseline} | "
                    f"{'-' if f.ratio is None else f'{f.ratio:.3f}'} | {f.target} | {met} |")
    notes = [f"- {f.key}: {f.note}" for f in figures if f.note]
    return "\n".join(rows + ([""] + notes if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, minutes instead of tens of minutes")
    parser.add_argument("--only", default="", help="comma-separated keys (p1,p2,...): measure only these")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    keys = [k for k in REGISTRY if not args.only or k in args.only.split(",")]
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    figures = []
    for n, key in enumerate(keys, 1):
        module, what = REGISTRY[key]
        print(f"[{n}/{len(keys)}] {key}: {what} ...", flush=True)
        started = time.monotonic()
        try:
            figure = importlib.import_module(f"bench.{module}").measure(args.quick)
        except Exception as exc:  # a bench that cannot even be imported is reported, not fatal
            figure = Figure.failed(key, "-", f"{type(exc).__name__}: {exc}")
        print(f"      {figure.value} vs {figure.baseline} ({time.monotonic() - started:.0f} s)", flush=True)
        figures.append(figure)
    results = {key: previous.get(key, {}) for key in REGISTRY}  # figures not measured now keep their last values
    results.update({f.key: f.data for f in figures if f.data})
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = table(figures)
    header = f"Measured {stamp} on {machine()}{' (--quick)' if args.quick else ''}."
    (HERE / "results.md").write_text(f"{header}\n\n{text}\n")
    print()
    print(header)
    print(text)


if __name__ == "__main__":
    main()
