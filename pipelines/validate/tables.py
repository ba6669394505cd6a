"""pandera schemas for the tables other than observations: registers, mappings, raw files, quarantine,
and the harmonised observations."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from pipelines.tables import (
    HARMONISED_KEY,
    HARMONISED_SCHEMA,
    LINEAGE_KINDS,
    MEASURE_RANGES,
    QUARANTINE_STAGES,
    SCHOOL_YEAR_PATTERN,
)
from pipelines.validate.schemas import value_in_range_check
from pipelines.vocabulary import LEVELS, SOURCES

if TYPE_CHECKING:
    import pandera.polars as pa


class LazySchema:
    """A pandera schema built when it is first used: pandera brings pandas with it, seconds of imports
    that a run which validates nothing (every step reused) should not pay."""

    def __init__(self, build: Callable[[], pa.DataFrameSchema]) -> None:
        self._build = build

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return self._build()

    def validate(self, frame: pl.DataFrame) -> pl.DataFrame:
        return self.schema.validate(frame)


def _municipality_register() -> pa.DataFrameSchema:
    import pandera.polars as pa

    return pa.DataFrameSchema(
        {
            "municipality_code": pa.Column(pl.String, pa.Check.str_matches(r"^\d{4}$"), unique=True),
            "municipality_name": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
            "county_code": pa.Column(pl.String, pa.Check.str_matches(r"^\d{2}$")),
            "is_pseudo": pa.Column(pl.Boolean),
            "county_name": pa.Column(pl.String),
            "statsforvalter": pa.Column(pl.String, nullable=True),
        },
        strict=True,
        name="kommune_register",
    )


MUNICIPALITY_REGISTER = LazySchema(_municipality_register)


def _mapping() -> pa.DataFrameSchema:
    import pandera.polars as pa

    return pa.DataFrameSchema(
        {
            "source_structure": pa.Column(pl.Int32, pa.Check.isin([2013, 2017, 2018, 2019, 2020, 2024])),
            "source_code": pa.Column(pl.String, pa.Check.str_matches(r"^\d{2}(\d{2})?$")),
            "target_code": pa.Column(pl.String, pa.Check.str_matches(r"^\d{2}(\d{2})?$")),
            "kind": pa.Column(pl.String, pa.Check.isin(["unchanged", "recode", "merge", "split"])),
            "weight": pa.Column(pl.Float64, pa.Check.in_range(0, 1, include_min=False)),
        },
        strict=True,
        unique=["source_structure", "source_code", "target_code"],
        name="mapping",
    )


MAPPING = LazySchema(_mapping)


def _raw_files() -> pa.DataFrameSchema:
    import pandera.polars as pa

    return pa.DataFrameSchema(
        {
            "source_file": pa.Column(pl.String, unique=True),
            "sha256": pa.Column(pl.String, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
            "bytes": pa.Column(pl.Int64, pa.Check.gt(0)),
            "source": pa.Column(pl.String, pa.Check.isin([*SOURCES, "skoleporten"])),
            "encoding": pa.Column(pl.String),
        },
        strict=True,
        name="raw_files",
    )


RAW_FILES = LazySchema(_raw_files)


def _quarantine() -> pa.DataFrameSchema:
    import pandera.polars as pa

    return pa.DataFrameSchema(
        {
            "source": pa.Column(pl.String),
            "source_file": pa.Column(pl.String),
            "source_line": pa.Column(pl.Int64, nullable=True),
            "source_column": pa.Column(pl.String, nullable=True),
            "raw_value": pa.Column(pl.String, nullable=True),
            "reason": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
            "figure": pa.Column(pl.String, nullable=True),
            "stage": pa.Column(pl.String, pa.Check.isin(list(QUARANTINE_STAGES))),
        },
        strict=True,
        name="quarantine",
    )


QUARANTINE = LazySchema(_quarantine)


def harmonised_schema(target_municipalities: set[str]) -> pa.DataFrameSchema:
    import pandera.polars as pa

    columns = {name: pa.Column(dtype, nullable=True) for name, dtype in HARMONISED_SCHEMA.items()}
    columns.update(
        source=pa.Column(pl.String, pa.Check.isin(SOURCES)),
        school_year=pa.Column(pl.String, pa.Check.str_matches(SCHOOL_YEAR_PATTERN)),
        level=pa.Column(pl.String, pa.Check.isin(LEVELS)),
        unit_code=pa.Column(pl.String),
        measure=pa.Column(pl.String, pa.Check.isin(list(MEASURE_RANGES))),
        municipality_code=pa.Column(pl.String, pa.Check.isin(sorted(target_municipalities)), nullable=True),
        n=pa.Column(pl.Int64, pa.Check.ge(0), nullable=True),
        suppressed=pa.Column(pl.Boolean),
        is_pseudo=pa.Column(pl.Boolean),
        lineage=pa.Column(pl.String, pa.Check.isin(list(LINEAGE_KINDS))),
        lineage_rows=pa.Column(pl.String, pa.Check.str_length(min_value=3)),
    )
    return pa.DataFrameSchema(
        columns,
        checks=[pa.Check(value_in_range_check, name="value_in_range")],
        strict=True,
        unique=list(HARMONISED_KEY),
        name="harmonised_observations",
    )
