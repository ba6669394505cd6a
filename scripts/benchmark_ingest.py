"""Benchmark: parsing every real sample, and the whole ingest on a raw folder. Prints figures."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipelines.harmonise.harmonise import build_target, harmonise
from pipelines.ingest.collect import parse_folder
from pipelines.reference.mapping import load_changes
from pipelines.reference.registers import load_registers
from pipelines.settings import PROJECT_ROOT, REFERENCE_DIR
from pipelines.validate.observations import validate_observations


def timed(label: str, function, repeat: int = 3):  # type: ignore[no-untyped-def]
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    print(f"{label:<45}{best:8.2f} s (best of {repeat})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", default=str(PROJECT_ROOT / "tests/fixtures/udir-export-samples"))
    args = parser.parse_args()
    raw = Path(args.raw)
    registers = load_registers(REFERENCE_DIR)
    parsed = timed(f"parse {raw.name}", lambda: parse_folder(raw, registers))
    print(f"  {parsed.files.height} files, {parsed.observations.height} rows")
    observations, quarantine = timed(
        "deduplicate and validate",
        lambda: validate_observations(parsed.observations, parsed.quarantine, registers),
    )
    print(f"  {observations.height} observations, {quarantine.height} quarantined")
    target = build_target(registers, load_changes(REFERENCE_DIR), 2024)
    harmonised, _ = timed("harmonise to 2024", lambda: harmonise(observations, target))
    print(f"  {harmonised.height} harmonised rows")


if __name__ == "__main__":
    main()
