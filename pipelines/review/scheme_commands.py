"""What `utvalg decide`, `utvalg scheme import`, `utvalg applications import` and `utvalg review
summary` do, given the published run (``reports/<school-year>``) and the register."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.reference.mapping import Change, municipality_mapping
from pipelines.reference.registers import Registers
from pipelines.register.store import Register
from pipelines.review.imports import REVIEWS
from pipelines.review.scheme_records import (
    DECISIONS_TABLE,
    application_rows,
    cohort_rows,
    decided_list_rows,
    decision_rows,
    import_applications,
    import_cohorts,
    import_decided_list,
    import_decisions,
    import_lists,
    list_rows,
)
from pipelines.review.status import listed
from pipelines.review.summary import office_table, summary_bytes, summary_decisions, summary_table
from pipelines.selection.candidates import with_county_applicants
from pipelines.storage.files import write_atomically


def published_candidates(year_folder: Path) -> pl.DataFrame:
    """The kommune list of the run published in ``year_folder``, with the fylkeskommuner that applied."""
    paths = [year_folder / name for name in ("candidates.parquet", "fylkeskommuner.parquet")]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no published list in {year_folder}: {path.name} is missing; run first")
    return with_county_applicants(*(pl.read_parquet(path) for path in paths))


def decide(path: Path, year_folder: Path, register: Register) -> tuple[pl.DataFrame, int | None]:
    """Record Udir's decisions in a CSV list or a returned summary workbook, and the published list the
    cohort was chosen from (the follow-up's discontinuity needs its ranks); the decisions and their new
    version (None: the same decisions were in force already)."""
    published = published_candidates(year_folder)
    allowed = dict(listed(published).select("municipality_code", "municipality_name").iter_rows())
    data, year = path.read_bytes(), year_folder.name
    if path.suffix.lower() == ".xlsx":
        rows = summary_decisions(data, path.name, year, allowed)
    else:
        rows = decision_rows(data, path.name, year, allowed)
    kommune_list = year_folder / "candidates.parquet"
    ranked = decided_list_rows(published, year, kommune_list.name, kommune_list.read_bytes())
    import_decided_list(register, ranked)
    return rows, import_decisions(register, rows)


def import_scheme(
    path: Path,
    registers: Registers,
    changes: dict[str, Change],
    structure: int,
    register: Register,
    lists: Path | None = None,
) -> tuple[pl.DataFrame, int | None]:
    """Record the historic cohorts in a list, and the lists they were chosen from when given, mapped to
    the kommuner of ``structure``. Both files are checked before either is recorded."""
    mapping = municipality_mapping(registers, changes, structure)
    rows = cohort_rows(path.read_bytes(), path.name, mapping, registers.codes(structure))
    if lists is not None:
        ranked = list_rows(lists.read_bytes(), lists.name, mapping, registers.codes(structure))
        import_lists(register, ranked)
    return rows, import_cohorts(register, rows)


def import_application_list(
    path: Path, year: str, registers: Registers, structure: int, register: Register
) -> tuple[pl.DataFrame, int | None]:
    """Record the applications for ``year`` in a list; owners are the kommuner and fylker of ``structure``."""
    kommuner = registers.municipalities.filter((pl.col("structure") == structure) & ~pl.col("is_pseudo"))[
        "municipality_code"
    ]
    fylker = registers.counties.filter((pl.col("structure") == structure) & ~pl.col("is_pseudo"))[
        "county_code"
    ]
    rows = application_rows(path.read_bytes(), path.name, year, set(kommuner), set(fylker))
    return rows, import_applications(register, rows)


def write_summary(year_folder: Path, register: Register, out: Path) -> pl.DataFrame:
    """Write the summary workbook for the run published in ``year_folder``; returns its rows."""
    candidates, year = published_candidates(year_folder), year_folder.name
    reviews, decisions = register.read(REVIEWS), register.read(DECISIONS_TABLE)
    table = summary_table(candidates, reviews, decisions, year)
    write_atomically(out, summary_bytes(table, office_table(candidates, reviews, decisions, year), year))
    return table
