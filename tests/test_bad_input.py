"""Bad files give a clear error naming file, line and column, or quarantine with a reason."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.ingest.files import parse_raw_file
from pipelines.ingest.portal_format import ExportFormatError
from pipelines.validate.observations import validate_observations
from tests.conftest import NP5

TEXT = NP5.read_bytes().decode("utf-16-le")
LINES = TEXT.split("\n")


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def ingest(data: bytes, registers, name: str = "bad.csv"):  # type: ignore[no-untyped-def]
    parsed = parse_raw_file(data, name, registers)
    return validate_observations(
        parsed.observations.with_columns(pl.lit("x").alias("sha256")),
        parsed.quarantine.with_columns(pl.lit("x").alias("sha256")),
        registers,
    )


def test_truncated_file_names_the_last_line(registers):
    data = NP5.read_bytes()
    cut = data[: len(data) // 2]
    cut = cut[: len(cut) - len(cut) % 2]  # whole UTF-16 characters, cut mid-line
    with pytest.raises(ExportFormatError) as error:
        parse_raw_file(cut, "truncated.csv", registers)
    line = cut.decode("utf-16-le").count("\n") + 1
    assert error.value.file == "truncated.csv" and error.value.line == line
    assert "expected 18 fields separated by TAB" in str(error.value)
    assert "truncated" in str(error.value)


def test_odd_byte_count_in_utf16_is_an_encoding_error(registers):
    data = NP5.read_bytes()[:1001]
    with pytest.raises(
        ExportFormatError, match=r"bad\.csv, line \d+: bytes 1000–1001 are not valid UTF-16-LE"
    ):
        parse_raw_file(data, "bad.csv", registers)


def test_mixed_encoding_names_line_and_character(registers):
    lines = TEXT.split("\n")
    data = "\n".join(lines[:10]).encode("utf-8") + b"\n" + lines[10].encode("cp1252") + b"\n"
    data += "\n".join(lines[11:20]).encode("utf-8")
    with pytest.raises(ExportFormatError) as error:
        parse_raw_file(data, "mixed.csv", registers)
    assert error.value.line == 11
    assert "is not UTF-8 while the rest of the file is" in str(error.value)


def test_missing_id_column_is_named(registers):
    header = LINES[1].split("\t")
    position = header.index("Organisasjonsnummer")
    text = "\n".join(
        "\t".join(field for i, field in enumerate(line.split("\t")) if i != position) if n else line
        for n, line in enumerate(LINES)
    )
    with pytest.raises(ExportFormatError) as error:
        parse_raw_file(utf16(text), "no-id.csv", registers)
    assert error.value.line == 2 and error.value.column == "Organisasjonsnummer"
    assert "the id column 'Organisasjonsnummer' is missing" in str(error.value)


def test_unnamed_value_column_is_named(registers):
    text = TEXT.replace(".Skalapoeng\t", ".Skalapoeng\tKommentar\t", 1)
    text = "\n".join(line + ("\t" if n > 1 and line else "") for n, line in enumerate(text.split("\n")))
    with pytest.raises(
        ExportFormatError,
        match=r"line 2, column 11 \('Kommentar'\): expected an id column or a value column",
    ):
        parse_raw_file(utf16(text), "extra.csv", registers)


def test_repeated_header_is_quarantined_and_the_rest_kept(registers):
    lines = [*LINES[:50], LINES[1], *LINES[50:]]
    observations, quarantine = ingest(utf16("\n".join(lines)), registers)
    reasons = quarantine.filter(pl.col("stage") == "parse")
    assert reasons.height == 1
    row = reasons.row(0, named=True)
    assert row["source_line"] == 51 and "repeated header line" in row["reason"]
    original, _ = ingest(NP5.read_bytes(), registers)
    assert observations.height == original.height


def test_text_in_a_number_column_is_quarantined_with_file_line_and_column(registers):
    fields = LINES[4].split("\t")  # Arendal
    fields[12] = "ca. 48"  # Lesing Skalapoeng
    lines = [*LINES[:4], "\t".join(fields), *LINES[5:]]
    observations, quarantine = ingest(utf16("\n".join(lines)), registers, "text.csv")
    row = quarantine.row(0, named=True)
    assert quarantine.height == 1
    assert (row["source_file"], row["source_line"], row["raw_value"]) == ("text.csv", 5, "ca. 48")
    assert row["source_column"] == "2024-25.Lesing.5. årstrinn.Alle eierformer.Alle kjønn.Skalapoeng"
    assert "expected a number with decimal comma" in row["reason"]
    arendal = observations.filter((pl.col("unit_code") == "4203") & (pl.col("level") == "municipality"))
    assert sorted(arendal["subject"].to_list()) == ["engelsk", "regning"]


def test_unknown_kommune_code_is_quarantined(registers):
    # Arendal (line 5) and its schools under a code no register has: their figures cannot be placed.
    lines = list(LINES)
    arendal = [n for n, line in enumerate(LINES[2:], start=2) if line.split("\t")[3:4] == ["4203"]]
    for n in arendal:
        fields = lines[n].split("\t")
        fields[3] = "4299"
        fields[4] = "4299" if fields[0] == "3" else fields[4]
        lines[n] = "\t".join(fields)
    observations, quarantine = ingest(utf16("\n".join(lines)), registers, "unknown.csv")
    assert set(quarantine["source_line"].to_list()) == {n + 1 for n in arendal}
    assert quarantine.filter(pl.col("source_line") == 5).height == 3  # Engelsk, Lesing, Regning
    assert all("municipality_code: isin" in reason for reason in quarantine["reason"].to_list())
    assert "4299" not in observations["municipality_code"].to_list()


def test_out_of_range_value_is_quarantined(registers):
    fields = LINES[4].split("\t")
    fields[11] = "-5"  # an impossible pupil count
    lines = [*LINES[:4], "\t".join(fields), *LINES[5:]]
    _, quarantine = ingest(utf16("\n".join(lines)), registers)
    assert quarantine.height == 1 and "n: greater_than_or_equal_to(0)" in quarantine["reason"][0]


def test_not_an_export_at_all(registers):
    with pytest.raises(ExportFormatError, match="expected a statistics-portal header"):
        parse_raw_file(b"name,value\nOslo,1\n", "other.csv", registers)
    with pytest.raises(ExportFormatError, match="the file is empty"):
        parse_raw_file(b"", "empty.csv", registers)
