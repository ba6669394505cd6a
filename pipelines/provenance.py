"""Provenance recorded with every output: input hashes, configuration, code version. No timestamps,
so that the same inputs and configuration give byte-identical outputs, and no folder of the machine that
ran it (outputs travel): input files are named relative to the raw folder."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipelines import settings

INPUT_COLUMNS = ("source_file", "sha256", "bytes")
INPUT_SCHEMA = pl.Schema({"source_file": pl.String, "sha256": pl.String, "bytes": pl.Int64})


def hashed_files(paths: Sequence[Path], root: Path) -> pl.DataFrame:
    """Each file's path relative to ``root``, SHA-256 and size, read in chunks (a pupil-level dataset
    may be larger than memory)."""
    rows = []
    for path in sorted(paths):
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        rows.append((path.relative_to(root).as_posix(), digest, path.stat().st_size))
    return pl.DataFrame(rows, schema=INPUT_SCHEMA, orient="row")


def input_files(*tables: pl.DataFrame) -> pl.DataFrame:
    """Every input file the run read, from the tables that list them (the exports, the pupil-level
    files): what provenance names and the run id hashes."""
    return pl.concat([t.select(INPUT_COLUMNS).cast(INPUT_SCHEMA) for t in tables]).sort("source_file")


def provenance_frame(raw_files: pl.DataFrame, configuration_json: str) -> pl.DataFrame:
    return raw_files.select("source_file", "sha256", "bytes").with_columns(
        pl.lit(configuration_json).alias("configuration"),
        pl.lit(settings.code_version()).alias("code_version"),
    )


def frames_fingerprint(*frames: pl.DataFrame) -> str:
    """A SHA-256 of frames' content (columns, types and rows in a fixed order): what the run read from
    the register, so that a run can be reproduced given the same records."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(repr(frame.schema).encode())
        ordered = frame.sort(frame.columns) if frame.width else frame
        digest.update(ordered.write_csv().encode())
    return digest.hexdigest()


def provenance_line(raw_files: pl.DataFrame, missing_data: str = "") -> str:
    """One line for a person: the code version and a fingerprint of every input file's hash, and what
    data the selection lacked (``missing_data``, in bokmål) when it ran on the data there was."""
    digest = hashlib.sha256()
    for source_file, sha256 in raw_files.select("source_file", "sha256").sort("source_file").iter_rows():
        digest.update(f"{source_file}:{sha256}\n".encode())
    line = (
        f"kodeversjon {settings.code_version()}, {raw_files.height} inndatafiler "
        f"(fingeravtrykk {digest.hexdigest()[:16]})"
    )
    return f"{line}; {missing_data}" if missing_data else line


def provenance_id(document: str) -> str:
    """The run's id: a hash of its provenance document (inputs, configuration, code version), so the same
    inputs and configuration give the same id, and the workbooks can be traced to the published run."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]


def provenance_document(
    raw_files: pl.DataFrame,
    configuration: dict[str, object],
    missing_data: Sequence[tuple[str, list[str], list[str]]] | None = None,
    sources_without_files: Sequence[str] = (),
    register: str | None = None,
) -> str:
    """A JSON sidecar for files written outside the warehouse (CSV, parquet, reports).

    ``missing_data``: for a selection, the (source, school years, indicators) it had no figures for;
    empty when it had them all. ``sources_without_files``: of those, the sources the raw folder had no
    file of at all. ``register``: the fingerprint of what the run read from the register.
    """
    document: dict[str, object] = {
        "inputs": raw_files.select("source_file", "sha256").sort("source_file").to_dicts(),
        "configuration": configuration,
        "code_version": settings.code_version(),
    }
    if missing_data is not None:
        document["missing_data"] = [
            {"source": source, "school_years": years, "indicators": ids}
            for source, years, ids in missing_data
        ]
        document["sources_without_files"] = list(sources_without_files)
    if register is not None:
        document["register"] = register
    return json.dumps(
        document,
        indent=2,
        sort_keys=True,
        ensure_ascii=False,
    )
