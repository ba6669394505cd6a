"""Read the published snapshot (never the pipeline's live warehouse): for notebooks and other tools.

Each call opens the snapshot read-only and closes it at once, so no lock is held while the pipeline
publishes the next snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pipelines import settings
from pipelines.storage.warehouse import Warehouse


def snapshot_path() -> Path:
    return Path(os.environ.get("UTVALG_SNAPSHOT", settings.warehouse_path().with_name("snapshot.duckdb")))


def read(table: str, path: Path | None = None) -> pl.DataFrame:
    """One table of the snapshot as a polars frame."""
    snapshot = path or snapshot_path()
    if not snapshot.exists():
        raise FileNotFoundError(
            f"no published snapshot at {snapshot}: run `make run` (or `utvalg run`) first"
        )
    return Warehouse(snapshot).read(table)


def tables(path: Path | None = None) -> list[str]:
    return Warehouse(path or snapshot_path()).tables()
