"""Privacy by construction for everything published.

1. Primary suppression: a figure from fewer pupils than ``minimum_pupils`` (or one Udir suppressed, or
   one without a known pupil count) is not shown.
2. Complementary suppression: where a kommune's figure is shown beside its schools', a single hidden
   school could be recovered by subtraction (kommune total minus the other schools). In every group
   (kommune × indicator × year) with exactly one hidden school, the smallest shown school is hidden too;
   repeated until no group has exactly one hidden member.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config


def primary_suppression(frame: pl.DataFrame, minimum: int, value_columns: list[str]) -> pl.DataFrame:
    """Hide ``value_columns`` where ``n`` is below ``minimum`` or unknown; adds ``hidden``."""
    hidden = pl.col("n").is_null() | (pl.col("n") < minimum) | pl.col("value").is_null()
    return frame.with_columns(hidden.alias("hidden")).with_columns(
        [pl.when(pl.col("hidden")).then(None).otherwise(pl.col(c)).alias(c) for c in value_columns]
    )


def complementary_suppression(
    schools: pl.DataFrame, group: list[str], value_columns: list[str]
) -> pl.DataFrame:
    """Hide one more school in every group where exactly one is hidden (see the module docstring)."""
    frame = schools.with_row_index("_row")
    while True:
        counts = frame.group_by(group).agg(
            pl.col("hidden").sum().alias("_hidden"), pl.len().alias("_members")
        )
        exposed = counts.filter((pl.col("_hidden") == 1) & (pl.col("_members") > 1))
        if exposed.is_empty():
            break
        victims = (
            frame.join(exposed.select(group), on=group, how="inner")
            .filter(~pl.col("hidden"))
            .sort(["n", "_row"])
            .group_by(group, maintain_order=True)
            .first()
            .select("_row")
        )
        frame = frame.with_columns(
            (pl.col("hidden") | pl.col("_row").is_in(victims["_row"].implode())).alias("hidden")
        )
    return frame.with_columns(
        [pl.when(pl.col("hidden")).then(None).otherwise(pl.col(c)).alias(c) for c in value_columns]
    ).drop("_row")


def school_figures(school_values: pl.DataFrame, names: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Schools' figures as published: both suppressions (within kommune × indicator × year), the
    school's name and the indicator's label. Unsorted: each output keeps its own order."""
    labels = {i.id: i.label for i in config.indicators}
    shown = primary_suppression(school_values, config.selection.minimum_pupils, ["value"])
    shown = complementary_suppression(shown, ["municipality_code", "indicator_id", "school_year"], ["value"])
    return shown.join(names, on="unit_code", how="left").with_columns(
        pl.col("indicator_id").replace_strict(labels, default=None).alias("label")
    )
