"""Benchmark: `utvalg run` on the embedded sample with unchanged files, against the floor.

Usage: .venv/bin/python scripts/benchmark_run.py [--raw DIR] [--repeat N]

Every figure is the median of ``--repeat`` (default 3) runs, each in a fresh Python process under
``/usr/bin/time -v`` (wall clock and maximum resident set size):

- ``run, unchanged files``: `utvalg run` on the raw folder (default: the embedded sample) into a
  temporary warehouse, reports folder and register, after a first run that is timed once;
- ``run --full, unchanged files``: the same with everything recomputed (what every run cost before runs
  reused unchanged assets);
- ``floor, one asset``: one no-op asset materialised in-process (what the issue calls an empty in-process
  Dagster materialisation, and what the goal, within three times the floor, is judged against);
- ``floor, project graph``: the project's own asset graph (its definitions imported, every asset and
  dependency) with no-op bodies, materialised in-process.

Then the steps of the last unchanged and full runs, slowest first, from the run's Dagster log. Prints
figures; asserts nothing. The load average is printed with each figure, since other processes share the
cores.

Measured on 2026-11-23 on the embedded sample (seed 2026), 2 cores shared with other test runs (load
averages 1.7-3.7), Python run with PYTHONDONTWRITEBYTECODE=1 as on this machine (every import compiles
its source, so imports weigh more than usual), median of three:

| | before (7fa9ea4) | after |
| --- | --- | --- |
| floor, one asset | 3.3 s, 110 MB | 3.6 s, 110 MB |
| floor, project graph | 7.0 s, 245 MB | 5.9 s, 166 MB |
| first run (cold, one run) | 44.9 s, 1574 MB | 49.2 s, 1571 MB |
| run, unchanged files | 43.2 s, 1765 MB | 6.1 s, 295 MB |
| run --full, unchanged files | (what every run was) | 41.5 s, 1755 MB |
| unchanged run / floor (one asset) | 13.1 | 1.7 |

The goal (issue 14) is judged against the one-asset floor, the issue's 3.2 s: within three times it and
under 600 MB. The unchanged run's one step is publication (0.6 s); the rest is imports, the Dagster
instance and the warehouse's working copy.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

ONE_ASSET = """
import dagster as dg

@dg.asset
def nothing() -> dg.MaterializeResult:
    return dg.MaterializeResult()

assert dg.materialize([nothing], instance=dg.DagsterInstance.ephemeral()).success
"""

# The project's graph: one no-op asset per asset of the definitions, with the same keys and dependencies.
PROJECT_GRAPH = """
import dagster as dg
from pipelines.definitions import build_definitions

graph = build_definitions().resolve_asset_graph()

def no_op(key: dg.AssetKey) -> dg.AssetsDefinition:
    @dg.asset(key=key, deps=sorted(graph.get(key).parent_keys, key=str))
    def _body() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    return _body

keys = sorted(graph.get_all_asset_keys(), key=str)
assert dg.materialize([no_op(key) for key in keys], instance=dg.DagsterInstance.ephemeral()).success
print(f"{len(keys)} assets")
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall clock (s) and maximum resident set size (MB) of ``command`` under /usr/bin/time -v."""
    with tempfile.NamedTemporaryFile(suffix=".time") as report:
        subprocess.run(
            ["/usr/bin/time", "-v", "-o", report.name, *command],
            check=True,
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        text = Path(report.name).read_text()
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    assert clock and rss
    seconds = sum(float(part) * 60**power for power, part in enumerate(reversed(clock.group(1).split(":"))))
    return seconds, int(rss.group(1)) / 1024


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median_of(label: str, command: list[str], env: dict[str, str], repeat: int) -> float:
    runs = [timed(command, env) for _ in range(repeat)]
    wall = statistics.median(seconds for seconds, _ in runs)
    rss = statistics.median(mb for _, mb in runs)
    each = ", ".join(f"{seconds:.1f}" for seconds, _ in runs)
    print(f"{label:<30}{wall:7.1f} s {rss:7.0f} MB   (runs: {each} s; load {load()})", flush=True)
    return wall


def steps(log_dir: Path, title: str) -> None:
    """The steps of the newest run in ``log_dir``, slowest first."""
    log = max(log_dir.glob("*.log"), key=lambda path: path.stat().st_mtime)
    durations = []
    for line in log.read_text(encoding="utf-8").splitlines():
        found = re.search(r'Finished execution of step "(\w+)" in ([\d.]+)(ms|s|m)', line)
        if found:
            value = float(found.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[found.group(3)]
            durations.append((value, found.group(1)))
    print(f"\n{title}: {len(durations)} steps, {sum(d for d, _ in durations):.1f} s in steps")
    for value, name in sorted(durations, reverse=True)[:12]:
        print(f"  {name:<40}{value:7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", default=str(PROJECT / "data" / "sample"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "UTVALG_REGISTER": str(Path(folder) / "register.duckdb"),
            "PYTHONPATH": str(PROJECT),
        }
        warehouse = Path(folder) / "warehouse" / "utvalg.duckdb"
        run = [
            python,
            "-m",
            "pipelines.cli",
            "run",
            "--raw",
            args.raw,
            "--warehouse",
            str(warehouse),
            "--reports",
            str(Path(folder) / "reports"),
        ]
        print(f"raw folder {args.raw}; median of {args.repeat}; wall clock, maximum RSS (/usr/bin/time -v)")
        floor = median_of("floor, one asset", [python, "-c", ONE_ASSET], env, args.repeat)
        median_of("floor, project graph", [python, "-c", PROJECT_GRAPH], env, args.repeat)
        median_of("first run (cold)", run, env, 1)
        unchanged = median_of("run, unchanged files", run, env, args.repeat)
        steps(warehouse.parent / "logs", "the last unchanged run")
        print()
        median_of("run --full, unchanged files", [*run, "--full"], env, args.repeat)
        steps(warehouse.parent / "logs", "the last full run")
        print(f"\nunchanged run / floor (one asset): {unchanged / floor:.1f}")


if __name__ == "__main__":
    main()
