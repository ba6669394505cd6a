"""Parse a raw folder into observations, reusing earlier results for files whose hash is unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.ingest.completeness import check_against_other_years
from pipelines.ingest.files import find_raw_files, parse_raw_file, sha256_of
from pipelines.reference.registers import Registers
from pipelines.tables import OBSERVATION_SCHEMA, QUARANTINE_SCHEMA

PARSED_SCHEMA = pl.Schema({**OBSERVATION_SCHEMA, "sha256": pl.String()})
PARSE_QUARANTINE_SCHEMA = pl.Schema({**QUARANTINE_SCHEMA, "sha256": pl.String()})
FILE_SUMMARY_SCHEMA = pl.Schema(
    {
        "source_file": pl.String(),
        "sha256": pl.String(),
        "bytes": pl.Int64(),
        "source": pl.String(),
        "encoding": pl.String(),
    }
)


@dataclass(frozen=True)
class ParsedFolder:
    observations: pl.DataFrame  # observations as published, with the file's sha256
    quarantine: pl.DataFrame  # cells and lines the parser could not use, with the file's sha256
    files: pl.DataFrame  # one row per file: path, hash, size, source, encoding
    parsed: list[str]  # files parsed in this call
    reused: list[str]  # files whose earlier results were kept (hash unchanged)


def parse_folder(
    raw_dir: Path,
    registers: Registers,
    previous: ParsedFolder | None = None,
    progress: bool = False,
) -> ParsedFolder:
    """Parse every export under ``raw_dir``; files with an unchanged hash reuse ``previous``."""
    paths = find_raw_files(raw_dir)
    known: dict[tuple[str, str], dict[str, object]] = {}
    if previous is not None:
        for row in previous.files.iter_rows(named=True):
            known[(row["source_file"], row["sha256"])] = row
    observations, quarantine, files = [], [], []
    parsed, reused = [], []
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="parsing exports", unit="file")
    for path in iterator:
        name = path.relative_to(raw_dir).as_posix()
        data = path.read_bytes()
        digest = sha256_of(data)
        if previous is not None and (name, digest) in known:
            files.append(known[(name, digest)])
            reused.append(name)
            continue
        result = parse_raw_file(data, name, registers)
        observations.append(result.observations.with_columns(pl.lit(digest).alias("sha256")))
        quarantine.append(result.quarantine.with_columns(pl.lit(digest).alias("sha256")))
        files.append(
            {
                "source_file": name,
                "sha256": digest,
                "bytes": len(data),
                "source": result.source,
                "encoding": result.encoding,
            }
        )
        parsed.append(name)
    if previous is not None and reused:
        keep = pl.col("source_file").is_in(reused)
        observations.append(previous.observations.filter(keep))
        quarantine.append(previous.quarantine.filter(keep))
    order = ["source_file", "source_line", "source_column"]
    folder = ParsedFolder(
        observations=pl.concat(
            [frame.cast(PARSED_SCHEMA) for frame in observations] or [pl.DataFrame(schema=PARSED_SCHEMA)]
        ).sort(order),
        quarantine=pl.concat(
            [frame.cast(PARSE_QUARANTINE_SCHEMA) for frame in quarantine]
            or [pl.DataFrame(schema=PARSE_QUARANTINE_SCHEMA)]
        ).sort(order, nulls_last=True),
        files=pl.DataFrame(files, schema=FILE_SUMMARY_SCHEMA).sort("source_file"),
        parsed=parsed,
        reused=reused,
    )
    # A file cut inside its last unit's schools is whole line by line; the other years' files of its
    # report show what is missing. Checked on every file, reused ones too: a new year's file is new
    # evidence about the old ones.
    check_against_other_years(folder.observations, folder.quarantine, folder.files)
    return folder
