"""Benchmark: the ingest stages (parse, validate, harmonise) as the asset graph runs them, per asset.

Usage: .venv/bin/python scripts/benchmark_ingest.py [--raw DIR] [--repeat N]
Each repetition materialises the graph up to the harmonised observations into a fresh warehouse, so every
file is parsed. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pipelines.flow import FlowRun, materialise
from pipelines.settings import PROJECT_ROOT


def step_seconds(run: FlowRun) -> dict[str, float]:
    """Seconds per step (asset or check) of one run, as Dagster measured them."""
    return {
        str(event.step_key): event.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
        for event in run.result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", default=str(PROJECT_ROOT / "tests/fixtures/udir-export-samples"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = defaultdict(list)
    rows = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            run = materialise(
                Path(folder) / "warehouse.duckdb",
                ["harmonised_observations"],
                raise_on_error=True,
                raw_dir=args.raw,
                reports_dir=folder,
            )
            timings["whole run (in-process)"].append(time.perf_counter() - started)
            for step, seconds in step_seconds(run).items():
                timings[step].append(seconds)
            rows = run.table("observations").height
    print(f"{Path(args.raw).name}: {rows} observations; best of {args.repeat}")
    for step, values in sorted(timings.items(), key=lambda item: -min(item[1])):
        print(f"  {step:<45}{min(values):8.2f} s")


if __name__ == "__main__":
    main()
