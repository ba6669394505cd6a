"""The hostile corpus (tests/hostile.py): every case refused, quarantined or read exactly as promised."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.ingest.collect import parse_folder
from pipelines.ingest.files import parse_raw_file
from pipelines.ingest.portal_format import ExportFormatError
from pipelines.validate.observations import validate_observations
from tests.hostile import (
    CASES,
    Beside,
    Quarantined,
    Read,
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


def ingest_beside(data: bytes, name: str, beside: Beside, folder, registers):  # type: ignore[no-untyped-def]
    """The file read in a folder with ``beside``; its own observations and quarantine."""
    for other, other_data in ((name, data), *beside):
        (folder / other).write_bytes(other_data)
    parsed = parse_folder(folder, registers)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    mine = pl.col("source_file") == name
    return observations.filter(mine), quarantine.filter(mine)


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
def test_hostile_case(make, registers, tmp_path):
    name, data, outcome = make()
    beside = getattr(outcome, "beside", ())
    if beside:

        def read(data: bytes, name: str, registers):  # type: ignore[no-untyped-def]
            return ingest_beside(data, name, beside, tmp_path, registers)
    else:
        read = ingest
    if isinstance(outcome, Refused):
        with pytest.raises(ExportFormatError) as error:
            read(data, name, registers)
        assert error.value.file == name
        assert outcome.expected in str(error.value)
        if outcome.line:  # an unreadable workbook has no line to name
            assert error.value.line == outcome.line
            assert error.value.column is not None and outcome.column in error.value.column
        return
    observations, quarantine = read(data, name, registers)
    if isinstance(outcome, Read):
        assert quarantine.is_empty() and observations.height > 0
        return
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
    assert len(CASES) == 34


VGS = "elevundersokelsen/{}_20260301-0900_Elevundersoekelsen_vgs.csv"


def vgs_lines(national_sample, school_year: str) -> list[str]:  # type: ignore[no-untyped-def]
    return (national_sample / VGS.format(school_year)).read_bytes().decode("utf-16-le").split("\n")


@pytest.mark.parametrize("closed", [False, True], ids=["cut", "closed"])
def test_a_file_without_kommune_rows_cut_inside_its_last_fylkes_schools(
    national_sample, registers, tmp_path, closed
):
    # The synthetic upper-secondary survey (schools under their fylke, no kommune rows) for 2025-26,
    # its last school (Finnmark's Elveli) gone, beside 2024-25. Cut: refused, Finnmark's own count
    # holding Elveli's pupils. Closed: Finnmark's count without them too, so it is read.
    (tmp_path / "2024-25.csv").write_bytes(
        "\n".join(vgs_lines(national_sample, "2024-25")).encode("utf-16-le")
    )
    lines = vgs_lines(national_sample, "2025-26")
    last = lines[-2].split("\t")
    if closed:
        finnmark = next(n for n, line in enumerate(lines) if line.startswith("2\t") and "\t56\t" in line)
        fields = lines[finnmark].split("\t")
        header = lines[1].split("\t")
        for position, column in enumerate(header):
            if column.endswith("Antall besvarte") and last[position].isdigit():
                fields[position] = str(int(fields[position].replace(" ", "")) - int(last[position]))
        lines[finnmark] = "\t".join(fields)
    (tmp_path / "2025-26.csv").write_bytes("\n".join([*lines[:-2], ""]).encode("utf-16-le"))
    if closed:
        parsed = parse_folder(tmp_path, registers)
        assert parsed.quarantine.is_empty()
        return
    with pytest.raises(ExportFormatError) as error:
        parse_folder(tmp_path, registers)
    assert error.value.file == "2025-26.csv" and error.value.line == len(lines) - 2
    assert error.value.column == "Fylkekode"
    assert "fylke 56 Finnmark" in str(error.value) and "lists 1 after them" in str(error.value)
    assert last[6] in str(error.value)  # the school missing, by name
