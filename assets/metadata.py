"""Helpers that turn frames into Dagster metadata and results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl


def markdown_table(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` as a Markdown table for the Dagster UI."""
    head = frame.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += [
        "| " + " | ".join("" if value is None else str(value) for value in row) + " |"
        for row in head.iter_rows()
    ]
    return dg.MetadataValue.md("\n".join(lines))


def table(
    frame: pl.DataFrame, *, preview: pl.DataFrame | None = None, **metadata: Any
) -> dg.MaterializeResult:
    """A table for the warehouse, with a preview of its first rows and any other metadata."""
    shown = frame if preview is None else preview
    return dg.MaterializeResult(value=frame, metadata={"preview": markdown_table(shown), **metadata})


def files(paths: list[Path], root: Path, **metadata: Any) -> dg.MaterializeResult:
    """Files written outside the warehouse: where, how many, how large."""
    sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in paths}
    recorded: Mapping[str, Any] = {
        "folder": dg.MetadataValue.path(str(root)),
        "files": dg.MetadataValue.int(len(paths)),
        "bytes": dg.MetadataValue.int(sum(sizes.values())),
        "sizes": dg.MetadataValue.json(dict(sorted(sizes.items())[:40])),
    }
    return dg.MaterializeResult(metadata={**recorded, **metadata})


def outs(specs: list[dg.AssetSpec]) -> dict[str, dg.AssetOut]:
    """A multi-asset's outputs from its specs: for tables that one computation gives together."""
    return {spec.key.to_python_identifier(): dg.AssetOut.from_spec(spec) for spec in specs}


TABLE_KINDS = {"polars", "duckdb"}
# The IO manager refuses to replace a table with an empty frame unless its asset says it may be empty.
MAY_BE_EMPTY = {"allow_empty": True}


def table_spec(key: str, group: str, description: str, *, may_be_empty: bool = False) -> dg.AssetSpec:
    """The spec of one warehouse table that a multi-asset writes."""
    return dg.AssetSpec(
        key,
        group_name=group,
        description=description,
        kinds=TABLE_KINDS,
        metadata=MAY_BE_EMPTY if may_be_empty else None,
    )
