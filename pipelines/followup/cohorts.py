"""What the follow-up reads from a run: the kommune figures of every school year the raw folder has
(not only the selection's window), and each cohort's list remade by Udir's rule on the figures of the
``window_years`` before it, as the cohort was selected.

A cohort's list sets aside the kommuner in the scheme or recently out when it was made (earlier cohorts),
as the selection does, and is made by the same function the sample generator selects its cohorts with;
the follow-up compares the cohort with the others on that list.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from pipelines.config import Config
from pipelines.followup.estimates import (
    OWN_SUPPORT,
    baselines,
    followed,
    matched_links,
    panel,
    with_area_levels,
)
from pipelines.followup.outcomes import area_scores, indicator_scores, pupil_counts
from pipelines.indicators.values import indicator_values
from pipelines.selection.scheme import COHORT_LIST_SCHEMA, cohort_list, previous_school_year


def kommune_values_all_years(harmonised: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The kommune indicators of every school year in ``harmonised``, beside the national level."""
    years = sorted(set(harmonised["school_year"].to_list()))
    if not years:
        return indicator_values(harmonised, config, "kommune", ("municipality",))
    span = int(years[-1][:4]) - int(years[0][:4]) + 1
    every_year = replace(config.selection, school_year=years[-1], window_years=span)
    return indicator_values(harmonised, replace(config, selection=every_year), "kommune", ("municipality",))


def cohort_lists(values: pl.DataFrame, periods: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Per cohort in ``periods`` with figures in its window: its list
    (:func:`pipelines.selection.scheme.cohort_list`)."""
    have = set(values["school_year"].to_list())
    lists = [
        cohort_list(values, periods, first, config)
        for first in sorted(set(periods["first_school_year"].to_list()))
        # The first cohort's window may reach back before the first year with figures: it was made on
        # the years there were.
        if set(config.with_year(previous_school_year(first)).window()) & have
    ]
    return pl.concat(lists) if lists else pl.DataFrame(schema=COHORT_LIST_SCHEMA)


def followup_panel(
    values: pl.DataFrame, periods: pl.DataFrame, recorded: pl.DataFrame, config: Config
) -> pl.DataFrame:
    """The follow-up's panel (:func:`pipelines.followup.estimates.panel`) from the kommune figures of
    every year, the scheme's periods and the lists ``recorded`` in the register (a cohort without one
    gets its list remade), its years as text (``2017-18, 2018-19``): empty with no cohorts."""
    remade = cohort_lists(values, periods, config).join(
        recorded.select("first_school_year").unique(), on="first_school_year", how="anti"
    )
    lists = pl.concat([recorded.select(remade.columns).cast(remade.schema), remade])
    cohorts = periods.select("municipality_code", "first_school_year")
    rows = panel(area_scores(values, config), lists, cohorts, pupil_counts(values), config)
    return rows.with_columns(pl.col("pre_years", "post_years").list.join(", "))


def followup_baselines(values: pl.DataFrame, rows: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Per cohort list and kommune of the panel ``rows``, per indicator: its mean score over the cohort's
    pre-years (:func:`pipelines.followup.estimates.baselines`)."""
    return baselines(indicator_scores(values, config), rows, config)


TREND_SCHEMA = pl.Schema(
    {
        "first_school_year": pl.String,
        "municipality_code": pl.String,
        "area": pl.String,
        "school_year": pl.String,
        "score": pl.Float64,
        "comparison_score": pl.Float64,
        "comparison_kommuner": pl.UInt32,
    }
)


def kommune_trends(scores: pl.DataFrame, rows: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Per cohort, kommune in the scheme and area, every school year: its area score beside the mean
    score of the comparison kommuner the difference-in-differences matched it to (and how many had one),
    each only in the years the estimates follow it (:func:`pipelines.followup.estimates.followed`). A
    kommune with no match (no figures in the years before its cohort) has its own scores alone."""
    if rows.is_empty():
        return pl.DataFrame(schema=TREND_SCHEMA)
    rows = with_area_levels(rows)
    keys = ["first_school_year", "municipality_code", "area", "school_year"]
    links = [
        matched_links(part, config.followup.matches).with_columns(pl.lit(area).alias("area"))
        for (cohort, area), part in rows.group_by("first_school_year", "area", maintain_order=True)
    ]
    scored = scores.rename({"unit_code": "match_code", "score": "comparison_score"})
    support = rows.select("first_school_year", pl.col("municipality_code").alias("match_code"), OWN_SUPPORT)
    comparison = (
        pl.concat(links)
        .unique(["first_school_year", "municipality_code", "area", "match_code"])
        .join(scored, on=["match_code", "area"])
        .join(support.unique(), on=["first_school_year", "match_code"], how="left")
        .filter(followed(pl.col("school_year")))
        # Matches in a fixed order: a float mean over rows in the order a join gives differs in its last bits.
        .sort(*keys, "match_code")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("comparison_score").mean(), pl.len().alias("comparison_kommuner"))
    )
    own = (
        rows.filter("treated")
        .select("first_school_year", "municipality_code", "area")
        .unique()
        .join(scores.rename({"unit_code": "municipality_code"}), on=["municipality_code", "area"])
        .select(*keys, "score")
    )
    return (
        comparison.join(own, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("comparison_kommuner").fill_null(0))
        .select(list(TREND_SCHEMA))
        .cast(TREND_SCHEMA)
        .sort("first_school_year", "municipality_code", "area", "school_year")
    )
