"""What analysts use beside the pipeline: notebooks on the published snapshot, Dagster's definitions
(`dg check defs`), the autumn schedule and the raw-folder sensor, and the command's help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import nbformat
import pytest
from nbclient import NotebookClient

from pipelines.cli import build_parser
from pipelines.definitions import build_definitions
from pipelines.settings import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def snapshot(national_run) -> Path:  # type: ignore[no-untyped-def]
    """The snapshot the national run published."""
    return Path(national_run.metadata("publication")["snapshot"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_run_on_the_snapshot_and_are_stored_without_outputs(path, snapshot, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    monkeypatch.setenv("UTVALG_SNAPSHOT", str(snapshot))
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(PROJECT_ROOT)}}
    ).execute()
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    assert any(cell.outputs for cell in code)


def test_there_are_four_notebooks():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_kommune_up_close",
        "02_methods_side_by_side",
        "03_data_quality",
        "04_oppfolging",
    ]


def test_dg_check_defs_passes(tmp_path):
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
    }
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dg_command = shutil.which("dg", path=str(Path(sys.executable).parent))
    assert dg_command is not None
    result = subprocess.run(
        [dg_command, "check", "defs"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_schedule_and_sensor(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    definitions = build_definitions(str(tmp_path / "w.duckdb"), raw_dir=str(raw))
    schedule = definitions.resolve_schedule_def("autumn_selection_schedule")
    assert schedule.cron_schedule == "0 6 1 10 *" and schedule.execution_timezone == "Europe/Oslo"
    sensor = definitions.resolve_sensor_def("new_raw_files")
    resources = {"utvalg": definitions.resources["utvalg"]}
    (raw / "a.csv").write_bytes(b"x")
    with dg.build_sensor_context(resources=resources) as context:
        first = sensor(context)
    assert len(first.run_requests) == 1
    with dg.build_sensor_context(cursor=first.cursor, resources=resources) as context:
        unchanged = sensor(context)
    assert not unchanged.run_requests and "no new or changed files" in unchanged.skip_reason.skip_message
    (raw / "b.csv").write_bytes(b"y")
    with dg.build_sensor_context(cursor=first.cursor, resources=resources) as context:
        added = sensor(context)
    assert len(added.run_requests) == 1 and added.cursor != first.cursor


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"run", "export", "select", "sample", "list"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: utvalg " + name in capsys.readouterr().out
