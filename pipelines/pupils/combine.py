"""Pupil figures beside the exports: for every source and school year the pupil-level data covers, its
figures replace the published ones (which are rounded, suppressed and lack some units); the exports
serve every other year."""

from __future__ import annotations

import polars as pl

from pipelines.reference.registers import Registers, nominal_structure_of
from pipelines.tables import OBSERVATION_SCHEMA


def with_pupil_figures(exports: pl.DataFrame, pupils: pl.DataFrame, registers: Registers) -> pl.DataFrame:
    """``exports`` without the (source, school year)s in ``pupils``, and ``pupils`` with unit names.

    Pupil data carries codes, not names: a unit is named as the exports name it (its newest name
    there), else from the register of the year's structure, else by its code.
    """
    covered = pupils.select("source", "school_year").unique()
    kept = exports.join(covered, on=["source", "school_year"], how="anti")
    published_names = (
        exports.filter(pl.col("unit_name").is_not_null())
        .sort("school_year")
        .group_by("level", "unit_code")
        .agg(pl.col("unit_name").last().alias("published_name"))
    )
    kommuner = registers.municipalities.select(
        "structure",
        pl.lit("municipality").alias("level"),
        pl.col("municipality_code").alias("unit_code"),
        pl.col("municipality_name").alias("register_name"),
    )
    fylker = registers.counties.select(
        "structure",
        pl.lit("county").alias("level"),
        pl.col("county_code").alias("unit_code"),
        pl.col("county_name").alias("register_name"),
    )
    named = (
        pupils.with_columns(nominal_structure_of(pl.col("school_year")).alias("structure"))
        .join(published_names, on=["level", "unit_code"], how="left")
        .join(pl.concat([kommuner, fylker]), on=["structure", "level", "unit_code"], how="left")
        .with_columns(pl.coalesce("published_name", "register_name", "unit_code").alias("unit_name"))
    )
    return pl.concat([kept.select(list(OBSERVATION_SCHEMA)), named.select(list(OBSERVATION_SCHEMA))]).cast(
        OBSERVATION_SCHEMA
    )
