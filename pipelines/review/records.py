"""Udir's own lists as the register keeps them: the historic cohorts of Oppfølgingsordningen, the
applications, and Udir's decisions. Each is read from a small CSV (UTF-8, ``;`` or ``,`` between
columns, a header row naming the columns below), checked whole, and appended to its register table as
one version; the first problem refuses the file, naming the file, line and column, and nothing is
recorded.

A list is kept per *scope* (the school year of applications and decisions; the whole table for the
historic cohorts): the latest version of a scope is in force, an earlier one stays readable. A file
whose rows are those of the scope's latest version is not recorded again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from pipelines.register.store import BOOKKEEPING, VERSION, Register

# Columns that say where a row came from, not what it records: a re-import differing only in them is
# the same list.
ORIGIN_COLUMNS = ("file_name", "file_sha256", "source_line")


class RecordError(ValueError):
    """A list refused: the file, where in it, and what was expected there. Nothing was recorded."""

    def __init__(self, file: str, where: str, message: str) -> None:
        self.file, self.where = file, where
        super().__init__(f"{file}, {where}: {message}" if where else f"{file}: {message}")


@dataclass(frozen=True)
class Row:
    """One data row of a list: its line in the file and its cells by the header's column names."""

    line: int
    cells: dict[str, str]

    def where(self, column: str) -> str:
        return f"line {self.line}, column {column}"


def read_rows(data: bytes, file: str, columns: Sequence[str]) -> list[Row]:
    """The rows of a CSV whose header names exactly ``columns`` (in any order, any case); blank lines
    are skipped, every other line must have a cell per column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RecordError(
            file, f"byte {error.start}", "not UTF-8 text; save the file as CSV UTF-8"
        ) from error
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RecordError(file, "line 1", f"no header; expected the columns {', '.join(columns)}")
    separator = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    records = list(csv.reader(io.StringIO(text), delimiter=separator))
    header = [cell.strip().lower() for cell in records[0]]
    for number, name in enumerate(header, start=1):
        if name not in columns:
            raise RecordError(
                file, f"line 1, column {number}", f"unknown column {name!r}; expected {', '.join(columns)}"
            )
    for name in columns:
        if header.count(name) != 1:
            found = "twice" if header.count(name) else "missing"
            raise RecordError(file, "line 1", f"column {name!r} {found}; expected {', '.join(columns)}")
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise RecordError(file, f"line {line}", f"{len(record)} cells, the header has {len(header)}")
        rows.append(Row(line, {name: cell.strip() for name, cell in zip(header, record, strict=True)}))
    if not rows:
        raise RecordError(file, "", "no rows below the header")
    return rows


def municipality_code(value: str, where: str, file: str) -> str:
    """A kommune number as four digits (a leading zero lost by a spreadsheet is put back)."""
    if not re.fullmatch(r"\d{3,4}", value):
        raise RecordError(file, where, f"{value!r} is not a kommune number (four digits, e.g. 0301)")
    return value.zfill(4)


def owner_code(value: str, where: str, file: str) -> str:
    """A school owner's number: a fylkeskommune's two digits or a kommune's four (leading zeros put
    back)."""
    if re.fullmatch(r"\d{1,2}", value):
        return value.zfill(2)
    return municipality_code(value, where, file)


def school_year(value: str, where: str, file: str) -> str:
    """``2021-22`` (two consecutive years)."""
    if not re.fullmatch(r"\d{4}-\d{2}", value) or (int(value[:4]) + 1) % 100 != int(value[5:]):
        raise RecordError(file, where, f"{value!r} is not a school year such as 2021-22")
    return value


def date(value: str, where: str, file: str) -> dt.date:
    """``15.09.2025`` or ``2025-09-15``."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", value)
    try:
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise RecordError(file, where, f"{value!r} is not a date (dd.mm.åååå)") from error


def school_year_of(day: dt.date) -> str:
    """The school year a date falls in (a school year starts on 1 August)."""
    start = day.year if day.month >= 8 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def no_duplicates(rows: Sequence[Row], key: Sequence[str], column: str, file: str) -> None:
    """Refuse a list naming the same ``key`` twice, naming both lines."""
    first: dict[tuple[str, ...], int] = {}
    for row in rows:
        value = tuple(row.cells[k] for k in key)
        if value in first:
            raise RecordError(
                file, row.where(column), f"{' '.join(value)} is listed twice (also on line {first[value]})"
            )
        first[value] = row.line


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def latest(frame: pl.DataFrame, scope: Sequence[str] = ()) -> pl.DataFrame:
    """The rows of the latest version of each ``scope`` (all rows of one version when no scope)."""
    if frame.is_empty():
        return frame
    newest = pl.col(VERSION).max().over(scope) if scope else pl.col(VERSION).max()
    return frame.filter(pl.col(VERSION) == newest)


def _content(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    kept = [c for c in frame.columns if c not in (*BOOKKEEPING, *ORIGIN_COLUMNS)]
    return sorted(frame.select(sorted(kept)).iter_rows(), key=repr)


def record(register: Register, table: str, rows: pl.DataFrame, scope: Sequence[str] = ()) -> int | None:
    """Append ``rows`` (of one scope) to ``table`` as a new version, unless the scope's latest version
    has the same content: then nothing is written and None returned."""
    in_force = latest(register.read(table), scope)
    if scope and not in_force.is_empty():
        key = rows.select(scope).unique()
        in_force = in_force.join(key, on=list(scope), how="semi")
    if not in_force.is_empty() and _content(in_force) == _content(rows):
        return None
    return register.append(table, rows)
