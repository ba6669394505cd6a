"""The shape of the tables the stages hand each other, in one place: observations as published, the
quarantine (the one way a row is set aside), and the harmonised observations.

Types live here; the checks on their values (pandera) live in :mod:`pipelines.validate`.
"""

from __future__ import annotations

import polars as pl

OBSERVATION_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "school_year": pl.String(),
        "level": pl.String(),
        "unit_code": pl.String(),
        "unit_name": pl.String(),
        "county_code": pl.String(),
        "municipality_code": pl.String(),
        "indicator": pl.String(),
        "grade": pl.String(),
        "subject": pl.String(),
        "breakdown": pl.String(),
        "measure": pl.String(),
        "value": pl.Float64(),
        "std_error": pl.Float64(),
        "n": pl.Int64(),
        "suppressed": pl.Boolean(),
        "break_note": pl.String(),
        "source_file": pl.String(),
        "source_line": pl.Int64(),
        "source_column": pl.String(),
    }
)
# One published figure: a unit, a year and what was measured.
OBSERVATION_KEY = (
    "source",
    "school_year",
    "level",
    "unit_code",
    "unit_name",
    "county_code",
    "municipality_code",
    "indicator",
    "grade",
    "subject",
    "breakdown",
    "measure",
)

# Ranges of ``value`` by measure: percent, survey index 1–5, grunnskolepoeng, scale points, mean level.
MEASURE_RANGES: dict[str, tuple[float, float]] = {
    "percent": (0.0, 100.0),
    "index": (1.0, 5.0),
    "points": (10.0, 60.0),
    "scale_points": (1.0, 100.0),
    "mean_level": (1.0, 5.0),
}
SCHOOL_YEAR_PATTERN = r"^\d{4}-\d{2}$"

QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "source_file": pl.String(),
        "source_line": pl.Int64(),
        "source_column": pl.String(),
        "raw_value": pl.String(),
        "reason": pl.String(),
        # The figure a row would have been, where the row is one (null for whole lines): harmonising
        # says so wherever a quarantined row would have fed or stood in for a published figure.
        "figure": pl.String(),
    }
)
# The parts of ``figure``, joined by FIGURE_SEPARATOR (an empty part is a null).
QUARANTINED_FIGURE = (
    "level",
    "unit_code",
    "source",
    "school_year",
    "indicator",
    "grade",
    "subject",
    "breakdown",
)
FIGURE_SEPARATOR = "|"
QUARANTINE_STAGES = ("parse", "pupils", "duplicate", "validate", "harmonise")
STAGED_QUARANTINE_SCHEMA = pl.Schema({**QUARANTINE_SCHEMA, "stage": pl.String()})


def quarantine_rows(
    frame: pl.DataFrame,
    reason: pl.Expr,
    *,
    raw_value: pl.Expr | None = None,
    source_column: pl.Expr | None = None,
) -> pl.DataFrame:
    """Rows of ``frame`` in the quarantine's shape, with ``reason``.

    ``frame`` has ``source``, ``source_file`` and ``source_line``; the cell defaults to
    ``source_column`` and its text to ``value``; ``figure`` is filled when ``frame`` has its parts.
    """
    figure = (
        pl.concat_str([pl.col(part).fill_null("") for part in QUARANTINED_FIGURE], separator=FIGURE_SEPARATOR)
        if set(QUARANTINED_FIGURE) <= set(frame.columns)
        else pl.lit(None, pl.String)
    )
    return frame.select(
        "source",
        "source_file",
        "source_line",
        (pl.col("source_column") if source_column is None else source_column).alias("source_column"),
        (pl.col("value").cast(pl.String) if raw_value is None else raw_value).alias("raw_value"),
        reason.alias("reason"),
        figure.alias("figure"),
    ).cast(QUARANTINE_SCHEMA)


# What a harmonised figure is, apart from its unit: the same figure in every structure.
FIGURE_KEY = ("source", "school_year", "indicator", "grade", "subject", "breakdown", "measure")
LINEAGE_KINDS = ("unchanged", "recode", "merge", "rebuilt_from_schools", "inherited")
HARMONISED_SCHEMA = pl.Schema(
    {
        **{
            name: OBSERVATION_SCHEMA[name]
            for name in ("source", "school_year", "level", "unit_code", "unit_name", "municipality_code")
        },
        "county_code": pl.String(),
        "is_pseudo": pl.Boolean(),
        **{
            name: OBSERVATION_SCHEMA[name]
            for name in (*FIGURE_KEY[2:], "value", "std_error", "n", "suppressed", "break_note")
        },
        "lineage": pl.String(),
        "lineage_sources": pl.String(),
        "lineage_rows": pl.String(),
        "lineage_note": pl.String(),
    }
)
HARMONISED_KEY = ("level", "unit_code", *FIGURE_KEY)
