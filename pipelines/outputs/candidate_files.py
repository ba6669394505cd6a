"""The candidate lists as files: CSV for people, parquet for tools, with a provenance record.

Floats are rounded so that the files are byte-identical for the same inputs and configuration.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from pipelines.storage.files import write_atomically

DECIMALS = 4


def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).round(DECIMALS))


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, statistics=False)
    return buffer.getvalue()


def write_candidate_files(
    candidates: pl.DataFrame,
    county_candidates: pl.DataFrame,
    published: pl.DataFrame,
    out_dir: Path,
    provenance_json: str,
    notes: dict[str, str],
) -> list[Path]:
    """``candidates.csv``/``.parquet`` (kommuner), ``fylkeskommuner.csv``/``.parquet``,
    ``published_figures.csv`` (every figure with a pupil count the outputs show, as protected),
    provenance. The candidate lists are selection results on the full data, not figures with pupil
    counts: they do not go through privacy protection.

    ``notes`` (``candidates``, ``fylkeskommuner``): what the list's data lacked, in bokmål, written on
    every row of its ``data_note`` column (empty when the data were complete), so that a list read on its
    own says it."""
    written = []
    path = out_dir / "published_figures.csv"
    write_atomically(path, _rounded(published).write_csv().encode("utf-8"))
    written.append(path)
    for stem, frame in (("candidates", candidates), ("fylkeskommuner", county_candidates)):
        note = notes.get(stem) or None
        rounded = _rounded(frame).with_columns(pl.lit(note, pl.String).alias("data_note"))
        for suffix, data in (
            (".csv", rounded.write_csv().encode("utf-8")),
            (".parquet", _parquet_bytes(rounded)),
        ):
            path = out_dir / f"{stem}{suffix}"
            write_atomically(path, data)
            written.append(path)
    path = out_dir / "provenance.json"
    write_atomically(path, provenance_json.encode("utf-8"))
    written.append(path)
    return written
