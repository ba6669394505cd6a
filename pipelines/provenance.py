"""Provenance recorded with every output: input hashes, configuration, code version. No timestamps,
so that the same inputs and configuration give byte-identical outputs."""

from __future__ import annotations

import hashlib
import json

import polars as pl

from pipelines import settings


def provenance_frame(raw_files: pl.DataFrame, configuration_json: str) -> pl.DataFrame:
    return raw_files.select("source_file", "sha256", "bytes").with_columns(
        pl.lit(configuration_json).alias("configuration"),
        pl.lit(settings.code_version()).alias("code_version"),
    )


def provenance_line(raw_files: pl.DataFrame) -> str:
    """One line for a person: the code version and a fingerprint of every input file's hash."""
    digest = hashlib.sha256()
    for source_file, sha256 in raw_files.select("source_file", "sha256").sort("source_file").iter_rows():
        digest.update(f"{source_file}:{sha256}\n".encode())
    return (
        f"kodeversjon {settings.code_version()}, {raw_files.height} inndatafiler "
        f"(fingeravtrykk {digest.hexdigest()[:16]})"
    )


def provenance_document(raw_files: pl.DataFrame, configuration: dict[str, object]) -> str:
    """A JSON sidecar for files written outside the warehouse (CSV, parquet, reports)."""
    return json.dumps(
        {
            "inputs": raw_files.select("source_file", "sha256").sort("source_file").to_dicts(),
            "configuration": configuration,
            "code_version": settings.code_version(),
        },
        indent=2,
        sort_keys=True,
        ensure_ascii=False,
    )
