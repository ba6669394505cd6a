"""Running the asset graph in-process: the one path by which `utvalg run`, `utvalg select`,
`utvalg export observations`, the tests and the scripts get their tables.

The graph in :mod:`pipelines.definitions` is the only place the stages are wired together; this module
only chooses which assets of it to materialise, into which warehouse, with which settings.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from pipelines.definitions import build_definitions
from pipelines.storage.warehouse import Warehouse

# Errors that mean the input is wrong (a file, a folder, the configuration), not the run.
BAD_INPUT_ERRORS = frozenset(
    {"ExportFormatError", "PupilDataError", "FileNotFoundError", "ConfigError", "RegisterError"}
)


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
    log_file: Path | None = None  # Dagster's own record of the run, event by event

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
                # Dagster prefixes the class (``pipelines.config.ConfigError: …``); a person needs the text.
                message = re.sub(rf"^[\w.]*\b{re.escape(error.cls_name)}: ", "", error.message.strip())
                found.setdefault(message, Failure(message, error.cls_name))
        return list(found.values())

    def failed_checks(self) -> list[str]:
        return [e.check_name for e in self.result.get_asset_check_evaluations() if not e.passed]


# The stages in the order data flows through them, as the asset groups name them.
STAGES = ("reference", "raw", "observations", "harmonised", "indicators", "selection", "followup", "outputs")


def _number(value: object) -> str:
    return f"{value:,}".replace(",", " ") if isinstance(value, int) else str(value)


def stage_line(stage: str, metadata: Mapping[str, Mapping[str, Any]]) -> str:
    """One line a person reads when ``stage`` is done, from its assets' metadata (asset → key → value)."""

    def get(asset: str, key: str) -> Any:
        return metadata.get(asset, {}).get(key)

    rows = {asset: get(asset, "dagster/row_count") for asset in metadata}
    if stage == "reference" and get("kommune_register", "kommuner") is not None:
        return (
            f"reference: {get('kommune_register', 'kommuner')} kommuner in the "
            f"{get('kommune_register', 'structure')} structure"
        )
    if stage == "raw" and get("raw_files", "files") is not None:
        return (
            f"raw: {get('raw_files', 'files')} files found, {get('raw_files', 'files_parsed')} parsed, "
            f"{get('raw_files', 'files_unchanged')} unchanged"
        )
    if stage == "observations" and rows.get("observations") is not None:
        return (
            f"observations: {_number(rows['observations'])} rows validated, "
            f"{_number(rows.get('quarantine') or 0)} quarantined"
        )
    if stage == "harmonised" and rows.get("harmonised_observations") is not None:
        return (
            f"harmonised: {_number(rows['harmonised_observations'])} rows in the target structure, "
            f"{_number(rows.get('unharmonised_observations') or 0)} not placed"
        )
    if stage == "indicators" and get("data_coverage", "missing") is not None:
        missing = get("data_coverage", "missing")
        absent = get("data_coverage", "no_files")
        said = [f"no files from {absent}"] if absent else []
        said += [f"missing data: {missing}"] if missing else []
        return f"indicators: window {get('data_coverage', 'window')}; " + (
            "; ".join(said) or "every source has data for every year"
        )
    if stage == "selection" and get("candidates", "udir_category_1") is not None:
        return (
            f"selection: {get('candidates', 'udir_category_1')} in Udir's category 1, "
            f"{get('candidates', 'udir_category_2')} in category 2; {get('candidates', 'on_the_list')} "
            "kommuner on the list by either method, borderline cases included"
        )
    if stage == "outputs":
        written = sum(int(get(asset, "files") or 0) for asset in metadata)
        return f"outputs: {written} files written" + (
            "; warehouse, snapshot and reports published" if "publication" in metadata else ""
        )
    return f"{stage}: {len(metadata)} tables"


class _StageProgress(logging.Handler):
    """Reports each stage (asset group) once all of its assets in this run are materialised, in the
    order data flows (a stage that finishes early waits for the ones before it).

    Dagster hands a run's loggers every event as a log record with the event attached
    (``record.dagster_event``); a materialisation carries the asset's metadata.
    """

    def __init__(self, groups: Mapping[str, str], report: Callable[[str], None]) -> None:
        super().__init__(logging.DEBUG)  # Dagster logs its events at DEBUG
        self.groups = groups  # asset key (user string) → stage, for the assets this run materialises
        self.report = report
        self.done: dict[str, dict[str, dict[str, Any]]] = {}
        self.pending = [stage for stage in STAGES if stage in set(groups.values())]
        self.pending += sorted(set(groups.values()) - set(STAGES))

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if not isinstance(event, dg.DagsterEvent) or not event.is_step_materialization:
            return
        asset = event.asset_key.to_user_string() if event.asset_key else ""
        stage = self.groups.get(asset)
        if stage is None:
            return
        materialisation = event.step_materialization_data.materialization
        metadata = {key: value.value for key, value in materialisation.metadata.items()}
        self.done.setdefault(stage, {})[asset] = metadata
        while self.pending and self._complete(self.pending[0]):
            finished = self.pending.pop(0)
            self.report(stage_line(finished, self.done[finished]))

    def _complete(self, stage: str) -> bool:
        expected = sum(1 for group in self.groups.values() if group == stage)
        return len(self.done.get(stage, {})) == expected


def _run_loggers(
    groups: Mapping[str, str], log_file: Path | None, on_stage: Callable[[str], None] | None
) -> tuple[dict[str, dg.LoggerDefinition], list[logging.Handler]]:
    """The run's loggers, in place of Dagster's console logger: its events (DEBUG and up, with any stack
    trace) go to ``log_file``, and a person sees one line per stage through ``on_stage``."""
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handlers.append(to_file)
    if on_stage is not None:
        handlers.append(_StageProgress(groups, on_stage))

    def init(_: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.getLogger(f"utvalg.run.{uuid.uuid4().hex}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # never to the root logger's console handlers
        for handler in handlers:
            logger.addHandler(handler)
        return logger

    definition = dg.LoggerDefinition(init, description="utvalg's log file and stage progress")
    return {"utvalg": definition}, handlers


def materialise(
    warehouse: Path,
    targets: Sequence[str] = (),
    *,
    persistent_instance: bool = False,
    raise_on_error: bool = False,
    log_dir: Path | None = None,
    on_stage: Callable[[str], None] | None = None,
    **settings: Any,
) -> FlowRun:
    """Materialise ``targets`` and everything upstream of them (every asset when empty) in-process.

    ``settings`` are the ``utvalg`` resource's fields (raw_dir, config_file, school_year, …). A persistent
    instance (``$DAGSTER_HOME``) records the run for the Dagster UI; otherwise an ephemeral one is used.
    Nothing goes to the console: Dagster's events go to ``log_dir/<run id>.log`` (when given) and
    ``on_stage`` gets one line per stage as it completes.
    """
    base = build_definitions(str(warehouse), **settings)
    graph = base.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    if targets:
        keys = set(dg.AssetSelection.assets(*targets).upstream().resolve(graph))
        # Tables one computation writes together (a multi-asset) are materialised together, and every
        # run ends by publishing what it wrote (without the rest of the graph upstream of publication).
        keys |= {sibling for key in keys for sibling in base.resolve_assets_def(key).keys}
        keys.add(dg.AssetKey("publication"))
    groups = {key.to_user_string(): graph.get(key).group_name for key in keys}
    run_id = str(uuid.uuid4())
    log_file = None if log_dir is None else log_dir / f"{run_id}.log"
    loggers, handlers = _run_loggers(groups, log_file, on_stage)
    job = dg.Definitions.merge(base, dg.Definitions(loggers=loggers)).resolve_implicit_global_asset_job_def()
    selection = sorted(keys, key=lambda key: key.to_user_string()) if targets else None
    instance = (
        dg.DagsterInstance.get()
        if persistent_instance and os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    try:
        result = job.execute_in_process(
            # Naming the run's loggers in its configuration is what replaces Dagster's console logger.
            run_config={"loggers": {name: {} for name in loggers}},
            instance=instance,
            asset_selection=selection,
            raise_on_error=raise_on_error,
            run_id=run_id,
        )
    finally:
        for handler in handlers:
            handler.close()
    return FlowRun(result, Warehouse(warehouse), log_file)
