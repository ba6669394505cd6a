"""Pupil-level datasets → figures at every level, in DuckDB straight from the parquet files.

Each dataset is first turned into one value per pupil and figure (a test's scale points, 100 or 0 for
"at mastery level k", a pupil's mean answer to an index's questions, 100 or 0 for bullied, the points,
100 or 0 for completed); one ``GROUPING SETS`` aggregation then gives the school, kommune, fylke and
national figures of one scan. "Exact" standard errors are those of the figure's own pupils, with no
published uncertainty to reconstruct them from: for a mean the pupils' sample SD over √n, for a share
p the binomial √(p(1−p)/n) (in percentage points). They describe the sampling of pupils, as Udir's
``Usikkerhet`` does; rounding and the later stages' noise models are not in them.

Figures come in the shape of ``OBSERVATION_SCHEMA``: not suppressed (the product suppresses what it
publishes), ``source_file`` the dataset's folder of the school year, ``source_column`` the pupil column
the figure is computed from. Levels the exports do not have are left out: upper-secondary survey
figures have no kommune level (the fylkeskommune owns the schools), completion has no school level
(it is published by the pupil's kommune of residence).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.pupils.questions import BULLIED_FROM, QUESTIONS
from pipelines.pupils.read import PUPIL_FOLDER, checked, over, pupil_datasets, quarantine_frame
from pipelines.tables import OBSERVATION_SCHEMA, QUARANTINE_SCHEMA

NATIONAL_UNIT = "I"
# Svalbard (2100) belongs to no fylke; the exports place it under Troms (19), Troms og Finnmark (54)
# and Troms (55) as the fylke structure changed.
_COUNTY = (
    "CASE WHEN municipality_code <> '2100' THEN left(municipality_code, 2) "
    "WHEN school_year >= '2024' THEN '55' WHEN school_year >= '2020' THEN '54' ELSE '19' END"
)
# The levels a source's exports do not have (a condition true for the figures to keep).
_LEVELS_WITHOUT_EXPORTS = {
    "elevundersokelsen": "NOT (level = 'municipality' AND grade LIKE 'vg%')",
    "gjennomforing": "level <> 'school'",
}
# The columns every pupil value carries into the aggregation.
_FIGURE = ("school_year", "grade", "subject", "indicator", "measure", "source_column")


def _national_test_values(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Participants' scale points, and 100/0 for each mastery level of their grade."""
    return over(
        rows,
        "rows",
        "SELECT school_year, organisation_number, municipality_code, grade, subject, "
        "'skalapoeng' AS indicator, 'scale_points' AS measure, 'scale_points' AS source_column, "
        "scale_points AS value FROM rows WHERE status = 'deltatt' "
        "UNION ALL "
        "SELECT school_year, organisation_number, municipality_code, grade, subject, "
        "'mestringsniva_' || level, 'percent', 'mastery_level', 100.0 * (mastery_level = level)::INTEGER "
        "FROM rows, range(1, 6) AS levels(level) "
        "WHERE status = 'deltatt' AND level <= CASE grade WHEN '5' THEN 3 ELSE 5 END",
    )


def _survey_values(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Per pupil and indicator: the mean answer to the index's questions, or 100/0 for bullied."""
    mapping = ", ".join(
        f"('{question}', '{indicator}', '{rule}')" for question, (indicator, rule) in QUESTIONS.items()
    )
    return over(
        rows,
        "rows",
        f"WITH mapping(question, indicator, rule) AS (VALUES {mapping}) "
        "SELECT school_year, organisation_number, municipality_code, grade, NULL::VARCHAR AS subject, "
        "indicator, CASE rule WHEN 'mean' THEN 'index' ELSE 'percent' END AS measure, "
        "'answer' AS source_column, "
        f"CASE rule WHEN 'mean' THEN avg(answer) ELSE 100.0 * (max(answer) >= {BULLIED_FROM})::INTEGER END "
        "AS value FROM rows JOIN mapping USING (question) "
        "GROUP BY school_year, pupil_id, organisation_number, municipality_code, grade, indicator, rule",
    )


def _grunnskolepoeng_values(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return over(
        rows,
        "rows",
        "SELECT school_year, organisation_number, municipality_code, '10' AS grade, "
        "NULL::VARCHAR AS subject, "
        "'grunnskolepoeng' AS indicator, 'points' AS measure, 'points' AS source_column, points AS value "
        "FROM rows",
    )


def _completion_values(rows: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return over(
        rows,
        "rows",
        "SELECT school_year, organisation_number, municipality_code, 'vgs' AS grade, "
        "NULL::VARCHAR AS subject, "
        "'fullfort_og_bestatt' AS indicator, 'percent' AS measure, 'completed' AS source_column, "
        "100.0 * completed::INTEGER AS value FROM rows",
    )


PUPIL_VALUES = {
    "nasjonale_prover": _national_test_values,
    "elevundersokelsen": _survey_values,
    "grunnskolepoeng": _grunnskolepoeng_values,
    "gjennomforing": _completion_values,
}


def figures(connection: duckdb.DuckDBPyConnection, dataset: Path) -> duckdb.DuckDBPyRelation:
    """Every figure of one dataset folder (``…/elevdata/<dataset>``) at every level, in the observations'
    shape; a lazy relation over the parquet files (checked first, see :func:`checked`)."""
    return figures_of(checked(connection, dataset).rows, dataset)


def figures_of(rows: duckdb.DuckDBPyRelation, dataset: Path) -> duckdb.DuckDBPyRelation:
    """:func:`figures` from ``dataset``'s checked rows."""
    values = PUPIL_VALUES[dataset.name](rows)
    figure = ", ".join(_FIGURE)
    source_file = f"{PUPIL_FOLDER}/{dataset.name}/school_year="
    return over(
        values,
        "pupil_values",
        f"WITH placed AS (SELECT *, {_COUNTY} AS county_code FROM pupil_values), "
        "grouped AS ("
        f"  SELECT {figure}, organisation_number, municipality_code, county_code, "
        "    CASE WHEN GROUPING(county_code) = 1 THEN 'national' WHEN GROUPING(municipality_code) = 1 "
        "    THEN 'county' WHEN GROUPING(organisation_number) = 1 THEN 'municipality' ELSE 'school' END "
        "    AS level, count(value) AS n, avg(value) AS mean, stddev_samp(value) AS sd "
        "  FROM placed GROUP BY GROUPING SETS ("
        f"    ({figure}, county_code, municipality_code, organisation_number),"
        f"    ({figure}, county_code, municipality_code), ({figure}, county_code), ({figure}))), "
        f"figures AS (SELECT '{dataset.name}' AS source, school_year, level, "
        "  CASE level WHEN 'national' THEN '" + NATIONAL_UNIT + "' WHEN 'county' THEN county_code "
        "  WHEN 'municipality' THEN municipality_code ELSE organisation_number END AS unit_code, "
        "  NULL::VARCHAR AS unit_name, county_code, "
        "  CASE WHEN level IN ('municipality', 'school') THEN municipality_code END AS municipality_code, "
        "  indicator, grade, subject, '' AS breakdown, measure, mean AS value, "
        "  CASE WHEN measure = 'percent' THEN sqrt(mean * (100 - mean) / n) ELSE sd / sqrt(n) END "
        "  AS std_error, n, false AS suppressed, NULL::VARCHAR AS break_note, "
        f"  '{source_file}' || school_year AS source_file, source_column "
        "FROM grouped "
        f"WHERE {_LEVELS_WITHOUT_EXPORTS.get(dataset.name, 'true')}) "
        # A figure's "line" is its place among its dataset and year's figures, so lineage can name it.
        "SELECT * EXCLUDE (source_column), row_number() OVER (PARTITION BY school_year ORDER BY level, "
        "unit_code, municipality_code, indicator, grade, subject) AS source_line, source_column "
        "FROM figures ORDER BY school_year, source_line",
    )


def survey_figures(connection: duckdb.DuckDBPyConnection, dataset: Path) -> duckdb.DuckDBPyRelation:
    """Elevundersøkelsen's figures from one survey dataset folder alone (e.g. for a benchmark)."""
    if dataset.name != "elevundersokelsen":
        raise ValueError(f"{dataset}: expected a folder named elevundersokelsen")
    return figures(connection, dataset)


@dataclass(frozen=True)
class PupilFolder:
    """What the pupil-level data under a raw folder gives: figures and the rows set aside."""

    figures: pl.DataFrame  # OBSERVATION_SCHEMA
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA


def read_pupil_folder(raw_dir: Path) -> PupilFolder:
    """Every dataset under ``raw_dir/elevdata`` checked and aggregated in DuckDB (nothing when the
    folder is absent); only the figures and the broken rows come into Python."""
    figure_frames = [pl.DataFrame(schema=OBSERVATION_SCHEMA)]
    quarantine_frames = [pl.DataFrame(schema=QUARANTINE_SCHEMA)]
    with duckdb.connect() as connection:
        for name, dataset in pupil_datasets(raw_dir).items():
            split = checked(connection, dataset)
            figure_frames.append(figures_of(split.rows, dataset).pl().cast(OBSERVATION_SCHEMA))
            quarantine_frames.append(quarantine_frame(split.broken, name, raw_dir))
    return PupilFolder(pl.concat(figure_frames), pl.concat(quarantine_frames))
