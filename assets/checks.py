"""Blocking asset checks: failures show counts and sample rows in the Dagster UI."""

from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from assets.metadata import markdown_table
from pipelines.resources import UtvalgSettings
from pipelines.tables import FIGURE_KEY, HARMONISED_KEY
from pipelines.validate.observations import schema_for
from pipelines.validate.tables import harmonised_schema

if TYPE_CHECKING:
    import pandera.polars as pa


def _schema_check(frame: pl.DataFrame, schema: "pa.DataFrameSchema") -> dg.AssetCheckResult:
    import pandera.polars as pa  # with the check, not the module: pandera brings pandas

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        by_check = cases.group_by("column", "check").len().sort("len", descending=True)
        return dg.AssetCheckResult(
            passed=False,
            metadata={
                "failures": cases.height,
                "by_check": markdown_table(by_check, 20),
                "sample_failures": markdown_table(cases, 20),
            },
        )
    return dg.AssetCheckResult(passed=True, metadata={"rows_checked": frame.height})


@dg.asset_check(asset="observations", blocking=True)
def observations_match_schema(utvalg: UtvalgSettings, observations: pl.DataFrame) -> dg.AssetCheckResult:
    """The stored observations pass the pandera schema (types, ranges, codes, unique key)."""
    return _schema_check(observations, schema_for(utvalg.registers))


@dg.asset_check(asset="observations", blocking=True, additional_ins={"quarantine": dg.AssetIn()})
def quarantine_within_limit(
    utvalg: UtvalgSettings, observations: pl.DataFrame, quarantine: pl.DataFrame
) -> dg.AssetCheckResult:
    """At most ``max_quarantine_share`` of all rows are quarantined; more means a broken export."""
    total = observations.height + quarantine.height
    share = quarantine.height / total if total else 0.0
    return dg.AssetCheckResult(
        passed=share <= utvalg.max_quarantine_share,
        metadata={
            "quarantined": quarantine.height,
            "share": round(share, 5),
            "limit": utvalg.max_quarantine_share,
            "by_reason": markdown_table(
                quarantine.group_by("stage", "reason").len().sort("len", descending=True), 20
            ),
            "sample": markdown_table(quarantine, 20),
        },
    )


@dg.asset_check(asset="harmonised_observations", blocking=True)
def harmonised_match_schema(
    utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame
) -> dg.AssetCheckResult:
    """Harmonised rows use only target-structure kommune codes, valid ranges and a unique key."""
    registers = utvalg.registers
    target_codes = registers.codes(utvalg.structure)
    return _schema_check(harmonised_observations, harmonised_schema(target_codes))


@dg.asset_check(asset="harmonised_observations", blocking=True)
def no_figure_counted_twice(harmonised_observations: pl.DataFrame) -> dg.AssetCheckResult:
    """No published row feeds two kommune figures unless the kommune was split (inherited)."""
    used = (
        harmonised_observations.filter(
            (pl.col("level") == "municipality") & (pl.col("lineage") != "inherited")
        )
        .select("unit_code", *FIGURE_KEY, pl.col("lineage_rows").str.split("; ").alias("row"))
        .explode("row")
    )
    # A published line holds several cells; the cell is the line plus the key.
    repeated = used.filter(pl.struct("row", *FIGURE_KEY).is_duplicated()).sort("row")
    duplicate_keys = harmonised_observations.filter(pl.struct(list(HARMONISED_KEY)).is_duplicated())
    return dg.AssetCheckResult(
        passed=repeated.is_empty() and duplicate_keys.is_empty(),
        metadata={
            "rows_used_twice": repeated.height,
            "duplicate_keys": duplicate_keys.height,
            "sample": markdown_table(repeated, 20),
        },
    )
