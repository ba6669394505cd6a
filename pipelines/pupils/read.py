"""Reading and checking the pupil-level datasets (``docs/pupil_data.md``) in DuckDB, never in Python.

A file that cannot be read, sits outside a ``school_year=YYYY-YY`` folder or has a missing, unexpected
or mistyped column stops the run with a :class:`PupilDataError` naming the file (one wrong file makes
its whole year's figures wrong). A row that breaks a rule is set aside into the quarantine, with its
file, row number (``file_row_number``, from 0), column, value and reason; the figures are computed from
the other rows.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.pupils.questions import QUESTIONS
from pipelines.tables import QUARANTINE_SCHEMA

PUPIL_FOLDER = "elevdata"
PARTITION = re.compile(r"^school_year=(\d{4})-(\d{2})$")
# A column's kind → the DuckDB types a file may store it as, and its type once read.
KINDS = {
    "text": ({"VARCHAR"}, "VARCHAR", pl.String),
    "number": (
        {"DOUBLE", "FLOAT", "DECIMAL", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT"},
        "DOUBLE",
        pl.Float64,
    ),
    "integer": ({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT"}, "INTEGER", pl.Int8),
    "boolean": ({"BOOLEAN"}, "BOOLEAN", pl.Boolean),
}
_ORGANISATION_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def _listed(values: Iterable[str]) -> str:
    """SQL list of string literals."""
    return ", ".join(f"'{value}'" for value in values)


# Brønnøysund's mod-11 check digit of a nine-digit organisation number, in SQL (TRY_CAST: a row whose
# number has a non-digit is caught by the digits test, whatever order DuckDB evaluates the tests in).
_CHECK_DIGIT = (
    "(11 - ("
    + " + ".join(
        f"{weight} * TRY_CAST(substr(organisation_number, {i + 1}, 1) AS INTEGER)"
        for i, weight in enumerate(_ORGANISATION_WEIGHTS)
    )
    + ") % 11) % 11"
)


def _not_digits(column: str, length: int) -> str:
    """SQL true unless ``column`` is exactly ``length`` ASCII digits (typed string tests, no regular
    expression: they run on every row)."""
    return f"{column} IS NULL OR length({column}) <> {length} OR ltrim({column}, '0123456789') <> ''"


_COMMON_RULES = (
    ("pupil_id", "pupil_id IS NULL OR trim(pupil_id) = ''", "missing pupil id"),
    (
        "organisation_number",
        f"{_not_digits('organisation_number', 9)} "
        f"OR {_CHECK_DIGIT} <> TRY_CAST(substr(organisation_number, 9, 1) AS INTEGER)",
        "expected a nine-digit organisation number with a valid mod-11 check digit",
    ),
    (
        "municipality_code",
        _not_digits("municipality_code", 4),
        "expected the four-digit kommune number of the school year",
    ),
)
SURVEY_GRADES = (*(str(grade) for grade in range(1, 11)), "vg1", "vg2", "vg3")


@dataclass(frozen=True)
class Dataset:
    """One pupil-level dataset: its columns, the rules a row must keep, and what makes a row unique."""

    name: str
    columns: dict[str, str]  # column → kind (a key of KINDS)
    rules: tuple[tuple[str, str, str], ...]  # column, SQL condition true for a bad row, reason
    key: tuple[str, ...]  # one row per pupil and …
    # SQL condition for the rows the figures use, when not all: the others are read (their file's
    # columns and types are checked) but not checked row by row, and never used.
    used: str | None = None

    def polars_schema(self) -> pl.Schema:
        return pl.Schema({column: KINDS[kind][2] for column, kind in self.columns.items()})


DATASETS = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            "nasjonale_prover",
            {
                "pupil_id": "text",
                "organisation_number": "text",
                "municipality_code": "text",
                "grade": "text",
                "subject": "text",
                "status": "text",
                "scale_points": "number",
                "mastery_level": "integer",
            },
            (
                *_COMMON_RULES,
                ("grade", "grade IS NULL OR grade NOT IN ('5', '8', '9')", "expected grade 5, 8 or 9"),
                (
                    "subject",
                    "subject IS NULL OR subject NOT IN ('engelsk', 'lesing', 'regning')",
                    "expected subject engelsk, lesing or regning",
                ),
                (
                    "status",
                    "status IS NULL OR status NOT IN ('deltatt', 'fritatt', 'ikke_deltatt')",
                    "expected status deltatt, fritatt or ikke_deltatt",
                ),
                (
                    "scale_points",
                    "status = 'deltatt' AND (scale_points IS NULL OR NOT scale_points BETWEEN 1 AND 100)",
                    "a pupil who took the test needs scale points from 1 to 100",
                ),
                (
                    "mastery_level",
                    "status = 'deltatt' AND (mastery_level IS NULL "
                    "OR NOT mastery_level BETWEEN 1 AND CASE grade WHEN '5' THEN 3 ELSE 5 END)",
                    "a pupil who took the test needs a mastery level from 1 to 3 (5th grade) or 5",
                ),
                (
                    "status",
                    "status <> 'deltatt' AND (scale_points IS NOT NULL OR mastery_level IS NOT NULL)",
                    "scale points or a mastery level for a pupil who did not take the test",
                ),
            ),
            ("grade", "subject"),
        ),
        Dataset(
            "elevundersokelsen",
            {
                "pupil_id": "text",
                "organisation_number": "text",
                "municipality_code": "text",
                "grade": "text",
                "question": "text",
                "answer": "number",
            },
            (
                *_COMMON_RULES,
                (
                    "grade",
                    f"grade IS NULL OR grade NOT IN ({_listed(SURVEY_GRADES)})",
                    "expected grade 1–10 or vg1–vg3",
                ),
                ("question", "question IS NULL OR trim(question) = ''", "missing question"),
                ("answer", "answer IS NULL OR NOT answer BETWEEN 1 AND 5", "expected an answer from 1 to 5"),
            ),
            ("question",),
            # Only the questions the indicators use are checked row by row (docs/pupil_data.md).
            f"question IN ({_listed(QUESTIONS)})",
        ),
        Dataset(
            "grunnskolepoeng",
            {
                "pupil_id": "text",
                "organisation_number": "text",
                "municipality_code": "text",
                "points": "number",
            },
            (
                *_COMMON_RULES,
                ("points", "points IS NULL OR NOT points BETWEEN 10 AND 60", "expected points from 10 to 60"),
            ),
            (),
        ),
        Dataset(
            "gjennomforing",
            {
                "pupil_id": "text",
                "organisation_number": "text",
                "municipality_code": "text",
                "completed": "boolean",
            },
            (*_COMMON_RULES, ("completed", "completed IS NULL", "expected true or false")),
            (),
        ),
    )
}


def from_pupil_data(lineage_rows: pl.Expr) -> pl.Expr:
    """Whether a harmonised figure was computed from pupil-level data (its rows name the folder)."""
    return lineage_rows.str.starts_with(f"{PUPIL_FOLDER}/")


class PupilDataError(Exception):
    """A pupil-level file the run cannot use; the message names the file and what was expected."""


def pupil_datasets(raw_dir: Path) -> dict[str, Path]:
    """The datasets under ``raw_dir/elevdata`` by name (none when the folder is absent); a folder that
    is not a known dataset is an error, not ignored."""
    folder = raw_dir / PUPIL_FOLDER
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.name not in DATASETS or not path.is_dir():
            raise PupilDataError(
                f"{path}: not a pupil-level dataset; expected folders {', '.join(sorted(DATASETS))}"
            )
        found[path.name] = path
    return found


def pupil_files(raw_dir: Path) -> list[Path]:
    """Every file under ``raw_dir/elevdata`` (what a new or changed pupil-level file is seen by)."""
    folder = raw_dir / PUPIL_FOLDER
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []


def check_files(connection: duckdb.DuckDBPyConnection, dataset: Path) -> list[Path]:
    """Every parquet file of ``dataset``: in a ``school_year=YYYY-YY`` folder, readable, with exactly the
    dataset's columns in types of the right kind. Raises :class:`PupilDataError` naming the first bad
    file."""
    spec = DATASETS[dataset.name]
    files = sorted(path for path in dataset.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not files:
        raise PupilDataError(f"{dataset}: no parquet files (expected school_year=YYYY-YY/*.parquet)")
    for file in files:
        partition = PARTITION.match(file.parent.name)
        if file.parent.parent != dataset or partition is None:
            raise PupilDataError(f"{file}: not in a folder school_year=YYYY-YY directly under {dataset}")
        start, end = int(partition.group(1)), partition.group(2)
        if f"{(start + 1) % 100:02d}" != end:
            raise PupilDataError(f"{file}: {file.parent.name} is not a school year (expected {start}-"
                                 f"{(start + 1) % 100:02d})")  # fmt: skip
        if file.suffix != ".parquet":
            raise PupilDataError(f"{file}: expected a .parquet file")
        try:
            described = connection.execute(
                "SELECT column_name, column_type "
                "FROM (DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false))",
                [str(file)],
            ).fetchall()
            connection.execute("SELECT count(*) FROM parquet_metadata(?)", [str(file)]).fetchall()
        except duckdb.Error as error:
            reason = str(error).splitlines()[0]
            raise PupilDataError(f"{file}: not a readable parquet file ({reason})") from error
        types = {name: re.sub(r"\(.*\)$", "", kind) for name, kind in described}
        for column, kind in spec.columns.items():
            if column not in types:
                raise PupilDataError(f"{file}: column '{column}' is missing (expected {kind})")
            if types[column] not in KINDS[kind][0]:
                raise PupilDataError(f"{file}: column '{column}' is {types[column]}; expected {kind}")
        unexpected = sorted(set(types) - set(spec.columns))
        if unexpected:
            raise PupilDataError(
                f"{file}: unexpected column(s) {', '.join(unexpected)}; expected "
                f"{', '.join(spec.columns)} (the school year comes from the folder name)"
            )
    return files


def scan(
    connection: duckdb.DuckDBPyConnection,
    dataset: Path,
    located: bool = True,
    year: str = "school_year=*",
    used: bool = True,
) -> duckdb.DuckDBPyRelation:
    """Every row the figures use (:attr:`Dataset.used`; every row unless ``used``, for a caller that
    keeps the used rows itself) of the dataset's files (of the folder ``year``, or all) with its school
    year (from the folder) and, if ``located``, its file and row number, its columns cast to their
    kinds' types; nothing is read until the relation is. The condition on used rows is in the scan, so
    DuckDB applies it as it reads."""
    spec = DATASETS[dataset.name]
    casts = ", ".join(
        f"CAST({column} AS {KINDS[kind][1]}) AS {column}" for column, kind in spec.columns.items()
    )
    glob = str(dataset / year / "*.parquet")
    return connection.sql(
        f"SELECT school_year, {casts}{', filename, file_row_number' if located else ''} "
        f"FROM read_parquet('{_quoted(glob)}', filename = {located}, file_row_number = {located}, "
        "hive_partitioning = true, hive_types = {'school_year': VARCHAR})"
        + (f" WHERE {spec.used}" if spec.used and used else "")
    )


def over(source: duckdb.DuckDBPyRelation, name: str, sql: str) -> duckdb.DuckDBPyRelation:
    """The relation of the query ``sql``, which reads ``source`` as ``name`` (lazy, as ``source`` is)."""
    result = source.query(name, sql)
    if result is None:  # DuckDB returns None for statements that are not queries
        raise ValueError(f"not a query: {sql[:80]}")
    return result


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _duplicate_keys(spec: Dataset) -> tuple[str, ...]:
    return ("school_year", "pupil_id", *spec.key)


# DuckDB's memory for the pupil data: beyond it, it spills to a temporary folder of the run's own (ten
# national years of survey answers stay under 4 GB of resident memory; docs/architecture.md).
MEMORY_LIMIT = "3GB"


@contextmanager
def pupil_connection(memory_limit: str = MEMORY_LIMIT) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection that holds at most ``memory_limit`` and spills to a folder deleted after."""
    with (
        tempfile.TemporaryDirectory(prefix="utvalg-duckdb-") as spill,
        duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill}) as connection,
    ):
        yield connection


@dataclass(frozen=True)
class Checked:
    """One dataset read and checked: the rows that keep every rule and are their pupil's only row, and
    the rows set aside (one per broken rule), both lazy relations over the files."""

    rows: duckdb.DuckDBPyRelation
    broken: duckdb.DuckDBPyRelation


def checked(connection: duckdb.DuckDBPyConnection, dataset: Path) -> Checked:
    """Check ``dataset``'s files (:func:`check_files`), then split its used rows. The keys that occur
    more than once are found in one pass and kept in a temporary table (only the keys: few or none), so
    the good rows and the broken ones are read from the files without a second grouping."""
    check_files(connection, dataset)
    spec = DATASETS[dataset.name]
    rows = scan(connection, dataset)
    keys = ", ".join(_duplicate_keys(spec))
    repeated = f"repeated_{dataset.name}"
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {repeated} AS SELECT {keys}, count(*) AS copies "
        f"FROM ({rows.sql_query()}) GROUP BY ALL HAVING count(*) > 1"
    )
    same = " and ".join(("school year", *spec.key))
    broken = over(
        rows,
        "scan",
        f"{broken_by_rules(spec)} UNION ALL "
        "SELECT filename, file_row_number, 'pupil_id', pupil_id, "
        f"'the pupil has ' || copies || ' rows for the same {same}' FROM scan JOIN {repeated} USING ({keys})",
    )
    good = over(
        rows, "scan", f"SELECT * FROM scan ANTI JOIN {repeated} USING ({keys}) WHERE NOT ({bad_row(spec)})"
    )
    return Checked(good, broken)


def bad_row(spec: Dataset) -> str:
    """SQL true for a row that breaks any of ``spec``'s rules."""
    return " OR ".join(f"({condition})" for _, condition, _ in spec.rules)


def broken_by_rules(spec: Dataset) -> str:
    """SQL over a scan (as ``scan``): one row per broken rule of each row (file, row number, column,
    value, reason); the rows' repetition is not a rule here."""
    reasons = ", ".join(
        f"CASE WHEN {condition} THEN {{'column': '{column}', 'value': CAST({column} AS VARCHAR), "
        f"'reason': '{_quoted(reason)}'}} END"
        for column, condition, reason in spec.rules
    )
    return (
        "SELECT filename, file_row_number, broken.column AS source_column, broken.value AS raw_value, "
        "broken.reason AS reason "
        f"FROM (SELECT filename, file_row_number, unnest([{reasons}]) AS broken FROM scan "
        f"WHERE {bad_row(spec)}) WHERE broken IS NOT NULL"
    )


def quarantine_frame(broken: duckdb.DuckDBPyRelation, source: str, raw_dir: Path) -> pl.DataFrame:
    """The broken rows in the quarantine's shape (``source_file`` relative to ``raw_dir``)."""
    root = f"{raw_dir.resolve()}/"
    return (
        broken.pl()
        .select(
            pl.lit(source).alias("source"),
            pl.col("filename").str.strip_prefix(root).alias("source_file"),
            pl.col("file_row_number").cast(pl.Int64).alias("source_line"),
            "source_column",
            "raw_value",
            "reason",
            pl.lit(None, pl.String).alias("figure"),
        )
        .cast(QUARANTINE_SCHEMA)
        .sort("source_file", "source_line", "source_column")
    )
