"""Benchmark: the whole selection (10,000 draws and the sensitivity runs) on a national sample.

Usage: .venv/bin/python scripts/benchmark_selection.py [--raw DIR] [--seed N]
Without --raw a sample is generated into a temporary folder first. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipelines.config import load_config
from pipelines.harmonise.from_folder import harmonised_from_folder
from pipelines.reference.registers import load_registers, municipality_register
from pipelines.sample.generate import generate_sample
from pipelines.selection.candidates import run_selection
from pipelines.settings import REFERENCE_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--year", default="2025-26")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(args.raw) if args.raw else Path(folder)
        if not args.raw:
            started = time.perf_counter()
            generate_sample(args.seed, raw, REFERENCE_DIR)
            print(f"{'generate sample':<40}{time.perf_counter() - started:8.2f} s")
        started = time.perf_counter()
        folder_result = harmonised_from_folder(raw, 2024)
        observations, harmonised = folder_result.observations, folder_result.harmonised
        print(
            f"{'parse, validate, harmonise':<40}{time.perf_counter() - started:8.2f} s"
            f"  ({observations.height} rows)"
        )
        config = load_config().with_year(args.year)
        register = municipality_register(load_registers(REFERENCE_DIR), 2024)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            result = run_selection(harmonised, register, config)
            timings.append(time.perf_counter() - started)
        variants = result.sensitivity_runs["variant"].n_unique()
        print(
            f"{'selection (draws=' + str(config.holistic.draws) + ', ' + str(variants) + ' variants)':<40}"
            f"{min(timings):8.2f} s  (best of 3; {', '.join(f'{t:.2f}' for t in timings)})"
        )


if __name__ == "__main__":
    main()
