"""The older Skoleporten long download: ``;``-separated UTF-8 with BOM, one row per figure.

Columns: Enhetsnavn; Skoletype; Vurderingsområde; Statistikk; Indikator/delskår; Periode; Eierform;
Trinn; Kjønn; Verdi; Måleenhet. ``.`` in Verdi means suppressed or missing (Skoleporten does not say
which, so it is stored as suppressed). Units are named, not coded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import polars as pl

from pipelines.ingest.portal_format import (
    CONTROL_CHARACTER,
    LINE_BREAK,
    ExportFormatError,
    decode,
    parse_numbers,
)
from pipelines.ingest.sources.elevundersokelsen import SURVEY_INDICATORS, survey_indicator
from pipelines.ingest.sources.mapping import SUBJECTS, classify_dimensions
from pipelines.tables import OBSERVATION_SCHEMA, quarantine_rows

HEADER = (
    "Enhetsnavn",
    "Skoletype",
    "Vurderingsområde",
    "Statistikk",
    "Indikator/delskår",
    "Periode",
    "Eierform",
    "Trinn",
    "Kjønn",
    "Verdi",
    "Måleenhet",
)
MISSING = "."
UNITS = {
    "Skalapoeng": ("skalapoeng", "scale_points"),
    "Gjennomsnittspoeng med én desimal (1-3)": ("mestringsniva_snitt", "mean_level"),
    "Gjennomsnittspoeng med én desimal (1-5)": ("mestringsniva_snitt", "mean_level"),
    "Prosent": (None, "percent"),
    "Snitt": (None, "index"),
    "Grunnskolepoeng": ("grunnskolepoeng", "points"),
}
# One download row read: a figure, or (with ``reason``) a row that cannot be used.
ROW_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "school_year": pl.String(),
        "unit_name": pl.String(),
        "indicator": pl.String(),
        "grade": pl.String(),
        "subject": pl.String(),
        "breakdown": pl.String(),
        "measure": pl.String(),
        "raw": pl.String(),
        "source_line": pl.Int64(),
        "reason": pl.String(),
    }
)
Row = dict[str, str]


def is_skoleporten(data: bytes) -> bool:
    """The download's header, its columns in any order (Skoleporten lets the user arrange them)."""
    first_line = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = {name.strip() for name in first_line.decode("utf-8").split(";")}
    except UnicodeDecodeError:
        return False
    return names == set(HEADER)


def _source(statistikk: str) -> str | None:
    if statistikk.startswith("Nasjonale prøver"):
        return "nasjonale_prover"
    if statistikk.startswith("Elevundersøkelsen"):
        return "elevundersokelsen"
    if statistikk.startswith("Grunnskolepoeng"):
        return "grunnskolepoeng"
    return None


def read_skoleporten(data: bytes, file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations and quarantined rows of one Skoleporten download."""
    rows = pl.DataFrame([_read_row(line, row) for line, row in _lines(data, file)], schema=ROW_SCHEMA)
    rows = rows.with_columns(pl.lit(file).alias("source_file"), pl.lit("Verdi").alias("source_column"))
    unusable = rows.filter(pl.col("reason").is_not_null())
    value, suppressed, problem = parse_numbers(
        pl.when(pl.col("raw") == MISSING).then(pl.lit("*")).otherwise(pl.col("raw"))
    )
    figures = rows.filter(pl.col("reason").is_null()).with_columns(
        value.alias("value"), suppressed.alias("suppressed"), problem.alias("problem")
    )
    quarantined = pl.concat(
        [
            quarantine_rows(unusable, pl.col("reason"), raw_value=pl.col("raw")),
            quarantine_rows(
                figures.filter(pl.col("problem").is_not_null()), pl.col("problem"), raw_value=pl.col("raw")
            ),
        ]
    )
    published = figures.filter(
        pl.col("problem").is_null() & (pl.col("value").is_not_null() | pl.col("suppressed"))
    )
    return _as_observations(published), quarantined


def _lines(data: bytes, file: str) -> Iterator[tuple[int, Row]]:
    """Each non-empty line after the header, by column name; a header or field count that does not fit
    the download stops the file."""
    text, _ = decode(data, file)
    last_line = LINE_BREAK.split(text)[-1]
    if last_line.strip():
        raise ExportFormatError(
            file,
            len(LINE_BREAK.split(text)),
            None,
            "the last line has no line break: the file looks truncated (cut inside this line?); "
            "expected every line to end with a line break as Skoleporten writes it",
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = next(reader, None)
    names = tuple(h.strip() for h in header or ())
    if sorted(names) != sorted(HEADER):
        raise ExportFormatError(file, 1, None, f"expected the Skoleporten header {';'.join(HEADER)}")
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(HEADER):
            raise ExportFormatError(
                file,
                reader.line_num,
                str(min(len(fields), len(HEADER)) + 1),
                f"expected {len(HEADER)} fields separated by ';', found {len(fields)}",
            )
        yield reader.line_num, dict(zip(names, (f.strip() for f in fields), strict=True))


def _read_row(line: int, row: Row) -> dict[str, object]:
    """One row as a figure, or the reason it cannot be one."""
    damaged = [name for name, field in row.items() if re.search(CONTROL_CHARACTER, field)]
    source = _source(row["Statistikk"])
    period = re.fullmatch(r"(\d{4})-(\d{2})?(\d{2})", row["Periode"])
    unit = UNITS.get(row["Måleenhet"])
    if damaged:
        reason = f"a control character in {damaged[0]} (a damaged file?); the row is set aside"
    elif source is None:
        reason = f"statistikk '{row['Statistikk']}' is not one of the four sources"
    elif period is None:
        reason = f"expected a period such as 2014-2015; found '{row['Periode']}'"
    elif unit is None:
        reason = f"måleenhet '{row['Måleenhet']}' is not mapped"
    else:
        return _figure(line, row, source, f"{period.group(1)}-{period.group(3)}", unit)
    return {"source": source or "skoleporten", "source_line": line, "raw": row["Verdi"], "reason": reason}


def _figure(
    line: int, row: Row, source: str, school_year: str, unit: tuple[str | None, str]
) -> dict[str, object]:
    """What a usable row says, in the observations' vocabulary."""
    indicator_text = row["Indikator/delskår"]
    dims = classify_dimensions([row["Trinn"], row["Kjønn"], row["Eierform"]], SURVEY_INDICATORS)
    breakdown = [b for b in (dims["breakdown"],) if b]
    if "avgiverskole" in indicator_text:
        breakdown.append("avgiverskole")
    series = re.search(r"\d{4}-\d{4}$", row["Statistikk"])
    if series:
        breakdown.append(f"serie {series.group(0)}")
    subject_name = indicator_text.split(" ")[0]
    return {
        "source": source,
        "school_year": school_year,
        "unit_name": row["Enhetsnavn"],
        "indicator": unit[0] or survey_indicator(indicator_text),
        "grade": dims["grade"],
        "subject": SUBJECTS.get(subject_name) if source == "nasjonale_prover" else None,
        "breakdown": " / ".join(breakdown),
        "measure": unit[1],
        "raw": row["Verdi"],
        "source_line": line,
    }


def _as_observations(figures: pl.DataFrame) -> pl.DataFrame:
    """The figures in the observation table's shape: schools named, not coded, and no uncertainty or
    pupil count."""
    return (
        figures.with_columns(
            pl.lit("school").alias("level"),
            pl.lit(None, pl.String).alias("unit_code"),
            pl.lit(None, pl.String).alias("county_code"),
            pl.lit(None, pl.String).alias("municipality_code"),
            pl.lit(None, pl.Float64).alias("std_error"),
            pl.lit(None, pl.Int64).alias("n"),
            pl.lit(None, pl.String).alias("break_note"),
        )
        .select(list(OBSERVATION_SCHEMA))
        .cast(OBSERVATION_SCHEMA)
    )
