"""Helpers that turn frames into Dagster metadata."""

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
