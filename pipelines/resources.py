"""Dagster resources: the run's settings, with the configuration and the registers read once per run."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.config import DEFAULT_CONFIG, Config, load_config
from pipelines.reference.mapping import Change, load_changes
from pipelines.reference.registers import NEWEST_STRUCTURE, STRUCTURES, Registers, load_registers
from pipelines.storage.publication import versioned_folder


class UtvalgSettings(dg.ConfigurableResource):
    """Settings an analyst may change per run (Launchpad) or per deployment (environment).

    The selection configuration, the registers and the change list are read once, when a run starts,
    and every asset of the run sees the same ones.
    """

    raw_dir: str = str(settings.raw_dir())
    reference_dir: str = str(settings.REFERENCE_DIR)
    target_structure: int = NEWEST_STRUCTURE
    max_quarantine_share: float = 0.01
    config_file: str = str(DEFAULT_CONFIG)
    school_year: str = ""  # empty: the configuration's school_year
    allow_missing: bool = False  # select on the data there is (else: the configuration's allow_missing_data)
    reports_dir: str = str(settings.REPORTS_DIR)
    register_path: str = str(settings.register_path())  # the register of cohorts, decisions, applications
    progress: bool = False  # a progress bar while parsing (the command line's, not the UI's)

    _config: Config | None = PrivateAttr(default=None)
    _registers: Registers | None = PrivateAttr(default=None)
    _changes: dict[str, Change] | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run.run_id if context.run is not None else None
        self._config = self._read_config()
        self._registers = load_registers(Path(self.reference_dir))
        self._changes = load_changes(Path(self.reference_dir))

    def _read_config(self) -> Config:
        config = load_config(Path(self.config_file))
        config = config.with_missing_data_allowed() if self.allow_missing else config
        return config.with_year(self.school_year) if self.school_year else config

    @property
    def config(self) -> Config:
        """The selection configuration (``utvalg.toml``), with the run's school year."""
        if self._config is None:  # outside a run (sensors, tests of a resource on its own)
            self._config = self._read_config()
        return self._config

    @property
    def registers(self) -> Registers:
        if self._registers is None:
            self._registers = load_registers(Path(self.reference_dir))
        return self._registers

    @property
    def changes(self) -> dict[str, Change]:
        if self._changes is None:
            self._changes = load_changes(Path(self.reference_dir))
        return self._changes

    @property
    def structure(self) -> int:
        """The target kommune structure, checked."""
        if self.target_structure not in STRUCTURES:
            raise ValueError(
                f"target_structure {self.target_structure} is not a kommune structure; "
                f"expected one of {sorted(STRUCTURES)}"
            )
        return self.target_structure

    @property
    def published_folder(self) -> Path:
        """Where readers find the school year's reports: ``<reports_dir>/<school-year>``."""
        return Path(self.reports_dir) / self.config.selection.school_year

    @property
    def year_folder(self) -> Path:
        """Where this run writes the school year's reports: a folder of its own, which publication
        makes ``<reports_dir>/<school-year>`` (outside a run: that folder itself)."""
        if self._run_id is None:
            return self.published_folder
        return versioned_folder(Path(self.reports_dir), self.config.selection.school_year, self._run_id)

    def recorded(self) -> dict[str, object]:
        """The settings that shape the outputs, as provenance records them: no folder of the machine that
        ran the pipeline (outputs travel; the inputs are named relative to the raw folder, and the
        configuration is recorded by its content), and not the progress bar."""
        folders = {"raw_dir", "reference_dir", "reports_dir", "config_file", "register_path"}
        return {
            **self.model_dump(exclude={"progress", *folders}),
            "config_file": Path(self.config_file).name,
        }

    def as_json(self) -> str:
        return json.dumps(self.recorded(), sort_keys=True)
