"""Small tables the outputs look things up in, derived once from the harmonised observations."""

from __future__ import annotations

import polars as pl


def break_notes(harmonised: pl.DataFrame) -> pl.DataFrame:
    """Udir's notes on breaks in the series, once per source × school year × note."""
    return (
        harmonised.filter(pl.col("break_note").is_not_null())
        .select("source", "school_year", pl.col("break_note").str.split(" | ").alias("note"))
        .explode("note")
        .unique()
        .sort("source", "school_year", "note")
    )
