"""A run publishes all or nothing: killed at any point on changed inputs, the warehouse, the snapshot and
the reports are either all the old state or all the new one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from pipelines.storage.publication import Step, journal_path, publish, recover
from tests.conftest import NP8, SAMPLES, SAMPLES_CONFIG

SCHOOL_YEAR = "2020-21"  # the year tests/fixtures/udir-export-samples.toml selects


def _tables(database: Path) -> dict[str, str]:
    """Every table's content as a hash (rows sorted, so that only content counts)."""
    if not database.exists():
        return {}
    connection = duckdb.connect(str(database), read_only=True)
    try:
        query = "SELECT table_name FROM information_schema.tables"
        names = [row[0] for row in connection.execute(query).fetchall()]
        return {
            name: hashlib.sha256(
                connection.sql(f"SELECT * FROM {name}").pl().sort(pl.all()).write_csv().encode()
            ).hexdigest()
            for name in sorted(names)
        }
    finally:
        connection.close()


def _reports(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _state(place: Path) -> str:
    """What a reader sees: warehouse tables, snapshot tables and the school year's reports."""
    seen = {
        "warehouse": _tables(place / "w.duckdb"),
        "snapshot": _tables(place / "snapshot.duckdb"),
        "reports": _reports(place / "reports" / SCHOOL_YEAR),
    }
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()


# Each command on its own, as a user would run it (an ephemeral Dagster instance, no shared run history).
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}


def _command(place: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args, "--warehouse", str(place / "w.duckdb")]


def _run(place: Path) -> list[str]:
    return _command(
        place,
        "run",
        "--raw",
        str(place / "raw"),
        "--reports",
        str(place / "reports"),
        "--config",
        str(SAMPLES_CONFIG),
    )


def _list(place: Path) -> None:
    """Any command finishes a publication that a kill interrupted; `utvalg list` is the lightest."""
    subprocess.run(
        [*_command(place, "list"), "--reports", str(place / "reports")],
        check=True,
        capture_output=True,
        env=ENVIRONMENT,
    )


def test_a_killed_run_leaves_the_old_state_or_the_new_one_never_a_mix(tmp_path):
    place = tmp_path
    shutil.copytree(SAMPLES, place / "raw")
    started = time.monotonic()
    subprocess.run(_run(place), check=True, capture_output=True, env=ENVIRONMENT)
    duration = time.monotonic() - started
    old = _state(place)
    assert (place / "reports" / SCHOOL_YEAR / "candidates.csv").exists()

    # Changed inputs: one export fewer.
    (place / "raw" / NP8.name).unlink()

    seen = []
    for fraction in (0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.97, 1.05):
        process = subprocess.Popen(
            _run(place),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=ENVIRONMENT,
        )
        time.sleep(duration * fraction)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        _list(place)
        seen.append(_state(place))

    subprocess.run(_run(place), check=True, capture_output=True, env=ENVIRONMENT)
    new = _state(place)
    assert new != old
    assert set(seen) <= {old, new}, [state in (old, new) for state in seen]
    assert old in seen  # some kills came before publication


def test_recovery_finishes_a_publication_stopped_between_its_steps(tmp_path):
    live, working = tmp_path / "w.duckdb", tmp_path / "w.duckdb.run-1"
    snapshot, new_snapshot = tmp_path / "snapshot.duckdb", tmp_path / ".snapshot.duckdb.1"
    old_folder, new_folder = (
        tmp_path / "reports" / ".versions" / "2025-26.0",
        tmp_path / "reports" / ".versions" / "2025-26.1",
    )
    for path, text in ((live, "old"), (working, "new"), (snapshot, "old"), (new_snapshot, "new")):
        path.write_text(text)
    for folder, text in ((old_folder, "old"), (new_folder, "new")):
        folder.mkdir(parents=True)
        (folder / "candidates.csv").write_text(text)
    link = tmp_path / "reports" / "2025-26"
    link.symlink_to(os.path.relpath(old_folder, link.parent))
    steps = [
        Step("rename", str(working), str(live)),
        Step("rename", str(new_snapshot), str(snapshot)),
        Step("link", str(new_folder), str(link)),
    ]
    # Killed after writing the journal and taking the first step only.
    journal_path(live).write_text(json.dumps([step.__dict__ for step in steps]))
    os.replace(working, live)
    assert (live.read_text(), snapshot.read_text(), (link / "candidates.csv").read_text()) == (
        "new",
        "old",
        "old",
    )
    recover(live)
    assert (live.read_text(), snapshot.read_text(), (link / "candidates.csv").read_text()) == (
        "new",
        "new",
        "new",
    )
    assert not journal_path(live).exists()
    recover(live)  # nothing left to do, and taking it twice is harmless
    publish(live, steps)
    assert (live.read_text(), (link / "candidates.csv").read_text()) == ("new", "new")


def test_a_folder_left_by_an_older_version_is_moved_aside_not_lost(tmp_path):
    live = tmp_path / "w.duckdb"
    live.write_text("db")
    reports = tmp_path / "reports"
    (reports / "2025-26").mkdir(parents=True)
    (reports / "2025-26" / "candidates.csv").write_text("before")
    new_folder = reports / ".versions" / "2025-26.1"
    new_folder.mkdir(parents=True)
    (new_folder / "candidates.csv").write_text("after")
    publish(live, [Step("link", str(new_folder), str(reports / "2025-26"))])
    assert (reports / "2025-26").is_symlink()
    assert (reports / "2025-26" / "candidates.csv").read_text() == "after"
    assert (reports / ".versions" / "2025-26.before-versions" / "candidates.csv").read_text() == "before"


def test_a_warehouse_held_by_another_process_is_named_and_nothing_changes(tmp_path, capsys):
    from pipelines.cli import main

    shutil.copytree(SAMPLES, tmp_path / "raw")
    database = tmp_path / "w.duckdb"
    duckdb.connect(str(database)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(database)!r}); print(1, flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"1"
        code = main(
            [
                "run",
                "--raw",
                str(tmp_path / "raw"),
                "--warehouse",
                str(database),
                "--reports",
                str(tmp_path / "r"),
            ]
        )
    finally:
        holder.kill()
        holder.wait()
    error = capsys.readouterr().err
    assert code == 3
    assert (
        f"the warehouse {database} is open in another process" in error and "close it and run again" in error
    )
    assert not (tmp_path / "r" / SCHOOL_YEAR).exists()


def test_a_second_run_on_the_same_warehouse_waits_its_turn(tmp_path, capsys):
    """Two runs at once would each take the other's working copy for a stale one; the second is told."""
    from pipelines.cli import main

    shutil.copytree(SAMPLES, tmp_path / "raw")
    first = subprocess.Popen(
        _run(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENVIRONMENT
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("w.duckdb.run-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    places = ["--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "reports")]
    second = main(
        ["run", "--raw", str(tmp_path / "raw"), "--config", str(SAMPLES_CONFIG), "--quiet", *places]
    )
    error = capsys.readouterr().err
    assert first.wait(timeout=120) == 0
    assert second == 3 and f"another run is using the warehouse {tmp_path / 'w.duckdb'}" in error
    assert (tmp_path / "reports" / SCHOOL_YEAR / "candidates.csv").exists()
