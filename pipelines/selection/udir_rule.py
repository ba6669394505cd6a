"""Udir's published selection rule for Oppfølgingsordningen (from 2020), reproduced exactly, with three
things the published rule leaves open made explicit.

Per indicator and school year of the window: 1 risk point when the kommune is worse than the national
level, 3 points when it is worse than the absolute lower limit; points of indicators with
``risk_point_weight`` 3 (grunnskolepoeng) count three times. The score is the share of possible points
(3 × weight per indicator-year with a figure), so a kommune with suppressed figures is scored on what it
has. Category 1: the ``category_1_count`` highest shares. Category 2: among the rest, up to
``category_2_max`` kommuner whose own schools' shares of risk points differ by more than
``category_2_spread`` and that have a school among the worst ``category_2_worst_school_share`` of schools
nationally; highest kommune share first.

What the published rule leaves open:

- **Figures from too few pupils.** Udir applies the rule to its published figures, and it publishes
  none from fewer than ``minimum_pupils`` pupils. A figure from fewer (pupil-level data gives every
  unit one) gets no points and no possible points, whatever its source: the rule rests on the figures
  that may be published, so its points never tell on which side of the country or the limit a figure
  from a few pupils lies (docs/privacy.md).

- **Too little data.** A kommune whose possible points are below ``minimum_possible_share`` of the points
  possible with every rule indicator-year the country has figures for is not ranked: it is listed as
  *for lite data*, without rank or category (0 turns this off).
- **Ties.** Kommuner with the same share are ordered by kommune code; the rule itself gives them no
  order. ``tied_count`` says how many ranked kommuner share each one's share, and ``tied_at_cutoff``
  marks those sharing the last category 1 kommune's share when more than one does: which of them are
  in category 1 was decided by the code, not by the rule.
- **The worst schools.** A school is among the worst ``category_2_worst_school_share`` when the schools
  with a share of risk points at or above its own are at most that share of the scored schools. Tied
  schools are flagged together or not at all, so never more than that share is flagged (a quantile with
  ``>=`` flags every school tied at it, and so more).
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config
from pipelines.indicators.values import too_few_pupils
from pipelines.vocabulary import UDIR_RANKED, UDIR_TIED_AT_CUTOFF, UDIR_TOO_LITTLE_DATA

RISK_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String(),
        "risk_points": pl.Int64(),
        "possible_points": pl.Int64(),
        "risk_share": pl.Float64(),
        "indicator_years": pl.Int64(),
    }
)


def _rule(config: Config) -> dict[str, int]:
    """The rule's indicators and their risk point weights."""
    return {i.id: i.risk_point_weight for i in config.indicators if i.udir_rule}


def risk_points(values: pl.DataFrame, config: Config, limits: dict[str, float] | None = None) -> pl.DataFrame:
    """Risk points per unit × indicator × school year for the indicators in Udir's rule, on the figures
    from at least ``minimum_pupils`` pupils."""
    rule = {i.id: i for i in config.indicators if i.udir_rule}
    limit_of = {key: i.absolute_limit for key, i in rule.items()} | (limits or {})
    weight_of = _rule(config)
    frame = values.filter(
        pl.col("indicator_id").is_in(list(rule))
        & pl.col("value").is_not_null()
        & pl.col("national").is_not_null()
        & ~too_few_pupils(config)
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


def full_possible_points(values: pl.DataFrame, config: Config) -> int:
    """The points a unit could have with a figure for every rule indicator and school year of
    ``values`` (the window's) that the country has a figure for."""
    weight_of = _rule(config)
    present = (
        values.filter(pl.col("indicator_id").is_in(list(weight_of)) & pl.col("national").is_not_null())
        .select("indicator_id", "school_year")
        .unique()
    )
    return sum(3 * weight_of[indicator] for indicator in present["indicator_id"].to_list())


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


def among_worst(share: pl.Expr, worst_share: float) -> pl.Expr:
    """True for the units among the worst ``worst_share`` by ``share`` (higher is worse), whole tie groups
    only: a unit is among them when the units with a share at or above its own are at most
    ``worst_share`` of all units (nulls are not counted)."""
    at_or_above = share.rank("max", descending=True)
    # The small tolerance keeps 0.57 × 100 = 56.999… from losing a unit to floating point.
    allowed = (share.count() * worst_share + 1e-9).floor()
    return at_or_above <= allowed


def udir_selection(
    municipal_values: pl.DataFrame,
    school_values: pl.DataFrame,
    config: Config,
    limits: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Risk shares, status, rank, categories and the category 2 evidence, one row per kommune with any
    figure: ranked kommuner by rank, then those with too little data by code."""
    selection = config.selection
    full = full_possible_points(municipal_values, config)
    kommuner = risk_shares(risk_points(municipal_values, config, limits)).with_columns(
        (pl.col("possible_points") / full if full else pl.lit(0.0)).alias("possible_share")
    )
    enough = pl.col("possible_share") >= selection.minimum_possible_share
    ranked = (
        kommuner.filter(enough)
        .sort(["risk_share", "unit_code"], descending=[True, False])
        .with_row_index("udir_rank", offset=1)
        .with_columns(pl.len().over("risk_share").alias("tied_count"))
    )
    cutoff_share = (
        ranked.filter(pl.col("udir_rank") == selection.category_1_count)["risk_share"].to_list() or [None]
    )[0]
    ranked = ranked.with_columns(
        (pl.col("udir_rank") <= selection.category_1_count).alias("category_1"),
        (
            (pl.col("risk_share") == cutoff_share) & (pl.col("tied_count") > 1)
            if cutoff_share is not None
            else pl.lit(False)
        ).alias("tied_at_cutoff"),
    )
    too_little = kommuner.filter(~enough).with_columns(
        pl.lit(None, pl.UInt32).alias("udir_rank"),
        pl.lit(None, pl.UInt32).alias("tied_count"),
        pl.lit(False).alias("category_1"),
        pl.lit(False).alias("tied_at_cutoff"),
    )
    ranked = pl.concat([ranked, too_little.select(ranked.columns)]).with_columns(
        pl.when(pl.col("udir_rank").is_null())
        .then(pl.lit(UDIR_TOO_LITTLE_DATA))
        .when(pl.col("tied_at_cutoff"))
        .then(pl.lit(UDIR_TIED_AT_CUTOFF))
        .otherwise(pl.lit(UDIR_RANKED))
        .alias("udir_status")
    )

    schools = (
        risk_shares(risk_points(school_values, config, limits))
        .join(
            school_values.select("unit_code", "municipality_code").unique("unit_code"),
            on="unit_code",
            how="left",
        )
        .with_columns(
            among_worst(pl.col("risk_share"), selection.category_2_worst_school_share).alias("worst")
        )
    )
    spread = (
        schools.filter(pl.col("municipality_code").is_not_null())
        .group_by("municipality_code")
        .agg(
            pl.len().alias("schools_scored"),
            (pl.col("risk_share").max() - pl.col("risk_share").min()).alias("school_spread"),
            pl.col("worst").sum().alias("worst_quartile_schools"),
        )
        .rename({"municipality_code": "unit_code"})
    )
    ranked = ranked.join(spread, on="unit_code", how="left").with_columns(
        pl.col("schools_scored").fill_null(0),
        pl.col("worst_quartile_schools").fill_null(0),
        (pl.col("worst_quartile_schools").fill_null(0) > 0).alias("has_worst_quartile_school"),
    )
    return ranked.with_columns(categories(ranked, config, "udir_rank")).sort(
        ["udir_rank", "unit_code"], nulls_last=True
    )


def categories(ranked: pl.DataFrame, config: Config, rank: str) -> pl.Series:
    """``udir_category`` (1, 2 or null) per row of ``ranked``, from each kommune's place ``rank`` among
    those compared (null: not ranked) and its category 2 evidence: category 1 the first
    ``category_1_count``; category 2 up to ``category_2_max`` of the rest, by share of risk points."""
    selection = config.selection
    category_1 = pl.col(rank) <= selection.category_1_count
    eligible = ranked.filter(
        pl.col(rank).is_not_null()
        & ~category_1
        & (pl.col("schools_scored") >= 2)
        & (pl.col("school_spread") > selection.category_2_spread)
        & pl.col("has_worst_quartile_school")
    ).sort(["risk_share", "school_spread", "unit_code"], descending=[True, True, False])
    category_2 = sorted(eligible.head(selection.category_2_max)["unit_code"].to_list())
    return ranked.select(
        pl.when(category_1)
        .then(pl.lit(1))
        .when(pl.col("unit_code").is_in(category_2))
        .then(pl.lit(2))
        .otherwise(None)
        .cast(pl.Int8)
        .alias("udir_category")
    ).to_series()
