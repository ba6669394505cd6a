"""Benchmark: the selection stage (10,000 draws and the sensitivity runs) on a national sample.

Usage: .venv/bin/python scripts/benchmark_selection.py [--raw DIR] [--seed N]
Without --raw a sample is generated into a temporary folder first. The graph is materialised once up to
the harmonised observations, then the selection assets three times; then the selection's own functions
(Udir's rule, the holistic method with its draws, the sensitivity runs) on the warehouse tables, without
Dagster or DuckDB, best of three. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipelines.config import load_config
from pipelines.flow import materialise
from pipelines.sample.generate import generate_sample
from pipelines.selection.holistic import holistic_scores
from pipelines.selection.sensitivity import sensitivity_table
from pipelines.selection.udir_rule import udir_selection
from pipelines.settings import PROJECT_ROOT, REFERENCE_DIR

SELECTION = ["udir_risk_points", "holistic_scores", "rank_uncertainty", "sensitivity", "candidates"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--year", default="2025-26")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(args.raw) if args.raw else Path(folder) / "raw"
        if not args.raw:
            started = time.perf_counter()
            generate_sample(args.seed, raw, REFERENCE_DIR)
            print(f"{'generate sample':<40}{time.perf_counter() - started:8.2f} s")
        settings = {
            "raw_dir": str(raw),
            "school_year": args.year,
            "reports_dir": str(Path(folder) / "reports"),
        }
        warehouse = Path(folder) / "warehouse.duckdb"
        started = time.perf_counter()
        run = materialise(
            warehouse, ["indicator_values", "school_indicator_values"], raise_on_error=True, **settings
        )
        print(
            f"{'parse, validate, harmonise, indicators':<40}{time.perf_counter() - started:8.2f} s"
            f"  ({run.table('observations').height} rows)"
        )
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            definitions_run = materialise(warehouse, SELECTION, raise_on_error=True, **settings)
            timings.append(time.perf_counter() - started)
        variants = definitions_run.table("sensitivity").height
        print(
            f"{'graph up to candidates (incl. upstream)':<40}{min(timings):8.2f} s"
            f"  (best of 3; {', '.join(f'{t:.2f}' for t in timings)}; {variants} sensitivity rows)"
        )
        config = load_config(PROJECT_ROOT / "utvalg.toml").with_year(args.year)
        harmonised = run.table("harmonised_observations")
        municipal, schools = run.table("indicator_values"), run.table("school_indicator_values")
        steps = {
            "udir's rule": lambda: udir_selection(municipal, schools, config),
            "holistic method (draws included)": lambda: holistic_scores(
                municipal, config, school_values=schools
            ),
            "sensitivity runs": lambda: sensitivity_table(harmonised, municipal, schools, config),
        }
        total = 0.0
        for name, step in steps.items():
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - started)
            total += best
            print(f"{name:<40}{best:8.2f} s  (best of 3)")
        print(f"{'selection, functions only':<40}{total:8.2f} s")


if __name__ == "__main__":
    main()
