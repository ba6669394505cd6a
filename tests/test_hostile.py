"""The hostile corpus (tests/hostile.py): every case refused, quarantined or read exactly as promised."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.ingest.files import parse_raw_file
from pipelines.ingest.portal_format import ExportFormatError
from pipelines.validate.observations import validate_observations
from tests.hostile import (
    CASES,
    Quarantined,
    ReadAsClean,
    Refused,
    conflicting_duplicate_line,
    cut_at_a_line_break,
    next_years_export_pasted_below,
)

# Where a figure came from differs between a file and its odd twin; the figures may not.
LINEAGE = ["source_file", "source_line", "source_column"]


def ingest(data: bytes, name: str, registers):  # type: ignore[no-untyped-def]
    parsed = parse_raw_file(data, name, registers)
    return validate_observations(
        parsed.observations.with_columns(pl.lit("x").alias("sha256")),
        parsed.quarantine.with_columns(pl.lit("x").alias("sha256")),
        registers,
    )


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_hostile_case(make, registers):
    name, data, outcome = make()
    if isinstance(outcome, Refused):
        with pytest.raises(ExportFormatError) as error:
            ingest(data, name, registers)
        assert error.value.file == name
        assert outcome.expected in str(error.value)
        if outcome.line:  # an unreadable workbook has no line to name
            assert error.value.line == outcome.line
            assert error.value.column is not None and outcome.column in error.value.column
        return
    observations, quarantine = ingest(data, name, registers)
    if isinstance(outcome, Quarantined):
        assert quarantine.height > 0
        assert set(quarantine["source_line"].to_list()) == outcome.lines
        reasons = quarantine["reason"].to_list()
        assert any(outcome.reason in reason for reason in reasons), reasons
        assert all(outcome.reason in r or (outcome.also and outcome.also in r) for r in reasons), reasons
        assert quarantine["source_file"].unique().to_list() == [name]
        return
    assert isinstance(outcome, ReadAsClean)
    assert quarantine.is_empty()
    clean, _ = ingest(outcome.clean.read_bytes(), outcome.clean.name, registers)
    key = [c for c in clean.columns if c not in LINEAGE]
    assert (
        observations.drop(LINEAGE)
        .sort(key, nulls_last=True)
        .equals(clean.drop(LINEAGE).sort(key, nulls_last=True))
    )


def test_conflicting_copies_keep_neither_figure(registers):
    name, data, _ = conflicting_duplicate_line()
    observations, quarantine = ingest(data, name, registers)
    arendal = observations.filter((pl.col("unit_code") == "4203") & (pl.col("level") == "municipality"))
    assert sorted(arendal["subject"].to_list()) == ["engelsk", "regning"]
    conflict = quarantine.filter(pl.col("reason").str.contains("conflicting"))
    assert conflict["source_line"].sort().to_list() == [5, 2470]
    assert "conflict.csv:2470 says 52.0 (n 473); conflict.csv:5 says 48.0 (n 473)" in conflict["reason"][0]


@pytest.mark.parametrize(
    "make", [cut_at_a_line_break, next_years_export_pasted_below], ids=lambda m: m.__name__
)
def test_export_command_exits_1_naming_file_line_and_column(make, tmp_path, capsys):
    name, data, outcome = make()
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / name).write_bytes(data)
    code = main(["export", "observations", "--raw", str(raw), "--out", str(tmp_path / "out.csv")])
    error = capsys.readouterr().err
    assert code == 1
    assert isinstance(outcome, Refused)
    assert f"{name}, line {outcome.line}, column {outcome.column}" in error and outcome.expected in error
    assert not (tmp_path / "out.csv").exists()


def test_corpus_size():
    assert len(CASES) == 31
