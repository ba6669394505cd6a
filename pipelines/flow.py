"""Running the asset graph in-process: the one path by which `utvalg run`, `utvalg select`,
`utvalg export observations`, the tests and the scripts get their tables.

The graph in :mod:`pipelines.definitions` is the only place the stages are wired together; this module
only chooses which assets of it to materialise, into which warehouse, with which settings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from pipelines.definitions import build_definitions
from pipelines.storage.warehouse import Warehouse

# Errors that mean the input is wrong (a file, a folder, the configuration), not the run.
BAD_INPUT_ERRORS = frozenset({"ExportFormatError", "FileNotFoundError", "ConfigError", "RegisterError"})


@dataclass(frozen=True)
class Failure:
    message: str
    error: str  # the class of the project's own error, e.g. ExportFormatError

    @property
    def bad_input(self) -> bool:
        return self.error in BAD_INPUT_ERRORS


@dataclass(frozen=True)
class FlowRun:
    """One in-process run of (part of) the graph and the warehouse it wrote."""

    result: dg.ExecuteInProcessResult
    warehouse: Warehouse

    @property
    def success(self) -> bool:
        return self.result.success

    def table(self, name: str) -> pl.DataFrame:
        return self.warehouse.read(name)

    def metadata(self, asset: str) -> dict[str, Any]:
        """The metadata ``asset`` was materialised with in this run, as plain values."""
        (materialisation,) = self.result.asset_materializations_for_node(asset)
        return {key: value.value for key, value in materialisation.metadata.items()}

    def failures(self) -> list[Failure]:
        """The project's own errors behind failed steps, once each (Dagster's wrappers unwrapped)."""
        found: dict[str, Failure] = {}
        for event in self.result.all_events:
            error = getattr(event.event_specific_data, "error", None) if event.is_failure else None
            while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
                error = error.cause
            if error is not None:
                message = error.message.strip()
                found.setdefault(message, Failure(message, error.cls_name))
        return list(found.values())

    def failed_checks(self) -> list[str]:
        return [e.check_name for e in self.result.get_asset_check_evaluations() if not e.passed]


def materialise(
    warehouse: Path,
    targets: Sequence[str] = (),
    *,
    persistent_instance: bool = False,
    raise_on_error: bool = False,
    **settings: Any,
) -> FlowRun:
    """Materialise ``targets`` and everything upstream of them (every asset when empty) in-process.

    ``settings`` are the ``utvalg`` resource's fields (raw_dir, config_file, school_year, …). A persistent
    instance (``$DAGSTER_HOME``) records the run for the Dagster UI; otherwise an ephemeral one is used.
    """
    definitions = build_definitions(str(warehouse), **settings)
    job = definitions.resolve_implicit_global_asset_job_def()
    selection = None
    if targets:
        keys = set(dg.AssetSelection.assets(*targets).upstream().resolve(definitions.resolve_asset_graph()))
        # Tables one computation writes together (a multi-asset) are materialised together, and every
        # run ends by publishing what it wrote (without the rest of the graph upstream of publication).
        keys |= {sibling for key in keys for sibling in definitions.resolve_assets_def(key).keys}
        keys.add(dg.AssetKey("publication"))
        selection = sorted(keys, key=lambda key: key.to_user_string())
    instance = (
        dg.DagsterInstance.get()
        if persistent_instance and os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    result = job.execute_in_process(
        instance=instance, asset_selection=selection, raise_on_error=raise_on_error
    )
    return FlowRun(result, Warehouse(warehouse))
