"""What produced the warehouse: input file hashes, configuration and code version."""

import dagster as dg
import polars as pl

from assets.metadata import table
from pipelines.provenance import input_files, provenance_frame
from pipelines.resources import UtvalgSettings


@dg.asset(group_name="raw", kinds={"polars", "duckdb"})
def provenance(
    utvalg: UtvalgSettings, raw_files: pl.DataFrame, pupil_files: pl.DataFrame
) -> dg.MaterializeResult:
    """One row per input file (exports and pupil-level files) with its SHA-256, beside the run's
    configuration and code version."""
    return table(provenance_frame(input_files(raw_files, pupil_files), utvalg.as_json()))
