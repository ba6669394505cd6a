"""Pupil-level data (``docs/pupil_data.md``): read and checked in DuckDB straight from the parquet files,
and aggregated to the figures the exports publish, for every unit, with exact standard errors."""
