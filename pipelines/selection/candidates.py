"""The candidate lists: Udir's rule and the holistic method side by side per kommune, with the
sensitivity analysis and a plain Norwegian explanation; and the ranked list of fylkeskommuner."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from pipelines.config import Config
from pipelines.selection.explain import drivers, published_years, sentence
from pipelines.selection.holistic import holistic_scores
from pipelines.selection.scheme import scheme_status, without_scheme
from pipelines.selection.sensitivity import HOLISTIC
from pipelines.vocabulary import UDIR_TOO_LITTLE_DATA, joint_statement

# Oppfølgingsordningen and applications beside the statistics: the kommune's place in the scheme, and
# Udir's rule and the holistic list without the kommuner in it or recently out of it.
SCHEME_COLUMNS = [
    "applicant",
    "application_date",
    "scheme_status",
    "scheme_first_school_year",
    "scheme_last_school_year",
    "udir_category_without_scheme",
    "holistic_rank_without_scheme",
]
HOLISTIC_COLUMNS = [
    "holistic_score",
    "holistic_score_sd",
    "holistic_rank",
    "p_top_n",
    "rank_low",
    "rank_high",
    "tier",
    "joint_statement",
    "areas",
]
CANDIDATE_COLUMNS = [
    "municipality_code",
    "municipality_name",
    "county_code",
    "statsforvalter",
    "udir_risk_share",
    "udir_risk_points",
    "udir_possible_points",
    "udir_rank",
    "udir_tied_count",
    "udir_status",
    "udir_category",
    *HOLISTIC_COLUMNS,
    "sensitivity_selected_share",
    "sensitivity_deciding_choices",
    "drivers",
    "explanation",
    *SCHEME_COLUMNS,
]
COUNTY_COLUMNS = [
    "county_code",
    "county_name",
    "statsforvalter",
    *HOLISTIC_COLUMNS,
    "drivers",
    "explanation",
    "applicant",
    "application_date",
]


def _explained(
    units: pl.DataFrame,
    indicator_scores: pl.DataFrame,
    years: pl.DataFrame,
    config: Config,
    name_column: str,
) -> pl.DataFrame:
    """``units`` with ``drivers`` (the numbers: pooled score in SD, published years worse) and
    ``explanation`` (one sentence naming the drivers). ``years``: :func:`published_years`."""
    top_n = config.holistic.top_n
    frame = units.join(drivers(indicator_scores, years, config), on="unit_code", how="left")
    explanations = [
        sentence(
            row[name_column],
            row["tier"],
            row["p_top_n"],
            row["rank_low"],
            row["rank_high"],
            top_n,
            row["driver_texts"],
            row.get("udir_category"),
            row.get("udir_status"),
        )
        if row["tier"] is not None
        else f"{row[name_column]} har for få tall i perioden til å bli vurdert."
        for row in frame.iter_rows(named=True)
    ]
    return frame.with_columns(pl.Series("explanation", explanations, dtype=pl.String)).drop("driver_texts")


def _holistic_columns(rank_uncertainty: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """The holistic method's columns as the candidate lists name them."""
    return rank_uncertainty.with_columns(
        pl.col("composite").alias("holistic_score"),
        pl.col("composite_var").sqrt().alias("holistic_score_sd"),
        joint_statement(top_n).alias("joint_statement"),
    ).select("unit_code", *HOLISTIC_COLUMNS)


def kommune_candidates(
    register: pl.DataFrame,
    udir: pl.DataFrame,
    rank_uncertainty: pl.DataFrame,
    indicator_scores: pl.DataFrame,
    sensitivity: pl.DataFrame,
    config: Config,
    scheme: pl.DataFrame,
    applications: pl.DataFrame,
    published: pl.DataFrame,
) -> pl.DataFrame:
    """One row per kommune of the target structure (pseudo-units left out). ``scheme``: the support
    periods (:func:`pipelines.selection.scheme.support_periods`); ``applications``: the year's
    applications (``owner_code``, ``application_date``), fylkeskommuner's among them; ``published``:
    the ``published_figures`` table, which the drivers' years are counted on."""
    kommuner = register.filter(~pl.col("is_pseudo")).select(
        pl.col("municipality_code").alias("unit_code"), "municipality_name", "county_code", "statsforvalter"
    )
    udir_columns = udir.select(
        "unit_code",
        pl.col("risk_share").alias("udir_risk_share"),
        pl.col("risk_points").alias("udir_risk_points"),
        pl.col("possible_points").alias("udir_possible_points"),
        "udir_rank",
        pl.col("tied_count").alias("udir_tied_count"),
        "udir_status",
        "udir_category",
    )
    holistic_sensitivity = sensitivity.filter(pl.col("method") == HOLISTIC).select(
        "unit_code",
        pl.col("selected_share").alias("sensitivity_selected_share"),
        pl.col("deciding_choices").alias("sensitivity_deciding_choices"),
    )
    merged = (
        kommuner.join(udir_columns, on="unit_code", how="left")
        # A kommune without any figure of the rule is not ranked either.
        .with_columns(pl.col("udir_status").fill_null(UDIR_TOO_LITTLE_DATA))
        .join(_holistic_columns(rank_uncertainty, config.holistic.top_n), on="unit_code", how="left")
        .join(holistic_sensitivity, on="unit_code", how="left")
    )
    status = scheme_status(scheme, config.selection.school_year, config.scheme).rename(
        {"municipality_code": "unit_code"}
    )
    merged = (
        merged.join(status, on="unit_code", how="left")
        .join(_applied(applications), on="unit_code", how="left")
        .with_columns(pl.col("application_date").is_not_null().alias("applicant"))
        .join(
            without_scheme(udir, merged, status["unit_code"].to_list(), config),
            on="unit_code",
            how="left",
        )
    )
    return (
        _explained(
            merged,
            indicator_scores,
            published_years(published, "municipality", config),
            config,
            "municipality_name",
        )
        .rename({"unit_code": "municipality_code"})
        .select(CANDIDATE_COLUMNS)
        .sort(["holistic_rank", "municipality_code"], nulls_last=True)
    )


def _applied(applications: pl.DataFrame) -> pl.DataFrame:
    """Per owner that applied, its first application's date: ``unit_code``, ``application_date``."""
    return (
        applications.group_by("owner_code")
        .agg(pl.col("application_date").min())
        .rename({"owner_code": "unit_code"})
    )


def fylkeskommune_candidates(
    register: pl.DataFrame,
    fylke_values: pl.DataFrame,
    config: Config,
    applications: pl.DataFrame,
    published: pl.DataFrame,
) -> pl.DataFrame:
    """The fylkeskommuner ranked by the holistic method on their own indicators (top N of its own), and
    whether each applied (``applications``: the year's fylkeskommune applications; ``published``: the
    ``published_figures`` table, which the drivers' years are counted on)."""
    county_config = replace(
        config, holistic=replace(config.holistic, top_n=config.holistic.fylkeskommune_top_n)
    )
    holistic = holistic_scores(fylke_values, county_config)
    counties = (
        register.filter(~pl.col("is_pseudo"))
        .select(pl.col("county_code").alias("unit_code"), "county_name", "statsforvalter")
        .unique("unit_code")
    )
    scored = counties.join(
        _holistic_columns(holistic.scores, county_config.holistic.top_n), on="unit_code", how="left"
    )
    return (
        _explained(
            scored,
            holistic.indicator_scores,
            published_years(published, "county", config),
            county_config,
            "county_name",
        )
        .join(_applied(applications), on="unit_code", how="left")
        .with_columns(pl.col("application_date").is_not_null().alias("applicant"))
        .rename({"unit_code": "county_code"})
        .select(COUNTY_COLUMNS)
        .sort(["holistic_rank", "county_code"], nulls_last=True)
    )


def with_county_applicants(candidates: pl.DataFrame, counties: pl.DataFrame) -> pl.DataFrame:
    """The kommune list with the fylkeskommuner that applied as rows of its own shape (owner number of
    two digits, name «… fylkeskommune»), so that they are reviewed and decided as applicant kommuner
    are. Only their holistic tier, statement and explanation are carried over: their probability and
    rank are among fylkeskommuner, not comparable with a kommune's, and the explanation states them."""
    applicants = counties.filter(pl.col("applicant")).select(
        pl.col("county_code").alias("municipality_code"),
        pl.format("{} fylkeskommune", "county_name").alias("municipality_name"),
        "county_code",
        "statsforvalter",
        "tier",
        "joint_statement",
        "explanation",
        "applicant",
        "application_date",
    )
    return pl.concat([candidates, applicants], how="diagonal_relaxed")
