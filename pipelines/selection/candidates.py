"""The whole selection for one school year: Udir's rule and the holistic method side by side, the
sensitivity analysis, explanations, and the candidate lists for kommuner and fylkeskommuner."""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from pipelines.config import Config
from pipelines.indicators.build import indicator_values
from pipelines.selection.explain import drivers, sentence
from pipelines.selection.holistic import HolisticResult, holistic_scores
from pipelines.selection.sensitivity import sensitivity, summarise
from pipelines.selection.udir_rule import udir_selection

HOLISTIC_COLUMNS = [
    "holistic_score",
    "holistic_score_sd",
    "holistic_rank",
    "p_top_n",
    "rank_low",
    "rank_high",
    "tier",
    "persistence",
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
    "udir_category",
    *HOLISTIC_COLUMNS,
    "sensitivity_selected_share",
    "sensitivity_deciding_choices",
    "drivers",
    "explanation",
]
COUNTY_COLUMNS = [
    "county_code",
    "county_name",
    "statsforvalter",
    *HOLISTIC_COLUMNS,
    "drivers",
    "explanation",
]


@dataclass(frozen=True)
class SelectionResult:
    school_year: str
    window: list[str]
    municipal_values: pl.DataFrame
    school_values: pl.DataFrame
    county_values: pl.DataFrame
    udir: pl.DataFrame
    holistic: HolisticResult
    county_holistic: HolisticResult
    sensitivity_runs: pl.DataFrame
    sensitivity: pl.DataFrame
    candidates: pl.DataFrame
    county_candidates: pl.DataFrame


def _values(harmonised: pl.DataFrame, config: Config) -> tuple[pl.DataFrame, pl.DataFrame]:
    kommune = indicator_values(harmonised, config, "kommune", ("municipality",))
    schools = indicator_values(harmonised, config, "kommune", ("school",))
    return kommune, schools


def _explained(
    scores: pl.DataFrame, holistic: HolisticResult, config: Config, name_column: str
) -> pl.DataFrame:
    top_n = config.holistic.top_n
    frame = scores.join(drivers(holistic.indicator_scores, config), on="unit_code", how="left")
    explanations = [
        sentence(
            row[name_column],
            row["tier"],
            row["p_top_n"],
            row["rank_low"],
            row["rank_high"],
            top_n,
            row["drivers"],
            row.get("udir_category"),
        )
        if row["tier"] is not None
        else f"{row[name_column]} har for få tall i perioden til å bli vurdert."
        for row in frame.iter_rows(named=True)
    ]
    # The sentence names the drivers; the column gives their numbers (pooled score in SD, years worse).
    return frame.with_columns(
        pl.Series("explanation", explanations, dtype=pl.String), pl.col("driver_numbers").alias("drivers")
    )


def _holistic_columns(holistic: HolisticResult) -> pl.DataFrame:
    """The holistic method's columns as the candidate lists name them."""
    return holistic.scores.with_columns(
        pl.col("composite").alias("holistic_score"),
        pl.col("composite_var").sqrt().alias("holistic_score_sd"),
    ).select("unit_code", *HOLISTIC_COLUMNS)


def run_selection(harmonised: pl.DataFrame, register: pl.DataFrame, config: Config) -> SelectionResult:
    """Everything the candidate lists need, from harmonised observations and the target register."""
    municipal, schools = _values(harmonised, config)
    counties = indicator_values(harmonised, config, "fylkeskommune", ("county",))
    udir = udir_selection(municipal, schools, config)
    holistic = holistic_scores(municipal, config, school_values=schools)
    county_config = replace(
        config, holistic=replace(config.holistic, top_n=config.holistic.fylkeskommune_top_n)
    )
    county_holistic = holistic_scores(counties, county_config)
    runs = sensitivity(municipal, schools, config, lambda variant: _values(harmonised, variant))
    summary = summarise(runs)

    kommuner = register.filter(~pl.col("is_pseudo")).select(
        pl.col("municipality_code").alias("unit_code"), "municipality_name", "county_code", "statsforvalter"
    )
    holistic_summary = summary.filter(pl.col("method") == "holistisk").select(
        "unit_code",
        pl.col("selected_share").alias("sensitivity_selected_share"),
        pl.col("deciding_choices").alias("sensitivity_deciding_choices"),
    )
    merged = (
        kommuner.join(
            udir.select(
                "unit_code",
                pl.col("risk_share").alias("udir_risk_share"),
                pl.col("risk_points").alias("udir_risk_points"),
                pl.col("possible_points").alias("udir_possible_points"),
                "udir_rank",
                "udir_category",
            ),
            on="unit_code",
            how="left",
        )
        .join(
            _holistic_columns(holistic),
            on="unit_code",
            how="left",
        )
        .join(holistic_summary, on="unit_code", how="left")
    )
    candidates = (
        _explained(merged, holistic, config, "municipality_name")
        .rename({"unit_code": "municipality_code"})
        .select(CANDIDATE_COLUMNS)
        .sort(["holistic_rank", "municipality_code"], nulls_last=True)
    )

    county_register = (
        register.filter(~pl.col("is_pseudo"))
        .select(pl.col("county_code").alias("unit_code"), "county_name", "statsforvalter")
        .unique("unit_code")
    )
    county_scores = county_register.join(
        _holistic_columns(county_holistic),
        on="unit_code",
        how="left",
    )
    county_candidates = (
        _explained(county_scores, county_holistic, county_config, "county_name")
        .rename({"unit_code": "county_code"})
        .select(COUNTY_COLUMNS)
        .sort(["holistic_rank", "county_code"], nulls_last=True)
    )
    return SelectionResult(
        school_year=config.selection.school_year,
        window=config.window(),
        municipal_values=municipal,
        school_values=schools,
        county_values=counties,
        udir=udir,
        holistic=holistic,
        county_holistic=county_holistic,
        sensitivity_runs=runs,
        sensitivity=summary,
        candidates=candidates,
        county_candidates=county_candidates,
    )
