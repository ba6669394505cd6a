"""Inputs the published outputs share, derived once from the warehouse tables."""

from __future__ import annotations

import polars as pl

from pipelines.config import Config
from pipelines.indicators.build import indicator_values


def break_notes(harmonised: pl.DataFrame) -> pl.DataFrame:
    """Udir's notes on breaks in the series, once per source × school year × note."""
    return (
        harmonised.filter(pl.col("break_note").is_not_null())
        .select("source", "school_year", pl.col("break_note").str.split(" | ").alias("note"))
        .explode("note")
        .unique()
        .sort("source", "school_year", "note")
    )


def county_levels(harmonised: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The kommune indicators at fylke level, for profiles."""
    return indicator_values(harmonised, config, "kommune", ("county",))
