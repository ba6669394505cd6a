"""End to end: the Dagster assets materialised in-process on the real samples, and the command."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl
import pytest

from pipelines.cli import main
from pipelines.definitions import build_definitions
from pipelines.storage.warehouse import Warehouse
from tests.conftest import NP5, SAMPLES, SAMPLES_CONFIG


@pytest.fixture(scope="module")
def materialised(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("pipeline")
    raw = folder / "raw"
    shutil.copytree(SAMPLES, raw)
    database = folder / "warehouse.duckdb"
    definitions = build_definitions(
        str(database),
        raw_dir=str(raw),
        reports_dir=str(folder / "reports"),
        config_file=str(SAMPLES_CONFIG),
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    first = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    return folder, raw, database, definitions, first


def test_every_asset_materialises_and_every_check_passes(materialised):
    _, _, database, _, result = materialised
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "observations_match_schema": True,
        "quarantine_within_limit": True,
        "harmonised_match_schema": True,
        "no_figure_counted_twice": True,
    }
    tables = set(Warehouse(database).tables())
    assert {
        "kommune_register",
        "kommune_registers",
        "kommune_mapping",
        "fylke_mapping",
        "raw_files",
        "parsed_observations",
        "observations",
        "quarantine",
        "harmonised_observations",
        "unharmonised_observations",
        "provenance",
    } <= tables
    warehouse = Warehouse(database)
    register = warehouse.read("kommune_register")
    assert register.filter(~pl.col("is_pseudo")).height == 357
    assert register["statsforvalter"].drop_nulls().n_unique() == 10
    assert warehouse.read("raw_files").height == 6
    provenance = warehouse.read("provenance")
    assert provenance["sha256"].str.len_chars().unique().to_list() == [64]


def test_rerun_on_unchanged_files_parses_nothing(materialised):
    _, _, database, definitions, _ = materialised
    before = Warehouse(database).read("harmonised_observations")
    job = definitions.resolve_implicit_global_asset_job_def()
    again = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    metadata = again.asset_materializations_for_node("parsed_exports")[0].metadata
    assert metadata["files_parsed"].value == 0 and metadata["files_unchanged"].value == 6
    assert Warehouse(database).read("harmonised_observations").equals(before)


def test_a_parse_by_other_code_is_not_reused(materialised, tmp_path):
    """After an upgrade every file is parsed again: the older parser may have accepted a file the
    current one refuses, and its tables may have other columns."""
    _, raw, database, _, _ = materialised
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(database, copy)
    store = Warehouse(copy)
    store.write("provenance", store.read("provenance").with_columns(pl.lit("older").alias("code_version")))
    store.write("parse_quarantine", store.read("parse_quarantine").drop("figure"), allow_empty=True)
    definitions = build_definitions(
        str(copy), raw_dir=str(raw), reports_dir=str(tmp_path / "r"), config_file=str(SAMPLES_CONFIG)
    )
    again = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert again.success
    metadata = again.asset_materializations_for_node("parsed_exports")[0].metadata
    assert metadata["files_parsed"].value == 6 and metadata["files_unchanged"].value == 0


def test_a_bad_file_fails_the_run_and_keeps_the_warehouse(materialised, tmp_path):
    _, raw, database, _, _ = materialised
    before = Warehouse(database).read("observations")
    broken = tmp_path / "raw"
    shutil.copytree(raw, broken)
    data = NP5.read_bytes()
    (broken / "broken.csv").write_bytes(data[: len(data) // 3 // 2 * 2])
    definitions = build_definitions(str(database), raw_dir=str(broken), reports_dir=str(tmp_path / "reports"))
    job = definitions.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert (
        "broken.csv, line 834, column 6: expected 18 fields" in failure.event_specific_data.error.to_string()
    )
    assert Warehouse(database).read("observations").equals(before)


def test_export_command_writes_the_same_rows_reproducibly(tmp_path, materialised, capsys):
    _, raw, database, _, _ = materialised
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["export", "observations", "--raw", str(raw), "--out", str(first), "--quiet"]) == 0
    assert main(["export", "observations", "--raw", str(raw), "--out", str(second), "--quiet"]) == 0
    assert first.read_bytes() == second.read_bytes()
    exported = pl.read_csv(first, infer_schema=False)
    stored = Warehouse(database).read("harmonised_observations")
    assert exported.height == stored.height
    assert set(exported["level"].unique().to_list()) == {
        "national",
        "county",
        "municipality",
        "school",
    }
    schools = exported.filter(pl.col("level") == "school")
    assert schools["unit_code"].str.contains(r"^(\d{9}|U\d+)$").all()
    assert '"code_version"' in (tmp_path / "a.csv.provenance.json").read_text()


def test_command_errors_are_plain_with_exit_codes(tmp_path, capsys):
    assert (
        main(
            [
                "export",
                "observations",
                "--raw",
                str(tmp_path / "missing"),
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_bytes(b"not an export\n")
    assert (
        main(
            [
                "export",
                "observations",
                "--raw",
                str(tmp_path),
                "--out",
                str(tmp_path / "x.csv"),
                "--quiet",
            ]
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "bad.csv, line 1" in error and "Fix or remove the file" in error
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(SystemExit) as usage:
        main(["export", "nothing"])
    assert usage.value.code == 2


def test_run_command_names_a_broken_file_and_exits_1(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    data = NP5.read_bytes()
    (raw / "broken.csv").write_bytes(data[:100_001])
    code = main(
        [
            "run",
            "--raw",
            str(raw),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--reports",
            str(tmp_path / "r"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 1  # bad input, as for every command
    assert (
        "broken.csv, line" in error and "not valid UTF-16-LE" in error and "Fix or remove the file" in error
    )


def test_a_partial_run_reads_the_same_tables_the_full_run_handed_on(materialised):
    """Within a run, assets get their inputs as they were written; a later run of only the downstream
    assets (as the UI re-materialises one) reads them back from the file, and must compute the same."""
    _, _, database, definitions, _ = materialised
    graph = definitions.resolve_asset_graph()
    downstream = dg.AssetSelection.assets("harmonised_observations").downstream(include_self=False)
    keys = sorted(downstream.resolve(graph), key=lambda key: key.to_user_string())
    tables = [k.to_user_string() for k in keys if k.to_user_string() in Warehouse(database).tables()]
    assert {"indicator_values", "rank_uncertainty", "sensitivity", "candidates"} <= set(tables)
    before = {table: Warehouse(database).read(table) for table in tables}
    job = definitions.resolve_implicit_global_asset_job_def()
    again = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), asset_selection=keys)
    assert again.success
    for table in tables:
        after = Warehouse(database).read(table)
        assert after.schema == before[table].schema and after.equals(before[table]), table


def test_select_writes_the_lists_the_full_run_wrote(materialised, tmp_path, capsys):
    """`utvalg select` runs part of the same graph: its lists are the full run's, byte for byte."""
    folder, raw, _, _, _ = materialised
    command = ["select", "--raw", str(raw), "--out", str(tmp_path), "--config", str(SAMPLES_CONFIG)]
    assert main([*command, "--year", "2020-21", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "2020-21 (window 2018-19, 2019-20, 2020-21)" in printed
    for name in ("candidates.csv", "fylkeskommuner.csv", "candidates.parquet"):
        assert (tmp_path / "2020-21" / name).read_bytes() == (
            folder / "reports" / "2020-21" / name
        ).read_bytes()


def test_a_wrong_year_or_configuration_is_bad_input(tmp_path, capsys):
    raw = str(SAMPLES)
    assert main(["run", "--raw", raw, "--year", "2025-27", "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    assert "not two consecutive years" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[selection]\nschool_year = 2025\n", encoding="utf-8")
    assert main(["select", "--raw", raw, "--out", str(tmp_path), "--config", str(tmp_path / "bad.toml")]) == 1
    assert "bad.toml" in capsys.readouterr().err
    assert not (tmp_path / "w.duckdb").exists()
