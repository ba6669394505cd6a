"""Importing returned review workbooks into the register, and reading the reviews back.

Every accepted workbook is one append to the register's ``reviews`` table (:mod:`pipelines.register`):
its file name and SHA-256, office, run id, school year, and every listed kommune with every review value,
answered or not. A file with a hash already recorded is not imported again ("already imported"); a
changed file from the same office is a new version beside the old, never over it. A workbook is refused
whole (:class:`pipelines.review.read.ReviewError`); of several files the good ones are imported.

Two versions conflict when a kommune's answers differ between the latest two versions from one office
(for the same school year): :func:`review_conflicts` lists them, field by field, so that Udir can ask the
office which one it means. :func:`latest_reviews` takes the latest version: what later steps use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.register.store import VERSION, Register
from pipelines.review.read import (
    REVIEW_SCHEMA,
    REVIEW_VALUES,
    PublishedRun,
    ReviewError,
    published_run,
    review_rows,
)
from pipelines.vocabulary import REVIEW_FIELDS

REVIEWS = "reviews"
KEY = ("school_year", "office", "municipality_code")


@dataclass
class ImportReport:
    """What one import did, file by file."""

    imported: list[tuple[str, str, int, int]] = field(default_factory=list)  # file, office, kommuner, version
    already: list[tuple[str, str, int]] = field(
        default_factory=list
    )  # file, the file first imported, version
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    conflicts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())

    def lines(self) -> list[str]:
        """The report as a person reads it, one line per file and per conflicting answer."""
        lines = [f"imported {f}: {office}, {n} kommuner, version {v}" for f, office, n, v in self.imported]
        lines += [
            f"already imported {f} (same content as {first}, version {v})" for f, first, v in self.already
        ]
        lines += [f"refused {reason}" for _, reason in self.refused]
        headings = {name: heading for name, (heading, _) in REVIEW_FIELDS.items()}
        lines += [
            f"changed since the office's previous version: {row['office']}, {row['municipality_code']} "
            f"{row['municipality_name']}: {headings[row['field']]} {row['earlier']!r} → {row['later']!r} "
            f"(version {row['earlier_version']} → {row['later_version']})"
            for row in self.conflicts.iter_rows(named=True)
        ]
        return lines


def review_files(folder: Path) -> list[Path]:
    """The workbooks in a folder (not its sub-folders), by name; Excel's lock files (``~$…``) left out."""
    return sorted(p for p in folder.glob("*.xlsx") if p.is_file() and not p.name.startswith(("~$", ".~")))


def import_path(
    path: Path, year_folder: Path, school_year: str, register: Register, office: str | None = None
) -> ImportReport:
    """Import a workbook, or every workbook in a folder, against the run published in ``year_folder``
    (``reports/<school-year>``): what `utvalg review import` and the inbox sensor do."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    paths = review_files(path) if path.is_dir() else [path]
    return import_reviews(paths, published_run(year_folder, school_year), register, office)


def import_reviews(
    paths: Iterable[Path], published: PublishedRun, register: Register, office: str | None = None
) -> ImportReport:
    """Import each workbook in ``paths`` that is new and passes every check; report every one."""
    report = ImportReport()
    recorded = register.read(REVIEWS)
    seen: dict[str, tuple[str, int]] = (
        {
            sha: (name, version)
            for sha, name, version in recorded.select("file_sha256", "file_name", VERSION)
            .unique()
            .iter_rows()
        }
        if not recorded.is_empty()
        else {}
    )
    for path in paths:
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in seen:
            report.already.append((path.name, *seen[sha256]))
            continue
        try:
            rows = review_rows(data, path.name, published, office)
        except ReviewError as error:
            report.refused.append((path.name, str(error)))
            continue
        version = register.append(REVIEWS, rows)
        seen[sha256] = (path.name, version)
        report.imported.append((path.name, rows["office"][0], rows.height, version))
    report.conflicts = review_conflicts(register.read(REVIEWS))
    return report


def _with_schema(reviews: pl.DataFrame) -> pl.DataFrame:
    """The register's rows, or an empty frame of the same shape when nothing has been imported."""
    if reviews.is_empty():
        return pl.DataFrame(
            schema={**REVIEW_SCHEMA, VERSION: pl.Int64, "recorded_at": pl.Datetime("us", "UTC")}
        )
    return reviews


def latest_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    """The latest accepted answer per school year, office and kommune: the row of the highest version
    that lists the kommune. ``reviews`` is the register's ``reviews`` table."""
    return _with_schema(reviews).sort(VERSION).group_by(KEY, maintain_order=True).last().sort(KEY)


def review_conflicts(reviews: pl.DataFrame) -> pl.DataFrame:
    """Per school year, office and kommune, each review value that differs between the latest two
    versions from that office: ``field`` (the register's column), ``earlier``/``later`` as text."""
    versions = _with_schema(reviews).with_columns(
        pl.col(VERSION).rank("dense", descending=True).over(KEY).alias("recency")
    )
    earlier = versions.filter(pl.col("recency") == 2)
    later = versions.filter(pl.col("recency") == 1)
    pairs = later.join(earlier, on=list(KEY), suffix="_earlier")
    frames = [
        pairs.filter(pl.col(name).ne_missing(pl.col(f"{name}_earlier"))).select(
            *KEY,
            "municipality_name",
            pl.lit(name).alias("field"),
            pl.col(f"{name}_earlier").cast(pl.String).alias("earlier"),
            pl.col(name).cast(pl.String).alias("later"),
            pl.col(f"{VERSION}_earlier").alias("earlier_version"),
            pl.col(VERSION).alias("later_version"),
        )
        for name in REVIEW_VALUES
    ]
    return pl.concat(frames).sort(*KEY, "field")
