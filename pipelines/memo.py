"""A run reuses what has not changed since the last published run: a content-addressed memo per step.

Every step of the graph (an asset, or the tables a multi-asset writes together) gets an *input key*
before the run starts: a SHA-256 of everything that can change what it writes —

- the environment every step sees: the project's code (every file under ``pipelines/`` and ``assets/``,
  the Python version and every installed distribution's version), the run's recorded settings, the
  configuration file's bytes, the reference folders and the committed validation result;
- what the step itself reads besides the warehouse (:data:`READS`): the raw folder's files, the register;
- the input keys of the steps upstream of it.

So a changed raw file changes the key of the parsing step and of everything downstream of it, and
nothing else; changed code or configuration changes every key. No key is a number someone must remember
to bump.

Publication records each step's key in the warehouse (``asset_versions``), with the files a step wrote
outside it (``asset_version_files``: path in the school year's reports folder and SHA-256). The next run
compares: a step whose key is unchanged, whose tables are still in the warehouse and whose files are still
in the published reports folder with the same bytes is *reused*: it is left out of the run's selection, so
Dagster never loads its inputs or runs it; its tables stay in the run's copy of the warehouse and
publication copies its files into the run's reports folder. Everything else is recomputed. The run is as
atomic as before: reused tables and files are published with the rest, or not at all.

The keys are decided once, under the warehouse's lock (:func:`plan`), from the run's working copy, which is
what the run reads.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import dagster as dg
import polars as pl

from pipelines import settings
from pipelines.resources import UtvalgSettings
from pipelines.selection.validation import METRICS_FILE, PROVENANCE_FILE, RELIABILITY_FILE, THRESHOLDS_FILE
from pipelines.storage.warehouse import Warehouse

VERSIONS_TABLE = "asset_versions"
FILES_TABLE = "asset_version_files"
VERSIONS_SCHEMA = pl.Schema(
    # The step's assets in one string ("a, b"): every warehouse table can be exported to CSV. ``run_id``:
    # the run that computed the step's tables and files (a run that reused them is not this one).
    {"step": pl.String(), "assets": pl.String(), "input_key": pl.String(), "run_id": pl.String()}
)
FILES_SCHEMA = pl.Schema({"step": pl.String, "path": pl.String, "sha256": pl.String})

# Steps that read files besides the warehouse and the environment, by what they read. A step's body that
# reads the raw folder or the register must be named here (tests/test_reuse.py checks the asset modules).
RAW_FOLDER, REGISTER = "raw folder", "register"
# The snapshot's bytes are recorded as a file of the publication step, beside the warehouse.
SNAPSHOT_STEP = "publication"
READS = {
    "parsed_exports": RAW_FOLDER,
    "pupil_data": RAW_FOLDER,
    "register_records": REGISTER,
    "review_records": REGISTER,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tree(folder: Path) -> list[tuple[str, str]]:
    """Every file under ``folder`` by path and SHA-256 (empty for a folder that does not exist)."""
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [(p.relative_to(folder).as_posix(), _sha256(p)) for p in files]


def code_fingerprint() -> str:
    """The code that computes every step: the project's own files, the interpreter and every installed
    distribution (a new polars may write other bytes)."""
    digest = hashlib.sha256(sys.version.encode())
    for folder in ("pipelines", "assets"):
        digest.update(json.dumps(_tree(settings.PROJECT_ROOT / folder)).encode())
    distributions = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(distributions).encode())
    return digest.hexdigest()


def _environment(utvalg: UtvalgSettings) -> str:
    config = Path(utvalg.config_file)
    validation = [
        settings.VALIDATION_DIR / name
        for name in (METRICS_FILE, RELIABILITY_FILE, THRESHOLDS_FILE, PROVENANCE_FILE)
    ]
    seen = {
        "code": code_fingerprint(),
        "settings": utvalg.as_json(),
        "configuration": _sha256(config) if config.is_file() else "",
        "reference": _tree(Path(utvalg.reference_dir)),
        "project_reference": _tree(settings.REFERENCE_DIR),
        "validation": [(p.name, _sha256(p)) for p in validation if p.is_file()],
    }
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()


def _external(utvalg: UtvalgSettings, what: str) -> str:
    if what == RAW_FOLDER:
        return json.dumps(_tree(Path(utvalg.raw_dir)))
    register = Path(utvalg.register_path)
    return json.dumps([(p.name, _sha256(p)) for p in sorted(register.parent.glob(register.name + "*"))])


def steps_of(definitions: dg.Definitions) -> dict[str, list[dg.AssetKey]]:
    """The graph's steps (node names) and the assets each materialises, publication left out."""
    graph = definitions.resolve_asset_graph()
    steps: dict[str, list[dg.AssetKey]] = {}
    for key in graph.get_all_asset_keys():
        name = definitions.resolve_assets_def(key).node_def.name
        if name != "publication":
            steps.setdefault(name, []).append(key)
    return {name: sorted(keys, key=lambda key: key.to_user_string()) for name, keys in sorted(steps.items())}


def input_keys(definitions: dg.Definitions, utvalg: UtvalgSettings) -> dict[str, str]:
    """Each step's input key (see the module's documentation)."""
    graph = definitions.resolve_asset_graph()
    steps = steps_of(definitions)
    step_of = {key: name for name, keys in steps.items() for key in keys}
    environment = _environment(utvalg)
    externals = {what: _external(utvalg, what) for what in set(READS.values())}
    keys: dict[str, str] = {}

    def key_of(name: str) -> str:
        if name not in keys:
            upstream = sorted(
                {step_of[parent] for key in steps[name] for parent in graph.get(key).parent_keys} - {name}
            )
            digest = hashlib.sha256(f"{name}\n{environment}\n".encode())
            digest.update(externals[READS[name]].encode() if name in READS else b"")
            for parent in upstream:
                digest.update(f"{parent}:{key_of(parent)}\n".encode())
            keys[name] = digest.hexdigest()
        return keys[name]

    for name in steps:
        key_of(name)
    return keys


@dataclass(frozen=True)
class Plan:
    """The steps of one run: every step's input key, and those reused from the last published run."""

    keys: dict[str, str]
    reused: frozenset[str] = frozenset()
    previous_folder: str = ""  # the published reports folder that reused steps' files are copied from
    assets: dict[str, list[str]] = field(default_factory=dict)  # step → its asset keys

    def resource(self) -> RunMemo:
        return RunMemo(
            planned=True,
            step_keys=self.keys,
            reused=sorted(self.reused),
            previous_folder=self.previous_folder,
            assets=self.assets,
        )


def _previous(working: Warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The steps and files the published run recorded (none when it recorded none)."""
    if not {VERSIONS_TABLE, FILES_TABLE} <= set(working.tables()):
        return pl.DataFrame(schema=VERSIONS_SCHEMA), pl.DataFrame(schema=FILES_SCHEMA)
    return working.read(VERSIONS_TABLE), working.read(FILES_TABLE)


def _unchanged(folder: Path | None, files: pl.DataFrame) -> bool:
    """Whether every recorded file is still in ``folder`` with the bytes recorded."""
    if files.is_empty():
        return True
    return folder is not None and all(
        (folder / path).is_file() and _sha256(folder / path) == sha256
        for path, sha256 in files.select("path", "sha256").iter_rows()
    )


def plan(
    definitions: dg.Definitions,
    selected: Iterable[dg.AssetKey],
    working: Warehouse,
    utvalg: UtvalgSettings,
    reuse: bool,
) -> Plan:
    """The keys of the steps of the ``selected`` assets, and which of them this run can reuse (none
    unless ``reuse``)."""
    selected = set(selected)
    steps = {name: keys for name, keys in steps_of(definitions).items() if set(keys) <= selected}
    keys = {name: key for name, key in input_keys(definitions, utvalg).items() if name in steps}
    names = {name: [key.to_user_string() for key in keys_] for name, keys_ in steps.items()}
    published = utvalg.published_folder
    previous_folder = published.resolve() if published.is_dir() else None
    if not reuse:
        return Plan(keys, assets=names)
    versions, files = _previous(working)
    recorded = dict(zip(versions["step"], versions["input_key"], strict=True))
    tables = set(working.tables())
    reused = {
        name
        for name, step_keys in steps.items()
        if recorded.get(name) == keys[name]
        # A step that wrote files wrote no tables; one that wrote none must have all its tables.
        and (
            _unchanged(previous_folder, files.filter(pl.col("step") == name))
            if name in set(files["step"])
            else {"_".join(key.path) for key in step_keys} <= tables
        )
    }
    return Plan(keys, frozenset(reused), str(previous_folder or ""), names)


class RunMemo(dg.ConfigurableResource):
    """The run's :class:`Plan`, for publication to record. An unplanned run (one launched in the Dagster
    UI, say) records no keys, so the next run recomputes everything."""

    planned: bool
    step_keys: dict[str, str]  # step → input key, for the steps of the run
    reused: list[str]
    previous_folder: str
    assets: dict[str, list[str]]  # step → the assets it materialises

    @staticmethod
    def unplanned() -> RunMemo:
        return RunMemo(planned=False, step_keys={}, reused=[], previous_folder="", assets={})


def _owned_files(folders: Mapping[str, Path]) -> dict[str, list[Path]]:
    """The files each step wrote into its folder, a folder inside another's belonging to its own step."""
    owned: dict[str, list[Path]] = {}
    for name, folder in folders.items():
        inner = [other for other in folders.values() if other != folder and other.is_relative_to(folder)]
        owned[name] = sorted(
            path
            for path in folder.rglob("*")
            if path.is_file() and not any(path.is_relative_to(other) for other in inner)
        )
    return owned


def copy_reused(memo: RunMemo, working: Warehouse, year_folder: Path) -> None:
    """Copy the files of the reused steps from the published reports folder into the run's."""
    _, files = _previous(working)
    for (path,) in files.filter(pl.col("step").is_in(memo.reused)).select("path").iter_rows():
        target = year_folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(memo.previous_folder) / path, target)


def snapshot_unchanged(memo: RunMemo, working: Warehouse, snapshot: Path, tables: Iterable[str]) -> bool:
    """Whether the published snapshot already holds ``tables`` as this run has them: no step that writes
    one of them ran, and the snapshot has the bytes the last run recorded."""
    if not memo.planned:
        return False
    ran = set(memo.step_keys) - set(memo.reused)
    written = {"_".join(dg.AssetKey.from_user_string(a).path) for name in ran for a in memo.assets[name]}
    if written & set(tables):
        return False
    _, files = _previous(working)
    recorded = files.filter((pl.col("step") == SNAPSHOT_STEP) & (pl.col("path") == snapshot.name))
    return recorded.height == 1 and _unchanged(snapshot.parent, recorded)


def record(
    memo: RunMemo,
    context: dg.AssetExecutionContext,
    working: Warehouse,
    year_folder: Path,
    snapshot: tuple[str, Path],
) -> None:
    """Record every step's key and files, and the bytes of the snapshot it publishes (its name, and the
    file it publishes under that name), in the run's warehouse. Steps outside this run keep the rows the
    warehouse has; an unplanned run records none (so the next run reuses nothing)."""
    previous, previous_files = _previous(working)
    versions = pl.DataFrame(schema=VERSIONS_SCHEMA)
    files = pl.DataFrame(schema=FILES_SCHEMA)
    if memo.planned:
        ran = set(memo.step_keys) - set(memo.reused)
        folders = {}
        for name in ran:
            for asset in memo.assets[name]:
                event = context.instance.get_latest_materialization_event(dg.AssetKey.from_user_string(asset))
                folder = (
                    event.asset_materialization.metadata.get("folder")
                    if event and event.asset_materialization
                    else None
                )
                if folder is not None and event is not None and event.run_id == context.run.run_id:
                    folders[name] = Path(str(folder.value))
        written = [
            (name, path.relative_to(year_folder).as_posix(), _sha256(path))
            for name, paths in _owned_files(folders).items()
            for path in paths
        ]
        kept = previous.filter(~pl.col("step").is_in(list(memo.step_keys)))
        computed_by = dict(zip(previous["step"], previous["run_id"], strict=True))
        versions = pl.concat(
            [
                pl.DataFrame(
                    [
                        (
                            name,
                            ", ".join(memo.assets[name]),
                            key,
                            computed_by[name] if name in memo.reused else context.run.run_id,
                        )
                        for name, key in memo.step_keys.items()
                    ],
                    schema=VERSIONS_SCHEMA,
                    orient="row",
                ),
                kept,
            ]
        )
        files = pl.concat(
            [
                pl.DataFrame(written, schema=FILES_SCHEMA, orient="row"),
                previous_files.filter(pl.col("step").is_in([*memo.reused, *kept["step"]])),
                pl.DataFrame(
                    [(SNAPSHOT_STEP, snapshot[0], _sha256(snapshot[1]))], schema=FILES_SCHEMA, orient="row"
                ),
            ]
        )
    working.write_many({VERSIONS_TABLE: versions.sort("step"), FILES_TABLE: files.sort("step", "path")})
