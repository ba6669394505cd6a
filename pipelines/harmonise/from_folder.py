"""Raw folder → harmonised observations in one call: the functions the assets call, in their order,
for the command line, scripts and notebooks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines import settings
from pipelines.harmonise.harmonise import build_target, harmonise
from pipelines.ingest.collect import ParsedFolder, parse_folder
from pipelines.reference.mapping import load_changes
from pipelines.reference.registers import load_registers
from pipelines.validate.observations import validate_observations


@dataclass(frozen=True)
class FolderResult:
    parsed: ParsedFolder
    observations: pl.DataFrame
    quarantine: pl.DataFrame
    harmonised: pl.DataFrame
    unplaced: pl.DataFrame


def harmonised_from_folder(raw: Path, target_structure: int, progress: bool = False) -> FolderResult:
    """Parse, validate and harmonise every export under ``raw``."""
    registers = load_registers(settings.REFERENCE_DIR)
    parsed = parse_folder(raw, registers, progress=progress)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    target = build_target(registers, load_changes(settings.REFERENCE_DIR), target_structure)
    harmonised, unplaced = harmonise(observations, target)
    return FolderResult(parsed, observations, quarantine, harmonised, unplaced)
