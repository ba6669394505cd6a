"""pandera schemas for every table, and the split of a frame into valid rows and quarantined rows.

Ranges by measure: percent 0–100, index 1–5, grunnskolepoeng (points) 10–60, scale points 1–100,
mastery-level means 1–5; pupil counts ≥ 0; standard errors 0–50. School years look like ``2024-25``.
Kommune and fylke codes must be in a register of some structure 2013–2024 (or a known pseudo-unit);
organisation numbers have nine digits and a valid mod-11 check digit (Udir's ``U…`` codes for schools
abroad excepted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from pipelines.tables import (
    MEASURE_RANGES,
    OBSERVATION_KEY,
    OBSERVATION_SCHEMA,
    SCHOOL_YEAR_PATTERN,
    quarantine_rows,
)
from pipelines.vocabulary import LEVELS, SOURCES

# pandera (and the pandas it brings) is imported where a schema is built or checked, not with the module.
if TYPE_CHECKING:
    import pandera.polars as pa
    from pandera.api.polars.types import PolarsData

ORGANISATION_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(body: str) -> int | None:
    """Brønnøysund's mod-11 check digit for the first eight digits; None where no number can end them."""
    total = sum(int(d) * w for d, w in zip(body, ORGANISATION_NUMBER_WEIGHTS, strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def valid_organisation_number(number: str) -> bool:
    """Brønnøysund's mod-11 check on a nine-digit organisation number."""
    return len(number) == 9 and number.isdigit() and check_digit(number[:8]) == int(number[8])


def organisation_number_is_valid(code: pl.Expr) -> pl.Expr:
    """:func:`valid_organisation_number` as a polars expression (fast on millions of rows)."""
    digits = [code.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(9)]
    total = pl.sum_horizontal(
        [digit * weight for digit, weight in zip(digits, ORGANISATION_NUMBER_WEIGHTS, strict=False)]
    )
    check = 11 - total % 11
    check = pl.when(check == 11).then(0).otherwise(check)
    return code.str.contains(r"^\d{9}$") & (check != 10) & (check == digits[8])


def value_in_range_check(data: PolarsData) -> pl.LazyFrame:
    ok = pl.lit(True)
    for measure, (low, high) in MEASURE_RANGES.items():
        ok = ok & (
            (pl.col("measure") != measure) | pl.col("value").is_null() | pl.col("value").is_between(low, high)
        )
    return data.lazyframe.select(ok.alias("value_in_range"))


def _suppressed_has_no_value(data: PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(
        (pl.col("suppressed") == pl.col("value").is_null()).alias("suppressed_iff_no_value")
    )


def _unit_code_matches_level(data: PolarsData) -> pl.LazyFrame:
    code = pl.col("unit_code")
    level = pl.col("level")
    ok = (
        ((level == "national") & code.is_in(["I", "U"]))
        | ((level == "county") & code.str.contains(r"^\d{2}$"))
        | ((level == "municipality") & code.str.contains(r"^\d{4}$"))
        | (
            (level == "school")
            & (code.is_null() | code.str.contains(r"^U\d+$") | organisation_number_is_valid(code))
        )
    )
    return data.lazyframe.select(ok.fill_null(False).alias("unit_code_matches_level"))


def observation_schema(known_municipalities: set[str], known_counties: set[str]) -> pa.DataFrameSchema:
    import pandera.polars as pa

    """The schema of ``observations`` (and, with other lineage columns, of the harmonised table)."""
    columns = {name: pa.Column(dtype, nullable=True) for name, dtype in OBSERVATION_SCHEMA.items()}
    columns.update(
        source=pa.Column(pl.String, pa.Check.isin(SOURCES)),
        school_year=pa.Column(pl.String, pa.Check.str_matches(SCHOOL_YEAR_PATTERN)),
        level=pa.Column(pl.String, pa.Check.isin(LEVELS)),
        indicator=pa.Column(pl.String, pa.Check.str_matches(r"^[a-z0-9_]+$")),
        measure=pa.Column(pl.String, pa.Check.isin(list(MEASURE_RANGES))),
        breakdown=pa.Column(pl.String),
        municipality_code=pa.Column(pl.String, pa.Check.isin(sorted(known_municipalities)), nullable=True),
        county_code=pa.Column(pl.String, pa.Check.isin(sorted(known_counties)), nullable=True),
        std_error=pa.Column(pl.Float64, pa.Check.in_range(0, 50), nullable=True),
        n=pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        suppressed=pa.Column(pl.Boolean),
        source_file=pa.Column(pl.String),
        source_line=pa.Column(pl.Int64, pa.Check.ge(1)),
    )
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(
                value_in_range_check,
                name="value_in_range",
                error="value outside the range of its measure",
            ),
            pa.Check(_suppressed_has_no_value, name="suppressed_iff_no_value"),
            pa.Check(_unit_code_matches_level, name="unit_code_matches_level"),
        ],
        strict=True,
        ordered=True,
        unique=list(OBSERVATION_KEY),
        name="observations",
    )


# What a copy of a figure says: copies that agree on these are the same figure.
FIGURE_CONTENT = ("value", "std_error", "n", "suppressed")


def drop_duplicates(observations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per observation key, never a guess between copies that disagree.

    Copies that agree on the figure are one figure: the newest export's row is kept (its name sorts
    last; Udir's file names begin with the export time) and the others are quarantined as identical
    copies. Copies that disagree (two revisions, two exports pasted together, a line repeated with
    other numbers) are all quarantined, each naming the others: which one is right is not the
    pipeline's to decide.
    """
    key = list(OBSERVATION_KEY)
    ranked = observations.sort(["source_file", "source_line"], descending=True).with_columns(
        pl.int_range(pl.len()).over(key).alias("_rank"),
        pl.struct(FIGURE_CONTENT).n_unique().over(key).alias("_versions"),
    )
    agreed = ranked.filter(pl.col("_versions") == 1)
    kept = agreed.filter(pl.col("_rank") == 0)
    copies = agreed.filter(pl.col("_rank") > 0).join(
        kept.select(
            *key,
            pl.col("source_file").alias("kept_file"),
            pl.col("source_line").alias("kept_line"),
        ),
        on=key,
        nulls_equal=True,
    )
    conflicting = ranked.filter(pl.col("_versions") > 1)
    shown = pl.when(pl.col("suppressed")).then(pl.lit("*")).otherwise(pl.col("value").cast(pl.String))
    versions = conflicting.group_by(key).agg(
        pl.format("{}:{} says {} (n {})", "source_file", "source_line", shown, pl.col("n").fill_null(-1))
        .str.replace(r" \(n -1\)$", "")
        .sort()
        .str.join("; ")
        .alias("_versions_text")
    )
    conflicting = conflicting.join(versions, on=key, nulls_equal=True)
    quarantined = pl.concat(
        [
            quarantine_rows(
                copies,
                pl.format(
                    "identical copy of {}:{} (same unit, year, indicator and figure); counted once",
                    "kept_file",
                    "kept_line",
                ),
            ),
            quarantine_rows(
                conflicting,
                pl.format(
                    "conflicting copies of one figure (same unit, year and indicator): {}; none is used "
                    "(remove the outdated export or correct the file)",
                    "_versions_text",
                ),
            ),
        ]
    )
    order = ["source_file", "source_line", "source_column"]
    return kept.drop("_rank", "_versions").sort(order), quarantined


def split_valid(
    frame: pl.DataFrame, schema: pa.DataFrameSchema
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Validate ``frame``; return (valid rows, invalid rows, failure cases).

    Failure cases that point at no row (a wrong column, a wrong type) are bugs, not bad data, and
    raise.
    """
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].null_count():
            raise
        reasons = (
            cases.group_by("index")
            .agg(
                pl.format(
                    "{}: {} failed (found {})",
                    pl.col("column").fill_null("row"),
                    "check",
                    "failure_case",
                )
                .unique()
                .sort()
                .str.join("; ")
                .alias("reason")
            )
            .with_columns(pl.col("index").cast(pl.UInt32))
        )
        indexed = frame.with_row_index("index").join(reasons, on="index", how="left")
        valid = indexed.filter(pl.col("reason").is_null()).drop("index", "reason")
        invalid = indexed.filter(pl.col("reason").is_not_null()).drop("index")
        return valid, invalid, cases
    return (
        frame,
        frame.clear().with_columns(pl.lit(None, pl.String).alias("reason")),
        pl.DataFrame(),
    )
