"""Udir's published selection rule for Oppfølgingsordningen (from 2020), reproduced exactly.

Per indicator and school year of the window: 1 risk point when the kommune is worse than the national
level, 3 points when it is worse than the absolute lower limit; points of indicators with
``risk_point_weight`` 3 (grunnskolepoeng) count three times. The score is the share of possible points
(3 × weight per indicator-year with a figure), so a kommune with suppressed figures is scored on what it
has. Category 1: the ``category_1_count`` highest shares (ties broken by kommune code, and reported).
Category 2: among the rest, up to ``category_2_max`` kommuner whose own schools' shares of risk points
differ by more than ``category_2_spread`` and that have a school among the worst
``category_2_worst_school_share`` of schools nationally; highest kommune share first.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config

RISK_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String(),
        "risk_points": pl.Int64(),
        "possible_points": pl.Int64(),
        "risk_share": pl.Float64(),
        "indicator_years": pl.Int64(),
    }
)


def risk_points(values: pl.DataFrame, config: Config, limits: dict[str, float] | None = None) -> pl.DataFrame:
    """Risk points per unit × indicator × school year for the indicators in Udir's rule."""
    rule = {i.id: i for i in config.indicators if i.udir_rule}
    limit_of = {key: i.absolute_limit for key, i in rule.items()} | (limits or {})
    weight_of = {key: i.risk_point_weight for key, i in rule.items()}
    frame = values.filter(
        pl.col("indicator_id").is_in(list(rule))
        & pl.col("value").is_not_null()
        & pl.col("national").is_not_null()
    )
    limit = pl.col("indicator_id").replace_strict(limit_of, return_dtype=pl.Float64)
    weight = pl.col("indicator_id").replace_strict(weight_of, return_dtype=pl.Int64)
    # worse_sign is +1 when a higher value is worse, -1 when a lower value is worse.
    worse_than_national = (pl.col("value") - pl.col("national")) * pl.col("worse_sign") > 0
    beyond_limit = (pl.col("value") - limit) * pl.col("worse_sign") > 0
    return frame.with_columns(
        (pl.when(beyond_limit).then(3).when(worse_than_national).then(1).otherwise(0) * weight).alias(
            "points"
        ),
        (3 * weight).alias("possible"),
    )


def risk_shares(points: pl.DataFrame) -> pl.DataFrame:
    """Share of possible risk points per unit."""
    return (
        points.group_by("unit_code")
        .agg(
            pl.col("points").sum().alias("risk_points"),
            pl.col("possible").sum().alias("possible_points"),
            pl.len().alias("indicator_years"),
        )
        .with_columns((pl.col("risk_points") / pl.col("possible_points")).alias("risk_share"))
        .select(list(RISK_SCHEMA))
        .cast(RISK_SCHEMA)
        .sort("unit_code")
    )


def udir_selection(
    municipal_values: pl.DataFrame,
    school_values: pl.DataFrame,
    config: Config,
    limits: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Risk shares, categories and the category 2 evidence, one row per kommune with any figure."""
    selection = config.selection
    kommuner = risk_shares(risk_points(municipal_values, config, limits))
    ranked = kommuner.sort(["risk_share", "unit_code"], descending=[True, False]).with_row_index(
        "udir_rank", offset=1
    )
    cutoff_share = (
        ranked.filter(pl.col("udir_rank") == selection.category_1_count)["risk_share"].to_list() or [None]
    )[0]
    ranked = ranked.with_columns(
        (pl.col("udir_rank") <= selection.category_1_count).alias("category_1"),
        ((pl.col("risk_share") == cutoff_share) if cutoff_share is not None else pl.lit(False)).alias(
            "tied_at_cutoff"
        ),
    )

    school_points = risk_points(school_values, config, limits)
    schools = risk_shares(school_points).join(
        school_values.select("unit_code", "municipality_code").unique("unit_code"), on="unit_code", how="left"
    )
    if schools.height:
        worst_threshold = schools["risk_share"].quantile(
            1 - selection.category_2_worst_school_share, "linear"
        )
    else:
        worst_threshold = None
    spread = (
        schools.filter(pl.col("municipality_code").is_not_null())
        .group_by("municipality_code")
        .agg(
            pl.len().alias("schools_scored"),
            (pl.col("risk_share").max() - pl.col("risk_share").min()).alias("school_spread"),
            (pl.col("risk_share") >= worst_threshold).any().alias("has_worst_quartile_school")
            if worst_threshold is not None
            else pl.lit(False).alias("has_worst_quartile_school"),
        )
        .rename({"municipality_code": "unit_code"})
    )
    ranked = ranked.join(spread, on="unit_code", how="left").with_columns(
        pl.col("schools_scored").fill_null(0),
        pl.col("has_worst_quartile_school").fill_null(False),
    )
    eligible = ranked.filter(
        ~pl.col("category_1")
        & (pl.col("schools_scored") >= 2)
        & (pl.col("school_spread") > selection.category_2_spread)
        & pl.col("has_worst_quartile_school")
    ).sort(["risk_share", "school_spread", "unit_code"], descending=[True, True, False])
    category_2 = set(eligible.head(selection.category_2_max)["unit_code"].to_list())
    return ranked.with_columns(
        pl.when(pl.col("category_1"))
        .then(pl.lit(1))
        .when(pl.col("unit_code").is_in(sorted(category_2)))
        .then(pl.lit(2))
        .otherwise(None)
        .cast(pl.Int8)
        .alias("udir_category")
    ).sort("udir_rank")
