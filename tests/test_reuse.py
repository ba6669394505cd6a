"""A run reuses the steps whose inputs are unchanged since the last published run, and its outputs are
byte for byte those of a run that computes everything (pipelines/memo.py)."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.definitions import build_definitions
from pipelines.flow import FlowRun, materialise
from pipelines.memo import FILES_TABLE, READS, VERSIONS_TABLE, input_keys
from pipelines.resources import UtvalgSettings
from pipelines.settings import PROJECT_ROOT
from tests.conftest import NP5, SAMPLES, SAMPLES_CONFIG

SCHOOL_YEAR = "2020-21"  # the year tests/fixtures/udir-export-samples.toml selects
MEMO_TABLES = {VERSIONS_TABLE, FILES_TABLE}


def _run(place: Path, *, reuse: bool = True, config: Path = SAMPLES_CONFIG) -> FlowRun:
    return materialise(
        place / "w.duckdb",
        reuse=reuse,
        raw_dir=str(place / "raw"),
        reports_dir=str(place / "reports"),
        config_file=str(config),
        register_path=str(place / "register.duckdb"),
    )


def _tables(database: Path, leave_out: set[str] = MEMO_TABLES) -> dict[str, str]:
    """Every table's content as a hash (what the memo records is left out: it names the runs that
    computed each step)."""
    connection = duckdb.connect(str(database), read_only=True)
    try:
        names = [
            row[0]
            for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        return {
            name: hashlib.sha256(
                repr(connection.execute(f"SELECT * FROM {name}").fetchall()).encode()
            ).hexdigest()
            for name in sorted(set(names) - leave_out)
        }
    finally:
        connection.close()


def _reports(place: Path) -> dict[str, str]:
    folder = place / "reports" / SCHOOL_YEAR
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _published(place: Path) -> dict[str, Any]:
    """What a reader sees: the reports byte for byte, the warehouse's and the snapshot's tables."""
    return {
        "reports": _reports(place),
        "warehouse": _tables(place / "w.duckdb"),
        "snapshot": _tables(place / "snapshot.duckdb"),
    }


def _materialised(run: FlowRun) -> set[str]:
    return {
        event.asset_key.to_user_string()
        for event in run.result.all_events
        if event.is_step_materialization and event.asset_key is not None
    }


def _reused(place: Path, run: FlowRun) -> set[str]:
    """The steps ``run`` reused: the run that computed them, recorded in the warehouse, is another."""
    versions = _versions(place)
    return set(versions.filter(pl.col("run_id") != run.result.run_id)["step"])


def _versions(place: Path) -> pl.DataFrame:
    connection = duckdb.connect(str(place / "w.duckdb"), read_only=True)
    try:
        return connection.sql(f"SELECT * FROM {VERSIONS_TABLE} ORDER BY step").pl()
    finally:
        connection.close()


def _change_one_figure(raw: Path) -> None:
    """One kommune's English score in the national tests for 5th grade, 51 → 52 (the file is UTF-16)."""
    path = raw / NP5.name
    text = path.read_bytes().decode("utf-16-le")
    assert text.count("\t51\t0,8\t476\t") == 1
    path.write_bytes(text.replace("\t51\t0,8\t476\t", "\t52\t0,8\t476\t").encode("utf-16-le"))


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A place (raw folder, warehouse, reports, register) after one run that computed everything."""
    place = tmp_path_factory.mktemp("reuse-first")
    shutil.copytree(SAMPLES, place / "raw")
    run = _run(place)
    assert run.success
    assert not _reused(place, run)
    return place


def _copy(first: Path, to: Path) -> Path:
    shutil.copytree(first, to, symlinks=True)  # the reports link stays a relative link into the copy
    return to


def _all_assets(place: Path) -> set[str]:
    definitions = build_definitions(str(place / "w.duckdb"))
    return {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}


def test_an_unchanged_run_reuses_every_step_and_publishes_the_same_bytes(first, tmp_path):
    place = _copy(first, tmp_path / "place")
    before = _published(place)
    run = _run(place)
    assert run.success
    # Only publication ran: no step read its inputs or computed anything.
    assert _materialised(run) == {"publication"}
    assert _published(place) == before
    steps = _versions(place)["step"].to_list()
    assert _reused(place, run) == set(steps) and len(steps) > 30
    assert run.metadata("publication")["reused"] == steps
    # What the warehouse records does not depend on whether a step was reused.
    assert _tables(place / "w.duckdb", set()) == _tables(first / "w.duckdb", set())
    # The published run is a new one: its reports folder is its own, with the reused files copied in.
    assert (place / "reports" / SCHOOL_YEAR).resolve() != (first / "reports" / SCHOOL_YEAR).resolve()


def test_a_changed_file_recomputes_what_depends_on_it_and_gives_a_fresh_runs_outputs(first, tmp_path):
    place = _copy(first, tmp_path / "place")
    _change_one_figure(place / "raw")
    run = _run(place)
    assert run.success

    fresh = tmp_path / "fresh"
    shutil.copytree(place / "raw", fresh / "raw")
    assert _run(fresh, reuse=False).success
    assert _published(place) == _published(fresh)
    assert _published(place) != _published(first)

    # Exactly the parsing step and what is downstream of it ran; the registers and the register's
    # records did not.
    definitions = build_definitions(str(place / "w.duckdb"))
    graph = definitions.resolve_asset_graph()
    # The tables the parsing steps write (exports, and pupil-level data: both read the raw folder).
    exports = ("raw_files", "parsed_observations", "parse_quarantine")
    parsed = (*exports, "pupil_figures", "pupil_quarantine", "pupil_files")
    downstream = dg.AssetSelection.assets(*parsed).downstream().resolve(graph)
    assert _materialised(run) == {key.to_user_string() for key in downstream}
    registers = {"kommune_register", "kommune_registers", "kommune_mapping", "fylke_mapping"}
    assert _reused(place, run) == registers | {"register_records", "review_records"}


def test_a_changed_configuration_recomputes_everything(first, tmp_path):
    place = _copy(first, tmp_path / "place")
    config = tmp_path / "other.toml"
    # The configuration is part of every step's key by its bytes: even a comment counts.
    config.write_text(SAMPLES_CONFIG.read_text(encoding="utf-8") + "\n# another run\n", encoding="utf-8")
    run = _run(place, config=config)
    assert run.success
    assert _materialised(run) == _all_assets(place)
    assert not _reused(place, run)


def test_a_failed_run_leaves_the_published_run_and_its_record_alone(first, tmp_path):
    place = _copy(first, tmp_path / "place")
    before = _published(place), _tables(place / "w.duckdb", set())
    good = (place / "raw" / NP5.name).read_bytes()
    (place / "raw" / NP5.name).write_bytes(good[: len(good) // 2])  # cut: the parser refuses it
    assert not _run(place).success
    assert (_published(place), _tables(place / "w.duckdb", set())) == before
    (place / "raw" / NP5.name).write_bytes(good)
    run = _run(place)
    assert _materialised(run) == {"publication"}
    assert _published(place) == before[0]


def test_run_full_recomputes_everything(first, tmp_path):
    from pipelines.cli import main

    place = _copy(first, tmp_path / "place")
    arguments = ["run", "--raw", str(place / "raw"), "--config", str(SAMPLES_CONFIG), "--quiet"]
    arguments += ["--warehouse", str(place / "w.duckdb"), "--reports", str(place / "reports"), "--full"]
    assert main(arguments) == 0
    computed_by = set(_versions(place)["run_id"])
    assert len(computed_by) == 1 and not computed_by & set(_versions(first)["run_id"])
    assert _published(place) == _published(first)


def _keys(tmp_path: Path, **changes: Any) -> dict[str, str]:
    settings = {
        "raw_dir": str(tmp_path / "raw"),
        "config_file": str(SAMPLES_CONFIG),
        "register_path": str(tmp_path / "register.duckdb"),
        **changes,
    }
    return input_keys(build_definitions(str(tmp_path / "w.duckdb")), UtvalgSettings(**settings))


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {step for step in before if before[step] != after[step]}


def test_input_keys_change_with_exactly_what_a_step_reads(tmp_path):
    shutil.copytree(SAMPLES, tmp_path / "raw")
    before = _keys(tmp_path)
    assert _keys(tmp_path) == before  # nothing that a run writes (or the clock) is part of a key

    (tmp_path / "register.duckdb").write_bytes(b"records")
    register = _changed(before, _keys(tmp_path))
    assert {"register_records", "review_records", "candidates", "dashboard"} <= register
    assert not {"parsed_exports", "harmonised", "holistic"} & register
    (tmp_path / "register.duckdb").unlink()

    other = tmp_path / "other.toml"
    other.write_text(SAMPLES_CONFIG.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _changed(before, _keys(tmp_path, config_file=str(other))) == set(before)
    assert _changed(before, _keys(tmp_path, target_structure=2020)) == set(before)


def test_every_step_that_reads_the_raw_folder_or_the_register_is_named(tmp_path):
    """A step's key covers the raw folder or the register only when it is named in READS."""
    readers = set()
    for path in sorted((PROJECT_ROOT / "assets").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                if names & {"raw_dir", "register_path"}:
                    readers.add(node.name)
    # The sensors read them too, outside any run.
    assert readers - {"new_raw_files", "review_inbox"} == set(READS), json.dumps(sorted(readers))
