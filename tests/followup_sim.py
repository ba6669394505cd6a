"""The follow-up on a simulated sample, with the truth the generator knows: shared by the tests and the
calibration figures in the README."""

from __future__ import annotations

import polars as pl

from pipelines.followup.estimates import POOLED, baselines, follow_up_estimates, panel
from pipelines.followup.outcomes import area_scores, indicator_scores, pupil_counts
from pipelines.sample.generate import simulate
from pipelines.sample.scenario import Scenario
from pipelines.settings import REFERENCE_DIR


def simulated_followup(seed: int, scenario: Scenario) -> pl.DataFrame:
    """The estimates of a simulated sample beside ``truth``: per cohort and area (and pooled, per
    kommune as the estimates pool) the mean over the kommuner in the scheme of their post-mean area score
    minus the same pupils' without support."""
    sample, _ = simulate(seed, REFERENCE_DIR, scenario)
    config, figures = sample.config, sample.kommune_figures()
    lists = pl.concat(sample.selections)
    cohorts = lists.filter("selected").select("municipality_code", "first_school_year")
    sizes = pupil_counts(figures)
    rows = panel(area_scores(figures, config), lists, cohorts, sizes, config)
    without = panel(area_scores(figures, config, "value_without_support"), lists, cohorts, sizes, config)
    effect = (
        rows.filter("treated")
        .join(without, on=["first_school_year", "municipality_code", "area"], suffix="_without")
        .select(
            "first_school_year",
            "municipality_code",
            "area",
            (pl.col("post") - pl.col("post_without")).alias("truth"),
        )
        .drop_nulls()
    )
    by_cohort = effect.group_by("first_school_year", "area").agg(pl.col("truth").mean())
    pooled = (
        effect.group_by("municipality_code", "area")
        .agg(pl.col("truth").mean())
        .group_by("area")
        .agg(pl.col("truth").mean())
        .select(pl.lit(POOLED).alias("first_school_year"), "area", "truth")
    )
    truth = pl.concat([by_cohort, pooled])
    baseline = baselines(indicator_scores(figures, config), rows, config)
    return follow_up_estimates(rows, baseline, config).join(
        truth, on=["first_school_year", "area"], how="left"
    )
