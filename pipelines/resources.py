"""Dagster resources: the run's settings (raw folder, reference data, target structure)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from pipelines import settings
from pipelines.config import DEFAULT_CONFIG, Config, load_config
from pipelines.reference.mapping import Change, load_changes
from pipelines.reference.registers import NEWEST_STRUCTURE, STRUCTURES, Registers, load_registers


class UtvalgSettings(dg.ConfigurableResource):
    """Settings an analyst may change per run (Launchpad) or per deployment (environment)."""

    raw_dir: str = str(settings.raw_dir())
    reference_dir: str = str(settings.REFERENCE_DIR)
    target_structure: int = NEWEST_STRUCTURE
    max_quarantine_share: float = 0.01
    config_file: str = str(DEFAULT_CONFIG)
    school_year: str = ""  # empty: the configuration's school_year
    reports_dir: str = str(settings.REPORTS_DIR)

    def selection_config(self) -> Config:
        config = load_config(Path(self.config_file))
        return config.with_year(self.school_year) if self.school_year else config

    def registers(self) -> Registers:
        return load_registers(Path(self.reference_dir))

    def changes(self) -> dict[str, Change]:
        return load_changes(Path(self.reference_dir))

    def validated_target(self) -> int:
        if self.target_structure not in STRUCTURES:
            raise ValueError(
                f"target_structure {self.target_structure} is not a kommune structure; "
                f"expected one of {sorted(STRUCTURES)}"
            )
        return self.target_structure

    def as_json(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True)
