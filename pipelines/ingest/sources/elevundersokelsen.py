"""Elevundersøkelsen: survey indices (mean 1–5) and shares (mobbing).

The survey is the one source that names its indicators rather than its measures: in a column dimension
(unit-per-row reports) or in the row (indicator-per-row reports, by code or by name).
"""

from __future__ import annotations

import re

import polars as pl

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, Measure, SourceMapping
from pipelines.vocabulary import slug

SURVEY_INDICATORS = {
    "Mobbing på skolen": "mobbing",
    "Støtte fra lærerne": "stotte_fra_laererne",
    "Motivasjon": "motivasjon",
    "Trivsel": "trivsel",
    "Mestring": "mestring",
    "Vurdering for læring": "vurdering_for_laering",
    "Læringskultur": "laeringskultur",
    "Elevdemokrati og medvirkning": "elevdemokrati_og_medvirkning",
    "Faglig utfordring": "faglig_utfordring",
    "Felles regler": "felles_regler",
    "Trygt miljø": "trygt_miljo",
}
# Indicator codes of the survey's indicator-per-row reports.
SURVEY_INDICATOR_CODES = {
    "67.19.00.11": "mobbing",
    "67.10.01.11A": "mobbing_av_elever",
    "67.18.01.11": "mobbing_av_voksne",
    "67.17.01.11": "mobbing_digitalt",
}


def survey_indicator(name: str) -> str:
    """``Trygt miljø (snitt)`` → ``trygt_miljo``; an index not listed above still gets a stable name."""
    base = re.sub(r"\s*\((prosent|snitt)\)\s*$", "", name.strip(), flags=re.IGNORECASE)
    return SURVEY_INDICATORS.get(base, slug(base))


def row_indicators(rows: pl.DataFrame) -> pl.DataFrame:
    """The indicator of each line of an indicator-per-row report: by its code, else by its name."""
    return rows.select(
        "source_line",
        pl.col("Indikatorkode")
        .replace_strict(SURVEY_INDICATOR_CODES, default=None)
        .fill_null(pl.col("Indikatornavn").map_elements(survey_indicator, return_dtype=pl.String))
        .alias("row_indicator"),
    )


def recognises(export: PortalExport) -> bool:
    """Only the survey publishes indicator-per-row reports or names its indices in the columns."""
    dimension_values = {value for column in export.value_columns for value in column.dimensions}
    return export.shape == "indicator_rows" or bool(dimension_values & set(SURVEY_INDICATORS))


MAPPING = SourceMapping(
    "elevundersokelsen",
    recognises,
    {
        "Prosentandel": Measure("value", None, "percent"),
        "Snitt": Measure("value", None, "index"),
        "Antall besvarte": COUNT,
        "Antall elever": COUNT,
    },
    default_grade="vgs",
)
