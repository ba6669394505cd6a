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


def recoverable_cells(kommune_n: pl.DataFrame, schools: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Groups where exactly one school is hidden while the others are shown: must be empty."""
    return (
        schools.group_by(group)
        .agg(pl.col("hidden").sum().alias("hidden_schools"), pl.len().alias("schools"))
        .filter((pl.col("hidden_schools") == 1) & (pl.col("schools") > 1))
        .join(kommune_n, on=group, how="inner")
    )
