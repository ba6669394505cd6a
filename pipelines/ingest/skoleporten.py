"""The older Skoleporten long download: ``;``-separated UTF-8 with BOM, one row per figure.

Columns: Enhetsnavn; Skoletype; Vurderingsområde; Statistikk; Indikator/delskår; Periode; Eierform;
Trinn; Kjønn; Verdi; Måleenhet. ``.`` in Verdi means suppressed or missing (Skoleporten does not say
which, so it is stored as suppressed). Units are named, not coded.
"""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from pipelines.ingest.portal_format import ExportFormatError, decode, parse_numbers
from pipelines.ingest.sources.elevundersokelsen import SURVEY_INDICATORS, survey_indicator
from pipelines.ingest.sources.mapping import SUBJECTS, classify_dimensions
from pipelines.tables import OBSERVATION_SCHEMA, QUARANTINE_SCHEMA

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


def is_skoleporten(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf").startswith(b"Enhetsnavn;Skoletype;")


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
    text, _ = decode(data, file)
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise ExportFormatError(file, 1, None, f"expected the Skoleporten header {';'.join(HEADER)}")
    records: list[dict[str, object]] = []
    problems: list[dict[str, object]] = []
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(HEADER):
            raise ExportFormatError(
                file,
                line,
                str(min(len(fields), len(HEADER)) + 1),
                f"expected {len(HEADER)} fields separated by ';', found {len(fields)}",
            )
        row = dict(zip(HEADER, (f.strip() for f in fields), strict=True))
        source = _source(row["Statistikk"])
        period = re.fullmatch(r"(\d{4})-(\d{2})?(\d{2})", row["Periode"])
        unit = UNITS.get(row["Måleenhet"])
        reason = None
        if source is None:
            reason = f"statistikk '{row['Statistikk']}' is not one of the four sources"
        elif period is None:
            reason = f"expected a period such as 2014-2015; found '{row['Periode']}'"
        elif unit is None:
            reason = f"måleenhet '{row['Måleenhet']}' is not mapped"
        if reason:
            problems.append(
                {
                    "source": source or "skoleporten",
                    "source_file": file,
                    "source_line": line,
                    "source_column": "Verdi",
                    "raw_value": row["Verdi"],
                    "reason": reason,
                }
            )
            continue
        assert period is not None and unit is not None
        indicator_text = row["Indikator/delskår"]
        school_only = "avgiverskole" in indicator_text
        subject_name = indicator_text.split(" ")[0]
        dims = classify_dimensions([row["Trinn"], row["Kjønn"], row["Eierform"]], SURVEY_INDICATORS)
        series = re.search(r"\d{4}-\d{4}$", row["Statistikk"])
        breakdown = [b for b in (dims["breakdown"],) if b]
        if school_only:
            breakdown.append("avgiverskole")
        if series:
            breakdown.append(f"serie {series.group(0)}")
        records.append(
            {
                "source": source,
                "school_year": f"{period.group(1)}-{period.group(3)}",
                "level": "school",
                "unit_code": None,
                "unit_name": row["Enhetsnavn"],
                "indicator": unit[0] or survey_indicator(indicator_text),
                "grade": dims["grade"],
                "subject": SUBJECTS.get(subject_name) if source == "nasjonale_prover" else None,
                "breakdown": " / ".join(breakdown),
                "measure": unit[1],
                "raw": row["Verdi"],
                "source_file": file,
                "source_line": line,
                "source_column": "Verdi",
            }
        )
    frame = pl.DataFrame(records, infer_schema_length=None)
    if frame.is_empty():
        return pl.DataFrame(schema=OBSERVATION_SCHEMA), pl.DataFrame(problems, schema=QUARANTINE_SCHEMA)
    is_missing = pl.col("raw") == MISSING
    value, suppressed, problem = parse_numbers(pl.when(is_missing).then(pl.lit("*")).otherwise(pl.col("raw")))
    frame = frame.with_columns(value.alias("value"), suppressed.alias("suppressed"), problem.alias("problem"))
    bad = frame.filter(pl.col("problem").is_not_null()).select(
        "source",
        "source_file",
        "source_line",
        "source_column",
        pl.col("raw").alias("raw_value"),
        pl.col("problem").alias("reason"),
    )
    observations = (
        frame.filter(pl.col("problem").is_null() & (pl.col("value").is_not_null() | pl.col("suppressed")))
        .with_columns(
            pl.lit(None, pl.String).alias("county_code"),
            pl.lit(None, pl.String).alias("municipality_code"),
            pl.lit(None, pl.Float64).alias("std_error"),
            pl.lit(None, pl.Int64).alias("n"),
            pl.lit(None, pl.String).alias("break_note"),
        )
        .select(list(OBSERVATION_SCHEMA))
        .cast(OBSERVATION_SCHEMA)
    )
    quarantined = pl.concat([pl.DataFrame(problems, schema=QUARANTINE_SCHEMA), bad.cast(QUARANTINE_SCHEMA)])
    return observations, quarantined
