"""From parsed rows to the validated ``observations`` table and the ``quarantine`` table."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from pipelines.pupils.aggregate import PupilFolder
from pipelines.pupils.combine import with_pupil_figures
from pipelines.reference.registers import PSEUDO_COUNTIES, Registers
from pipelines.tables import (
    OBSERVATION_SCHEMA,
    QUARANTINE_SCHEMA,
    STAGED_QUARANTINE_SCHEMA,
    quarantine_rows,
)
from pipelines.validate.schemas import (
    drop_duplicates,
    observation_schema,
    split_valid,
)


def schema_for(registers: Registers) -> pa.DataFrameSchema:
    known_municipalities = set(registers.municipalities["municipality_code"].to_list())
    known_counties = set(registers.counties["county_code"].to_list()) | set(PSEUDO_COUNTIES)
    return observation_schema(known_municipalities, known_counties)


def validate_observations(
    parsed: pl.DataFrame,
    parse_quarantine: pl.DataFrame,
    registers: Registers,
    pupils: PupilFolder | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Deduplicate and validate parsed rows, and the figures of pupil-level data where it covers a source
    and year (:func:`with_pupil_figures`); every row left out is in the quarantine with its reason."""
    rows = parsed.select(list(OBSERVATION_SCHEMA))
    pupil_quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if pupils is not None:
        rows = with_pupil_figures(rows, pupils.figures, registers)
        pupil_quarantine = pupils.quarantine
    kept, duplicates = drop_duplicates(rows)
    valid, invalid, _ = split_valid(kept, schema_for(registers))
    quarantine = pl.concat(
        [
            parse_quarantine.select(list(QUARANTINE_SCHEMA)).with_columns(pl.lit("parse").alias("stage")),
            pupil_quarantine.with_columns(pl.lit("pupils").alias("stage")),
            duplicates.with_columns(pl.lit("duplicate").alias("stage")),
            quarantine_rows(invalid, pl.col("reason")).with_columns(pl.lit("validate").alias("stage")),
        ]
    ).cast(STAGED_QUARANTINE_SCHEMA)
    return valid, quarantine.sort(["source_file", "source_line", "source_column"], nulls_last=True)
