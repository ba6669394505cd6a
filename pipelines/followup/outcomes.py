"""The outcome a follow-up compares: a kommune's **area score** per school year.

Per configured kommune indicator and school year, the kommune's distance from the national level in
pupil standard deviations, signed so that higher is better: ``(value − national) / pupil SD``. The pupil
SD is the configured ``pupil_sd`` (indices, grunnskolepoeng), the binomial one at the national share
(percent shares) or 10 (the national tests' scale is set to a pupil SD of 10). A fixed unit, not one
estimated from the kommuner, so an effect reads the same in every year and cohort. The area score is
the mean over the area's indicators with a figure from at least ``minimum_pupils`` pupils that year.

Series breaks are not bridged: the national tests begin a new series in 2022-23, so before it the
learning area has no score; a follow-up shows which years each area has.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config
from pipelines.indicators.values import indicator_measure, sampling_error

SCALE_POINT_SD = 10.0  # the national tests' scale: mean 50, pupil SD 10
SCORE_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String,
        "school_year": pl.String,
        "area": pl.String,
        "score": pl.Float64,
        "indicators": pl.UInt32,
    }
)


def pupil_sd_expr(config: Config, national: pl.Expr) -> pl.Expr:
    """One pupil's SD per row, by ``indicator_id`` (null for an indicator not configured)."""
    expression = pl.lit(None, pl.Float64)
    for indicator in config.indicators:
        measure = indicator_measure(indicator)
        sd = (
            pl.lit(SCALE_POINT_SD)
            if measure == "scale_points"
            else sampling_error(indicator, national, pl.lit(measure), pl.lit(1.0))
        )
        expression = pl.when(pl.col("indicator_id") == indicator.id).then(sd).otherwise(expression)
    return expression


INDICATOR_SCORE_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String,
        "school_year": pl.String,
        "area": pl.String,
        "indicator_id": pl.String,
        "score": pl.Float64,
    }
)


def indicator_scores(values: pl.DataFrame, config: Config, value: str = "value") -> pl.DataFrame:
    """Each configured indicator's score from kommune figures: ``unit_code``, ``indicator_id``,
    ``school_year``, ``n``, the figure in column ``value`` and ``national``. One row per unit, school year
    and indicator with a figure from at least ``minimum_pupils`` pupils."""
    sign = {i.id: 1.0 if i.higher_is_better else -1.0 for i in config.indicators}
    area = {i.id: i.area for i in config.indicators}
    kept = values.filter(
        pl.col("indicator_id").is_in(list(sign))
        & (pl.col("n") >= config.selection.minimum_pupils)
        & pl.col(value).is_not_null()
        & pl.col("national").is_not_null()
    )
    return (
        kept.with_columns(
            (
                pl.col("indicator_id").replace_strict(sign, return_dtype=pl.Float64)
                * (pl.col(value) - pl.col("national"))
                / pupil_sd_expr(config, pl.col("national"))
            ).alias("score"),
            pl.col("indicator_id").replace_strict(area, return_dtype=pl.String).alias("area"),
        )
        .select(list(INDICATOR_SCORE_SCHEMA))
        .cast(INDICATOR_SCORE_SCHEMA)
        .sort("unit_code", "school_year", "area", "indicator_id")
    )


def area_scores(values: pl.DataFrame, config: Config, value: str = "value") -> pl.DataFrame:
    """Area scores: the mean of the area's :func:`indicator_scores`. One row per unit, school year and area
    with a figure."""
    return (
        indicator_scores(values, config, value)
        .group_by("unit_code", "school_year", "area")
        .agg(pl.col("score").mean(), pl.len().alias("indicators"))
        .cast(SCORE_SCHEMA)
        .select(list(SCORE_SCHEMA))
        .sort("unit_code", "school_year", "area")
    )


def pupil_counts(values: pl.DataFrame) -> pl.DataFrame:
    """A kommune's size for matching: the mean number of pupils behind its figures."""
    return (
        values.filter(pl.col("n") > 0)
        .group_by(pl.col("unit_code").alias("municipality_code"))
        .agg(pl.col("n").mean().alias("pupils"))
        .sort("municipality_code")
    )
