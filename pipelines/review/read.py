"""Reading a returned review workbook: its bytes and the published run it must come from → one row per
listed kommune with the governor's answers, or a :class:`ReviewError` naming the file, sheet and cell and
what was expected. All or nothing: the first problem refuses the whole workbook.

The published run is what readers see now: ``reports/<school-year>/provenance.json`` (whose hash is the
run id, :func:`pipelines.provenance.provenance_id`) and the office's workbook as published beside it. A
returned workbook must carry that run id and school year in its hidden ``Kontroll`` sheet, name an office
of the run, carry that office's list fingerprint, list the same kommuner under the same names in the same
order, and have every evidence cell as published; a review value must be one the form allows. Values are
compared as :func:`pipelines.outputs.review_form.cell_text` sees them, so a workbook saved again by Excel
or LibreOffice is read as the one sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.outputs.review_form import (
    CODE_HEADING,
    CONTROL_KEYS,
    CONTROL_SHEET,
    FIRST_ROW,
    FORM_VERSION,
    HEADER_ROW,
    NAME_HEADING,
    REVIEW_HEADINGS,
    REVIEW_SHEET,
    cell_text,
    list_fingerprint,
)
from pipelines.provenance import provenance_id
from pipelines.vocabulary import RECOMMENDATIONS, REVIEW_FIELDS

REVIEW_SCHEMA = {
    "file_name": pl.String,
    "file_sha256": pl.String,
    "office": pl.String,
    "run_id": pl.String,
    "school_year": pl.String,
    "list_fingerprint": pl.String,
    "municipality_code": pl.String,
    "municipality_name": pl.String,
    "sheet_row": pl.Int64,
    "recommendation": pl.String,
    "office_priority": pl.Int64,
    "justification": pl.String,
    "contact": pl.String,
    "review_date": pl.Date,
}
REVIEW_VALUES = tuple(REVIEW_FIELDS)

if TYPE_CHECKING:
    import openpyxl


class ReviewError(ValueError):
    """A returned workbook refused: which file, sheet and cell, and what was expected there."""

    def __init__(self, file: str, sheet: str, cell: str, message: str) -> None:
        self.file, self.sheet, self.cell = file, sheet, cell
        where = ", ".join(
            part for part in (file, f"sheet {sheet}" if sheet else "", f"cell {cell}" if cell else "") if part
        )
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Form:
    """What a review workbook holds: its control values, the headings and the rows of ``Vurdering``."""

    control: dict[str, str]
    headings: list[str]
    rows: list[tuple[object, ...]]


@dataclass(frozen=True)
class PublishedRun:
    """The run published now: its id, school year and each office's workbook as published."""

    run_id: str
    school_year: str
    forms: dict[str, Form]


def cell(row: int, column: int) -> str:
    """Zero-based row and column → ``C7``."""
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column + 1)}{row + 1}"


def _load(data: bytes, file: str) -> openpyxl.Workbook:
    import openpyxl  # where a workbook is read: every run imports this module, few read a workbook

    try:
        return openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ReviewError(file, "", "", f"not a readable xlsx workbook ({error})") from error


def read_form(data: bytes, file: str) -> Form:
    """The control sheet and the ``Vurdering`` table of a workbook, without judging them."""
    book = _load(data, file)
    if CONTROL_SHEET not in book.sheetnames:
        raise ReviewError(file, "", "", f"no sheet {CONTROL_SHEET}: not a review workbook from utvalg")
    control_sheet = book[CONTROL_SHEET]
    control = {}
    for number, key in enumerate(CONTROL_KEYS):
        found = control_sheet.cell(row=number + 1, column=1).value
        if found != key:
            raise ReviewError(file, CONTROL_SHEET, cell(number, 0), f"expected {key!r}, found {found!r}")
        control[key] = cell_text(control_sheet.cell(row=number + 1, column=2).value)
    if control["skjema"] != FORM_VERSION:
        raise ReviewError(
            file, CONTROL_SHEET, cell(0, 1), f"form version {control['skjema']!r}, expected {FORM_VERSION!r}"
        )
    if REVIEW_SHEET not in book.sheetnames:
        raise ReviewError(file, "", "", f"no sheet {REVIEW_SHEET}")
    sheet = book[REVIEW_SHEET]
    values = [tuple(row) for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]
    headings = [cell_text(value) for value in (values[0] if values else ())]
    while headings and not headings[-1]:
        headings.pop()
    rows = [row[: len(headings)] + (None,) * (len(headings) - len(row)) for row in values[1:]]
    while rows and all(cell_text(value) == "" for value in rows[-1]):
        rows.pop()
    return Form(control, headings, rows)


def published_run(year_folder: Path, school_year: str) -> PublishedRun:
    """The run of ``school_year`` published in ``year_folder`` (``reports/<school-year>``), as the importer
    compares against it."""
    provenance = year_folder / "provenance.json"
    if not provenance.is_file():
        raise FileNotFoundError(f"no published run in {year_folder}: {provenance.name} is missing; run first")
    forms = {}
    for path in sorted((year_folder / "statsforvaltere").glob("*.xlsx")):
        form = read_form(path.read_bytes(), path.name)
        forms[form.control["embete"]] = form
    return PublishedRun(provenance_id(provenance.read_text(encoding="utf-8")), school_year, forms)


def _check_list(file: str, form: Form, sent: Form) -> None:
    """Same headings, same kommuner in the same order under the same names, evidence as published."""
    for column, (found, expected) in enumerate(zip(form.headings, sent.headings, strict=False)):
        if found != expected:
            raise ReviewError(
                file, REVIEW_SHEET, cell(HEADER_ROW, column), f"heading {found!r}, expected {expected!r}"
            )
    if len(form.headings) != len(sent.headings):
        column = min(len(form.headings), len(sent.headings))
        raise ReviewError(
            file,
            REVIEW_SHEET,
            cell(HEADER_ROW, column),
            f"{len(form.headings)} columns, expected {len(sent.headings)}",
        )
    code, name = form.headings.index(CODE_HEADING), form.headings.index(NAME_HEADING)
    codes = [cell_text(row[code]) for row in form.rows]
    expected_codes = [cell_text(row[code]) for row in sent.rows]
    for number, found in enumerate(codes):
        if found not in expected_codes:
            raise ReviewError(
                file,
                REVIEW_SHEET,
                cell(FIRST_ROW + number, code),
                f"kommune {found!r} is not on the office's list (added)",
            )
    for number, expected in enumerate(expected_codes):
        if expected not in codes:
            raise ReviewError(
                file,
                REVIEW_SHEET,
                cell(FIRST_ROW + number, code),
                f"kommune {expected} {sent.rows[number][name]} is missing from the list (removed)",
            )
    for number, (found, expected) in enumerate(zip(codes, expected_codes, strict=True)):
        if found != expected:
            raise ReviewError(
                file,
                REVIEW_SHEET,
                cell(FIRST_ROW + number, code),
                f"kommune {found}, expected {expected} (rows moved)",
            )
    evidence = [i for i, heading in enumerate(form.headings) if heading not in REVIEW_HEADINGS]
    for number, (row, published) in enumerate(zip(form.rows, sent.rows, strict=True)):
        for column in evidence:
            if cell_text(row[column]) != cell_text(published[column]):
                what = "renamed" if column == name else "evidence edited"
                raise ReviewError(
                    file,
                    REVIEW_SHEET,
                    cell(FIRST_ROW + number, column),
                    f"{form.headings[column]} is {cell_text(row[column])!r}, the published workbook has "
                    f"{cell_text(published[column])!r} ({what})",
                )


def _text(value: object) -> str | None:
    text = cell_text(value).strip() if not isinstance(value, int | float) else str(value)
    return text or None


def _review_values(
    file: str, headings: Sequence[str], row: tuple[object, ...], number: int, listed: int
) -> dict[str, object]:
    """The governor's answers in one row, checked against what the form allows."""
    found: dict[str, object] = {}
    for field in REVIEW_VALUES:
        column = list(headings).index(REVIEW_FIELDS[field][0])
        value, where = row[column], cell(FIRST_ROW + number, column)
        if value is None or (isinstance(value, str) and not value.strip()):
            found[field] = None
        elif field == "recommendation":
            if not isinstance(value, str) or value.strip() not in RECOMMENDATIONS:
                raise ReviewError(
                    file,
                    REVIEW_SHEET,
                    where,
                    f"{value!r} is not a recommendation: choose {' / '.join(RECOMMENDATIONS)}",
                )
            found[field] = value.strip()
        elif field == "office_priority":
            number_value = (
                int(value) if isinstance(value, int | float) and float(value).is_integer() else None
            )
            if isinstance(value, str) and value.strip().isdigit():
                number_value = int(value.strip())
            if number_value is None or not 1 <= number_value <= listed:
                raise ReviewError(
                    file, REVIEW_SHEET, where, f"{value!r} is not a whole number from 1 to {listed}"
                )
            found[field] = number_value
        elif field == "review_date":
            found[field] = _date(value, file, where)
        else:
            found[field] = _text(value)
    return found


def _date(value: object, file: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    try:
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ReviewError(file, REVIEW_SHEET, where, f"{value!r} is not a date (dd.mm.åååå)") from error


def review_rows(data: bytes, file: str, published: PublishedRun, office: str | None = None) -> pl.DataFrame:
    """The governor's answers in a returned workbook, one row per listed kommune (an unanswered row
    too), checked against ``published``; ``office``, when the sender is known, must be the workbook's."""
    form = read_form(data, file)
    control = form.control
    if control["skoleår"] != published.school_year:
        raise ReviewError(
            file,
            CONTROL_SHEET,
            cell(2, 1),
            f"school year {control['skoleår']}, the published run is for {published.school_year}",
        )
    if control["kjøring"] != published.run_id:
        raise ReviewError(
            file,
            CONTROL_SHEET,
            cell(1, 1),
            f"from run {control['kjøring']}, the published run is {published.run_id}: the workbook was made "
            "by another run; send the office the current one",
        )
    sent = published.forms.get(control["embete"])
    if sent is None or (office is not None and control["embete"] != office):
        expected = office if office is not None else " / ".join(sorted(published.forms))
        raise ReviewError(
            file, CONTROL_SHEET, cell(3, 1), f"office {control['embete']!r}, expected {expected}"
        )
    if control["fingeravtrykk"] != sent.control["fingeravtrykk"]:
        raise ReviewError(
            file,
            CONTROL_SHEET,
            cell(4, 1),
            "the list's fingerprint is not that of the office's published list",
        )
    _check_list(file, form, sent)
    if list_fingerprint(form.headings, form.rows) != control["fingeravtrykk"]:
        raise ReviewError(file, REVIEW_SHEET, "", "the list does not match its fingerprint")
    code, name = form.headings.index(CODE_HEADING), form.headings.index(NAME_HEADING)
    sha256 = hashlib.sha256(data).hexdigest()
    records = [
        {
            "file_name": file,
            "file_sha256": sha256,
            "office": control["embete"],
            "run_id": control["kjøring"],
            "school_year": control["skoleår"],
            "list_fingerprint": control["fingeravtrykk"],
            "municipality_code": cell_text(row[code]),
            "municipality_name": cell_text(row[name]),
            "sheet_row": FIRST_ROW + number + 1,
            **_review_values(file, form.headings, row, number, len(form.rows)),
        }
        for number, row in enumerate(form.rows)
    ]
    return pl.DataFrame(records, schema=REVIEW_SCHEMA)
