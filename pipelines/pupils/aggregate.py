"""Pupil-level datasets → figures at every level, in DuckDB straight from the parquet files.

Each dataset is first turned into one value per pupil and figure (a test's scale points, 100 or 0 for
"at mastery level k", a pupil's mean answer to an index's questions, 100 or 0 for bullied, the points,
100 or 0 for completed); the values are aggregated to their school, and the kommune, fylke and
national figures combine the schools'. "Exact" standard errors are those of the figure's own pupils, with no
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

from pipelines.pupils.questions import BULLIED_FROM, BULLYING_QUESTIONS, INDEX_QUESTIONS, QUESTIONS
from pipelines.pupils.read import (
    DATASETS,
    PUPIL_FOLDER,
    broken_by_rules,
    check_files,
    checked,
    over,
    pupil_connection,
    pupil_datasets,
    quarantine_frame,
    scan,
)
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
# Values are summed as integers in units of 1/FIXED (a pupil's value rounded to 10⁻⁹), so that no sum
# depends on the order DuckDB's threads add in (the figures are the same, bit for bit, on every run)
# and the levels combine exactly.
FIXED = 10**9


def _pupil_mean(column: str) -> str:
    """SQL aggregate: the mean of ``column`` over a pupil's rows, from the sum of its fixed-point values
    (whole numbers below 2⁵³, so their sum as doubles is exact in any order)."""
    return f"round(sum(round({column} * {FIXED})) / count({column})) / {FIXED}"


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
        f"CASE rule WHEN 'mean' THEN {_pupil_mean('answer')} "
        f"ELSE 100.0 * (max(answer) >= {BULLIED_FROM})::INTEGER END AS value "
        "FROM rows JOIN mapping USING (question) "
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


@dataclass(frozen=True)
class Computed:
    """One dataset's figures (``OBSERVATION_SCHEMA``'s columns, over a temporary table) and its rows
    set aside (a lazy relation, as :attr:`Checked.broken`)."""

    figures: duckdb.DuckDBPyRelation
    broken: duckdb.DuckDBPyRelation


def computed(connection: duckdb.DuckDBPyConnection, dataset: Path) -> Computed:
    """Check one dataset folder (``…/elevdata/<dataset>``) and compute its figures at every level."""
    if dataset.name == "elevundersokelsen":
        return _survey_computed(connection, dataset)
    split = checked(connection, dataset)
    return Computed(_figures(connection, PUPIL_VALUES[dataset.name](split.rows), dataset), split.broken)


def figures(connection: duckdb.DuckDBPyConnection, dataset: Path) -> duckdb.DuckDBPyRelation:
    """Every figure of one dataset folder (``…/elevdata/<dataset>``) at every level, in the observations'
    shape; computed on the call (see :func:`computed`) and read from a temporary table."""
    return computed(connection, dataset).figures


# The survey's per-pupil step also counts what breaks a rule, so that clean files (the normal case)
# are checked in the same scan as they are aggregated; see _survey_computed.
_SURVEY_COUNTS = ("answers", "broken_rows", "repeated_rows", "conflicts")
# The columns every row of a pupil's answers to one index must agree on (the pupil's school, kommune
# and grade): checked once per school, kommune and grade, not on every row.
_UNIT_COLUMNS = ("organisation_number", "municipality_code", "grade")


def _survey_checked_values(rows: duckdb.DuckDBPyRelation, year: str) -> duckdb.DuckDBPyRelation:
    """:func:`_survey_values` of the unchecked rows of one school ``year``, with per pupil and indicator the
    counts that say whether the values are those of the checked rows: ``answers`` (the pupil's rows),
    ``broken_rows`` (rows whose answer or pupil id breaks a rule: they are left out of the value),
    ``repeated_rows`` (copies of a pupil's answer to a question) and ``conflicts`` (1 if the pupil's
    answers to the index name different schools, kommuner or grades). Without repeated rows and conflicts
    the values are exactly :func:`_survey_values` of the rows that keep the answer and pupil id rules; the
    rules on the school, kommune and grade, which all the pupil's rows share, are left to :func:`_figures`
    (``unit_rules``).

    Two checks avoid a grouping of their own. A repeated answer: each of an index's (at most three)
    questions has a bit, and a pupil has more answers than bits set only if a question repeats.
    A conflict: the smallest and largest 64-bit hash of (school, kommune, grade) over the pupil's rows
    differ (two different triples of one pupil with the same hash, a chance of about 1 in 10¹⁹, would
    go unnoticed).

    The grouping is by pupil and the indicator's number, not by school year and indicator name: one
    year's rows share their year, and a small integer is cheaper to group by than a string.
    """
    spec = DATASETS["elevundersokelsen"]
    answer_broken = " OR ".join(f"({condition})" for column, condition, _ in spec.rules if column == "answer")
    pupil_broken = " OR ".join(
        f"({condition})" for column, condition, _ in spec.rules if column == "pupil_id"
    )
    bits = {
        question: 1 << position
        for questions in (BULLYING_QUESTIONS, *INDEX_QUESTIONS.values())
        for position, question in enumerate(questions)
    }
    indicators = sorted({indicator for indicator, _ in QUESTIONS.values()})
    mapping = ", ".join(
        f"('{question}', {indicators.index(indicator) + 1}, {bits[question]})"
        for question, (indicator, _) in QUESTIONS.items()
    )
    names = " ".join(f"WHEN {number} THEN '{indicator}'" for number, indicator in enumerate(indicators, 1))
    bullied = ", ".join(
        sorted(
            {
                str(indicators.index(indicator) + 1)
                for indicator, rule in QUESTIONS.values()
                if rule == "bullied"
            }
        )
    )
    units = ", ".join(_UNIT_COLUMNS)
    shared = ", ".join(f"any_value({column}) AS {column}" for column in _UNIT_COLUMNS)
    return over(
        rows,
        "rows",
        f"WITH mapping(question, indicator_number, bit) AS (VALUES {mapping}), "
        # A broken answer is null here, so that the value leaves it out and count() does not count it.
        f"answered AS (SELECT * REPLACE (CASE WHEN NOT ({answer_broken}) THEN answer END AS answer) "
        "  FROM rows JOIN mapping USING (question)), "
        "pupils AS ("
        f"  SELECT pupil_id, indicator_number, {shared}, "
        f"    (min(hash({units})) <> max(hash({units})))::INTEGER AS conflicts, "
        "    count(*) AS answers, bit_count(bit_or(bit)) AS questions, "
        f"    count(*) - count(answer) AS broken_answers, {_pupil_mean('answer')} AS mean_answer, "
        "    max(answer) AS top_answer FROM answered GROUP BY pupil_id, indicator_number), "
        f"judged AS (SELECT *, coalesce({pupil_broken}, false) AS pupil_broken, "
        f"  indicator_number IN ({bullied}) AS bullying FROM pupils) "
        f"SELECT '{year}' AS school_year, {units}, NULL::VARCHAR AS subject, "
        f"CASE indicator_number {names} END AS indicator, "
        "CASE WHEN bullying THEN 'percent' ELSE 'index' END AS measure, "
        "'answer' AS source_column, "
        "CASE WHEN pupil_broken OR answers > questions OR conflicts = 1 THEN NULL "
        f"WHEN bullying THEN 100.0 * (top_answer >= {BULLIED_FROM})::INTEGER ELSE mean_answer END "
        "AS value, answers, CASE WHEN pupil_broken THEN answers ELSE broken_answers END AS broken_rows, "
        "answers - questions AS repeated_rows, conflicts "
        "FROM judged",
    )


def _survey_computed(connection: duckdb.DuckDBPyConnection, dataset: Path) -> Computed:
    """The survey's figures and broken rows, in one scan of the used rows when nothing breaks a rule.

    The scan aggregates the answers to per-pupil values and counts the broken rows, repeated answers
    and conflicting pupils alongside. Only when a count is not zero is more done: with repeated
    answers or conflicts the figures are computed again from :func:`checked` rows (the rule for
    repeated rows needs every copy found); with broken rows alone the figures stand (the broken rows
    were left out of them) and a second scan finds the rows for the quarantine.
    """
    years = sorted({file.parent.name for file in check_files(connection, dataset)})
    spec = DATASETS[dataset.name]
    unit_rules = " OR ".join(
        f"({condition})" for column, condition, _ in spec.rules if column in _UNIT_COLUMNS
    )
    # Year by year: a pupil's rows are all in one year, and one year's pupils fit in memory where ten
    # years' would spill to disk.
    # The join with the question mapping keeps the used rows, and DuckDB pushes it into the scan.
    values = [
        _survey_checked_values(
            scan(connection, dataset, located=False, year=year, used=False), year.removeprefix("school_year=")
        )
        for year in years
    ]
    found = _figures(connection, values, dataset, _SURVEY_COUNTS, unit_rules)
    ((broken_rows, repeated_rows, conflicts),) = connection.execute(
        "SELECT coalesce(sum(CASE WHEN unit_broken THEN answers ELSE broken_rows END), 0), "
        f"coalesce(sum(repeated_rows), 0), coalesce(sum(conflicts), 0) FROM {_school_table(dataset)}"
    ).fetchall()
    if repeated_rows or conflicts:
        split = checked(connection, dataset)
        return Computed(_figures(connection, _survey_values(split.rows), dataset), split.broken)
    if broken_rows:
        return Computed(found, over(scan(connection, dataset), "scan", broken_by_rules(spec)))
    return Computed(found, _no_broken_rows(connection))


def _no_broken_rows(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    return connection.sql(
        "SELECT NULL::VARCHAR AS filename, NULL::BIGINT AS file_row_number, NULL::VARCHAR AS source_column, "
        "NULL::VARCHAR AS raw_value, NULL::VARCHAR AS reason WHERE false"
    )


def _school_table(dataset: Path) -> str:
    return f"schools_{dataset.name}"


# The levels above a school: the level, the columns that name its unit (the others are null).
_LEVELS_ABOVE = (
    ("municipality", ("county_code", "municipality_code")),
    ("county", ("county_code",)),
    ("national", ()),
)


def _figures(
    connection: duckdb.DuckDBPyConnection,
    values: duckdb.DuckDBPyRelation | list[duckdb.DuckDBPyRelation],
    dataset: Path,
    counts: tuple[str, ...] = (),
    unit_rules: str = "false",
) -> duckdb.DuckDBPyRelation:
    """The figures of per-pupil ``values`` (a relation, or a list of relations over disjoint school
    years, aggregated one after the other) at every level, in the observations' shape.

    The pupils are aggregated once, to their school: n and the exact sums of their fixed-point values
    and of the values' squares (``FIXED``), kept in a temporary table with the sums of ``counts``; the
    kommune, fylke and national figures add the schools' sums. A school row for which ``unit_rules``
    (SQL on the organisation number, kommune and grade) is true is marked ``unit_broken`` and counts
    nowhere.
    """
    figure = ", ".join(_FIGURE)
    sums = "".join(f", sum({count}) AS {count}" for count in counts)
    schools = _school_table(dataset)
    for index, chunk in enumerate(values if isinstance(values, list) else [values]):
        connection.execute(
            (f"CREATE OR REPLACE TEMP TABLE {schools} AS " if index == 0 else f"INSERT INTO {schools} ")
            + f"SELECT {figure}, organisation_number, municipality_code, {_COUNTY} AS county_code, "
            "  count(fixed) AS n, sum(fixed) AS total, sum(fixed::HUGEINT * fixed) AS squares"
            f"{sums}, coalesce({unit_rules}, false) AS unit_broken "
            f"FROM (SELECT *, CAST(round(value * {FIXED}) AS BIGINT) AS fixed FROM ({chunk.sql_query()})) "
            f"GROUP BY {figure}, organisation_number, municipality_code"
        )
    above = " UNION ALL ".join(
        f"SELECT {figure}, {_unit_columns(units)}, '{level}' AS level, sum(n), sum(total), sum(squares) "
        f"FROM kept GROUP BY {', '.join((figure, *units))}"
        for level, units in _LEVELS_ABOVE
    )
    source_file = f"{PUPIL_FOLDER}/{dataset.name}/school_year="
    mean = f"(CAST(total AS DOUBLE) / n / {FIXED})"
    return connection.sql(
        f"WITH kept AS (SELECT * FROM {schools} WHERE n > 0 AND NOT unit_broken), "
        f"levels AS (SELECT {figure}, organisation_number, municipality_code, county_code, "
        f"  'school' AS level, n, total, squares FROM kept UNION ALL {above}), "
        f"figures AS (SELECT '{dataset.name}' AS source, school_year, level, "
        "  CASE level WHEN 'national' THEN '" + NATIONAL_UNIT + "' WHEN 'county' THEN county_code "
        "  WHEN 'municipality' THEN municipality_code ELSE organisation_number END AS unit_code, "
        "  NULL::VARCHAR AS unit_name, county_code, "
        "  CASE WHEN level IN ('municipality', 'school') THEN municipality_code END AS municipality_code, "
        f"  indicator, grade, subject, '' AS breakdown, measure, {mean} AS value, "
        f"  CASE WHEN measure = 'percent' THEN sqrt({mean} * (100 - {mean}) / n) "
        # n·Σx² − (Σx)² is n·(n−1) times the sample variance, exact in integers.
        "  WHEN n > 1 THEN sqrt(CAST(n * squares - total * total AS DOUBLE) / (n * (n - 1))) "
        f"  / {FIXED} / sqrt(n) END AS std_error, n, false AS suppressed, "
        f"  NULL::VARCHAR AS break_note, '{source_file}' || school_year AS source_file, source_column "
        f"FROM levels WHERE {_LEVELS_WITHOUT_EXPORTS.get(dataset.name, 'true')}) "
        # A figure's "line" is its place among its dataset and year's figures, so lineage can name it.
        "SELECT * EXCLUDE (source_column), row_number() OVER (PARTITION BY school_year ORDER BY level, "
        "unit_code, municipality_code, indicator, grade, subject) AS source_line, source_column "
        "FROM figures ORDER BY school_year, source_line",
    )


def _unit_columns(units: tuple[str, ...]) -> str:
    """The unit columns of a level above a school: those in ``units``, the others null."""
    return ", ".join(
        column if column in units else f"NULL::VARCHAR AS {column}"
        for column in ("organisation_number", "municipality_code", "county_code")
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
    with pupil_connection() as connection:
        for name, dataset in pupil_datasets(raw_dir).items():
            found = computed(connection, dataset)
            figure_frames.append(found.figures.pl().cast(OBSERVATION_SCHEMA))
            quarantine_frames.append(quarantine_frame(found.broken, name, raw_dir))
    return PupilFolder(pl.concat(figure_frames), pl.concat(quarantine_frames))
