"""Raw export files: find them under the raw folder, hash them, and parse each into observations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.ingest.completeness import check_columns, check_units
from pipelines.ingest.observations import to_observations
from pipelines.ingest.portal_format import parse_export
from pipelines.ingest.skoleporten import is_skoleporten, read_skoleporten
from pipelines.ingest.sources import detect_source, mapping_for
from pipelines.pupils.read import PUPIL_FOLDER
from pipelines.reference.registers import Registers

EXPORT_SUFFIXES = {".csv", ".xlsx", ".txt"}
# The synthetic sample's answer key sits beside its exports; the pipeline must never read it.
TRUTH_FILE = "truth.csv"
# The synthetic sample's other files beside its exports: Udir's list of past cohorts (read by `utvalg
# scheme import`, never as an export) and two more answer keys.
COHORTS_FILE = "ordningen_kohorter.csv"
SELECTION_TRUTH_FILE = "truth_selection.csv"
SUPPORT_TRUTH_FILE = "truth_support.csv"
NOT_EXPORTS = {TRUTH_FILE, COHORTS_FILE, SELECTION_TRUTH_FILE, SUPPORT_TRUTH_FILE}


@dataclass(frozen=True)
class ParsedFile:
    source_file: str
    sha256: str
    source: str
    encoding: str
    observations: pl.DataFrame
    quarantine: pl.DataFrame


def find_raw_files(raw_dir: Path) -> list[Path]:
    """Every export under ``raw_dir`` (recursively), in a stable order; the pupil-level data under
    ``elevdata/`` is not an export (:mod:`pipelines.pupils`)."""
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw folder {raw_dir} does not exist; pass --raw DIR or set UTVALG_RAW")
    return sorted(
        path
        for path in raw_dir.rglob("*")
        if path.is_file()
        and path.suffix.lower() in EXPORT_SUFFIXES
        and not path.name.startswith(".")
        and path.relative_to(raw_dir).as_posix() not in NOT_EXPORTS
        and path.relative_to(raw_dir).parts[0] != PUPIL_FOLDER
    )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_raw_file(data: bytes, source_file: str, registers: Registers) -> ParsedFile:
    """Parse one raw file's bytes; raises ExportFormatError when the file cannot be read."""
    digest = sha256_of(data)
    if is_skoleporten(data):
        observations, quarantine = read_skoleporten(data, source_file)
        source = "skoleporten"
        encoding = "utf-8-sig"
    else:
        export = parse_export(data, source_file)
        source = detect_source(export)
        check_columns(export, mapping_for(source))
        check_units(export, registers)
        observations, quarantine = to_observations(export, source, registers)
        encoding = export.encoding
    return ParsedFile(source_file, digest, source, encoding, observations, quarantine)
