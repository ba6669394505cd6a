"""What a person sees and what the outputs carry: progress by stage on the console and Dagster's log in
a file; the quarantine said where the user looks; the configuration checked against the data before the
selection writes anything; and no folder of the machine that ran it in any output."""

from __future__ import annotations

import io
import json
import re
import shutil
import tomllib
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.config import ConfigError, load_config, parse_config
from pipelines.flow import STAGES, materialise
from pipelines.indicators.coverage import count_problems, coverage_problems, data_coverage
from pipelines.settings import PROJECT_ROOT
from pipelines.storage.warehouse import Warehouse
from tests.conftest import NP5, SAMPLES, SAMPLES_CONFIG

SELECTION_TABLES = {"udir_risk_points", "holistic_scores", "rank_uncertainty", "sensitivity", "candidates"}


@pytest.fixture(scope="module")
def command_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """`utvalg run` on a copy of the samples, with what it printed."""
    folder = tmp_path_factory.mktemp("command-run")
    raw = folder / "raw"
    shutil.copytree(SAMPLES, raw)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(
            [
                "run",
                "--raw",
                str(raw),
                "--config",
                str(SAMPLES_CONFIG),
                "--warehouse",
                str(folder / "warehouse" / "utvalg.duckdb"),
                "--reports",
                str(folder / "reports"),
            ]
        )
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "folder": folder, "raw": raw}


def test_run_prints_one_line_per_stage_and_keeps_dagsters_log_in_a_file(command_run):
    assert command_run["code"] == 0
    printed = str(command_run["out"]) + str(command_run["err"])
    assert "DEBUG" not in printed and "Traceback" not in printed and "dagster" not in printed.lower()
    progress = str(command_run["err"]).splitlines()
    assert [line.split(":")[0] for line in progress] == list(STAGES)
    assert progress[1] == "raw: 6 files found, 6 parsed, 0 unchanged"
    assert progress[4].startswith("indicators: window 2018-19, 2019-20, 2020-21; missing data: ")
    (log,) = (Path(command_run["folder"]) / "warehouse" / "logs").glob("*.log")  # type: ignore[arg-type]
    logged = log.read_text(encoding="utf-8")
    assert "DEBUG" in logged and "RUN_SUCCESS" in logged
    assert "quarantined: 0 rows" in str(command_run["out"])


def test_a_configuration_that_does_not_fit_the_data_is_one_plain_message_and_writes_no_selection(tmp_path):
    """The shipped configuration asks for figures the samples do not have: exit 1, the indicators named,
    no stack trace, and not one selection table written."""
    database = tmp_path / "utvalg.duckdb"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["run", "--raw", str(SAMPLES), "--warehouse", str(database), "--reports", str(tmp_path)])
    printed = err.getvalue()
    assert code == 1
    assert "Traceback" not in printed and "DEBUG" not in printed and "ConfigError" not in printed
    assert "utvalg.toml [[indicator]] 'mobbing_7': no figure in the data matches it" in printed
    assert "'mestring1_lesing_5'" in printed and "nasjonale_prover has skalapoeng 5, skalapoeng 8" in printed
    assert not SELECTION_TABLES & set(Warehouse(database).tables())
    assert not (tmp_path / "2025-26").exists()


def test_a_missing_year_stops_the_run_unless_missing_data_are_allowed(tmp_path):
    config = tmp_path / "strict.toml"
    text = SAMPLES_CONFIG.read_text(encoding="utf-8")
    config.write_text(
        text.replace("allow_missing_data = true", "allow_missing_data = false"), encoding="utf-8"
    )
    command = ["select", "--raw", str(SAMPLES), "--config", str(config), "--quiet", "--out", str(tmp_path)]
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert main(command) == 1
    message = err.getvalue()
    assert "no figures from nasjonale_prover for 2018-19, 2019-20, 2020-21" in message
    assert "no figures from elevundersokelsen for 2018-19, 2019-20" in message
    assert "--allow-missing" in message and "Traceback" not in message
    assert not (tmp_path / "2020-21").exists()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert main([*command, "--allow-missing"]) == 0
    provenance = json.loads((tmp_path / "2020-21" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["missing_data"][1] == {
        "source": "nasjonale_prover",
        "school_years": ["2018-19", "2019-20", "2020-21"],
        "indicators": ["skalapoeng_lesing_5"],
    }


def test_outputs_say_which_years_and_sources_are_missing(command_run):
    year = Path(command_run["folder"]) / "reports" / "2020-21"  # type: ignore[arg-type]
    said = (
        "uten tall for Elevundersøkelsen 2018-19 og 2019-20 "
        "og for nasjonale prøver 2018-19, 2019-20 og 2020-21"
    )
    assert said in (year / "dashboard" / "metode.html").read_text(encoding="utf-8")
    for workbook in (year / "statsforvaltere").glob("*.xlsx"):
        with zipfile.ZipFile(workbook) as archive:
            assert said in archive.read("xl/sharedStrings.xml").decode("utf-8")
    missing = json.loads((year / "provenance.json").read_text(encoding="utf-8"))["missing_data"]
    assert [entry["source"] for entry in missing] == ["elevundersokelsen", "nasjonale_prover"]


def _texts(folder: Path) -> dict[str, str]:
    """Every output file's text: workbooks unzipped, parquet read back."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                texts[str(path)] = "".join(
                    archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
                )
        elif path.suffix == ".parquet":
            texts[str(path)] = pl.read_parquet(path).write_csv()
        elif path.suffix in {".csv", ".json", ".html", ".js", ".css", ".txt", ".md"}:
            texts[str(path)] = path.read_text(encoding="utf-8")
    return texts


def test_no_output_names_a_folder_of_the_machine_that_ran_it(command_run, tmp_path):
    folder = Path(command_run["folder"])  # type: ignore[arg-type]
    home = str(Path.home())
    local = [str(folder), str(PROJECT_ROOT), str(tmp_path), *([home] if len(home) > 1 else [])]
    texts = _texts(folder / "reports")
    export = tmp_path / "observations.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        with redirect_stdout(io.StringIO()):
            assert (
                main(
                    [
                        "export",
                        "observations",
                        "--raw",
                        str(command_run["raw"]),
                        "--out",
                        str(export),
                        "--quiet",
                    ]
                )
                == 0
            )
    texts |= _texts(tmp_path)
    warehouse = Warehouse(folder / "warehouse" / "utvalg.duckdb")
    for table in warehouse.tables():
        frame = warehouse.read(table)
        nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
        texts[table] = frame.drop(nested).write_csv()
    assert len(texts) > 300 and "provenance" in texts
    leaks = {name: path for name, text in texts.items() for path in local if path in text}
    assert not leaks
    settings = json.loads((folder / "reports" / "2020-21" / "provenance.json").read_text())["configuration"]
    assert settings["settings"]["config_file"] == "udir-export-samples.toml"
    assert not {"raw_dir", "reference_dir", "reports_dir"} & set(settings["settings"])


def test_export_writes_its_quarantine_beside_it_and_counts_it_per_reason(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = NP5.read_bytes().decode("utf-16-le").split("\n")
    for line in (4, 9):
        fields = lines[line].split("\t")
        fields[12] = "ca. 48"  # text in a number column
        lines[line] = "\t".join(fields)
    (raw / "np5.csv").write_bytes("\n".join(lines).encode("utf-16-le"))
    out = io.StringIO()
    with redirect_stdout(out):
        assert (
            main(["export", "observations", "--raw", str(raw), "--out", str(tmp_path / "obs.csv"), "--quiet"])
            == 0
        )
    quarantine = pl.read_csv(tmp_path / "obs.quarantine.csv")
    assert quarantine.height == 2 and set(quarantine["source_line"].to_list()) == {5, 10}
    printed = out.getvalue()
    assert "quarantined: 2 rows" in printed
    (reason,) = [line for line in printed.splitlines() if "expected a number" in line]
    assert reason.strip().startswith("2 parse: ") and reason.endswith("(first: np5.csv:5)")
    assert str(tmp_path / "obs.quarantine.csv") in printed


def _with(change: dict[str, dict[str, object]]) -> object:
    data = tomllib.loads(SAMPLES_CONFIG.read_text(encoding="utf-8"))
    for section, values in change.items():
        data[section].update(values)
    return parse_config(data, "test.toml")


@pytest.fixture(scope="module")
def samples_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("samples")
    run = materialise(
        folder / "w.duckdb",
        ["indicator_values", "fylke_indicator_values"],
        raise_on_error=True,
        raw_dir=str(SAMPLES),
        config_file=str(SAMPLES_CONFIG),
    )
    return (
        run.table("harmonised_observations"),
        run.table("indicator_values"),
        run.table("fylke_indicator_values"),
        run.table("raw_files"),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"holistic": {"top_n": 1000}},
            r"test.toml \[holistic\] top_n = 1000: only 27 kommuner have figures to score; expected 1–27",
        ),
        (
            {"selection": {"category_1_count": 1000}},
            r"\[selection\] category_1_count = 1000: only 27 kommuner \(Udir's rule\)",
        ),
        (
            {"selection": {"window_years": 50}},
            r"window_years = 50: the window 1971-72–2020-21 has school years without any figure "
            r"for the configured indicators \(1971-72–2010-11\); they have figures for 2011-12–2024-25 "
            r"\(not 2022-23, 2023-24\)",
        ),
    ],
)
def test_counts_and_window_are_checked_against_the_data(samples_run, change, message):
    harmonised, kommune_values, county_values, raw_files = samples_run
    config = _with(change)
    coverage = data_coverage(harmonised, config, raw_files)
    problems = coverage_problems(harmonised, coverage, config, "test.toml") or count_problems(
        kommune_values, county_values, config, "test.toml"
    )
    assert len(problems) == 1
    assert re.search(message, problems[0]), problems[0]


def test_a_misspelt_indicator_is_named(samples_run):
    harmonised, _, _, raw_files = samples_run
    data = tomllib.loads(SAMPLES_CONFIG.read_text(encoding="utf-8"))
    data["indicator"][0]["indicator"] = "grunnskolepoen"
    config = parse_config(data, "test.toml")
    coverage = data_coverage(harmonised, config, raw_files)
    (problem,) = coverage_problems(harmonised, coverage, config, "test.toml")
    assert problem.startswith("test.toml [[indicator]] 'grunnskolepoeng': no figure in the data matches it")
    assert "grunnskolepoeng has grunnskolepoeng 10" in problem


def test_a_broken_configuration_leaves_every_warehouse_table_untouched(command_run, tmp_path):
    """The configuration is read when the run's resources start, before any asset: a broken file fails
    the run with its name and key, and the warehouse is byte for byte as it was."""
    database = Path(command_run["folder"]) / "warehouse" / "utvalg.duckdb"  # type: ignore[operator]
    before = database.read_bytes()
    broken = tmp_path / "broken.toml"
    broken.write_text(
        SAMPLES_CONFIG.read_text(encoding="utf-8").replace("[holistic]", "[holistic]\ntop_m = 5"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"broken.toml \[holistic\]: unknown key 'top_m'"):
        load_config(broken)
    run = materialise(database, raw_dir=str(command_run["raw"]), config_file=str(broken))
    assert not run.success
    assert [f.message for f in run.failures()] == [
        "broken.toml [holistic]: unknown key 'top_m'; did you mean 'top_n'?"
    ]
    assert database.read_bytes() == before
    err = io.StringIO()
    with redirect_stderr(err):
        assert (
            main(
                [
                    "run",
                    "--raw",
                    str(command_run["raw"]),
                    "--config",
                    str(broken),
                    "--warehouse",
                    str(database),
                ]
            )
            == 1
        )
    assert err.getvalue() == "utvalg: broken.toml [holistic]: unknown key 'top_m'; did you mean 'top_n'?\n"
    assert database.read_bytes() == before


def test_fylkeskommune_top_n_is_checked_against_the_fylkeskommuner_scored():
    config = _with({"holistic": {"fylkeskommune_top_n": 4}})
    county = pl.DataFrame(
        {
            "unit_code": ["03", "11", "15", "18"],
            "indicator_id": ["sluttet_fylke"] * 4,
            "value": [10.0, 12.0, 14.0, 16.0],
            "std_error": [1.0, 1.0, 1.0, None],  # no standard error: the holistic method cannot score it
            "national": [12.0] * 4,
        }
    )
    kommune = pl.concat(  # 30 kommuner, each scored on grunnskolepoeng
        [county.head(1).with_columns(pl.lit(f"{i:04d}").alias("unit_code")) for i in range(30)]
    ).with_columns(pl.lit("grunnskolepoeng").alias("indicator_id"))
    (problem,) = count_problems(kommune, county, config, "test.toml")
    assert problem == (
        "test.toml [holistic] fylkeskommune_top_n = 4: only 3 fylkeskommuner have figures to score; "
        "expected 1–3"
    )
    # None to score: the fylkeskommune list says so for each, and the kommune lists stand.
    assert count_problems(kommune, county.clear(), config, "test.toml") == []
