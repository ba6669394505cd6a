"""The summary workbook for Udir (``utvalg review summary``), in bokmål: every kommune under review with
the evidence and each office's latest accepted answer side by side, a column for Udir's decision, and
each office's progress. Returned with the decision column filled in, ``utvalg decide`` reads it back
(:func:`summary_decisions`) with the same checks as a CSV list, naming the sheet and cell.

Sheets: ``Oppsummering`` (the list; only ``Udirs beslutning`` is open for typing), ``Embeter`` (per
office: kommuner under review, assessed, answered or not) and the hidden ``Kontroll`` (form and school
year). An office that has not answered is shown as *har ikke svart* on every row of its kommuner.
"""

from __future__ import annotations

import io
import zipfile

import openpyxl
import polars as pl
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipelines.outputs.review_form import DECIMALS, cell_text
from pipelines.outputs.workbooks import new_workbook
from pipelines.review.imports import latest_reviews
from pipelines.review.read import cell
from pipelines.review.records import RecordError
from pipelines.review.scheme_records import decision_frame
from pipelines.review.status import office_progress, review_status
from pipelines.vocabulary import DECISIONS

SUMMARY_SHEET = "Oppsummering"
OFFICE_SHEET = "Embeter"
CONTROL_SHEET = "Kontroll"
FORM = "oppsummering-1"
HEADER_ROW = 2  # zero-based, below a title and a line of instructions
CODE_HEADING = "Kommunenr"
DECISION_HEADING = "Udirs beslutning"
NOT_ANSWERED = "embetet har ikke svart"


def summary_table(
    candidates: pl.DataFrame, reviews: pl.DataFrame, decisions: pl.DataFrame, school_year: str
) -> pl.DataFrame:
    """The ``Oppsummering`` sheet's rows: per kommune under review, the evidence, the office's latest
    answer (free text too: this workbook goes to Udir only) and the decision recorded so far."""
    status = review_status(candidates, reviews, decisions, school_year)
    progress = office_progress(status, reviews, school_year).select("statsforvalter", "answered")
    texts = (
        latest_reviews(reviews)
        .filter(pl.col("school_year") == school_year)
        .select(
            "municipality_code",
            pl.col("office").alias("statsforvalter"),
            "justification",
            "contact",
            "review_date",
        )
    )
    evidence = candidates.select(
        "municipality_code",
        "udir_category",
        "udir_category_without_scheme",
        "udir_risk_share",
        "tier",
        "p_top_n",
        "holistic_rank",
        "holistic_rank_without_scheme",
        "scheme_status",
        "application_date",
    )
    return (
        status.join(progress, on="statsforvalter", how="left")
        .join(texts, on=["municipality_code", "statsforvalter"], how="left")
        .join(evidence, on="municipality_code", how="left")
        .sort("statsforvalter", "municipality_code")
        .select(
            pl.col("municipality_code").alias(CODE_HEADING),
            pl.col("municipality_name").alias("Kommune"),
            pl.col("statsforvalter").alias("Statsforvalter"),
            pl.col("basis").alias("Grunnlag"),
            pl.col("application_date").dt.strftime("%d.%m.%Y").alias("Søkte"),
            pl.col("scheme_status").alias("Oppfølgingsordningen"),
            pl.col("udir_category").cast(pl.Float64).alias("Udir-kategori"),
            pl.col("udir_category_without_scheme").cast(pl.Float64).alias("Udir-kategori uten ordningen"),
            pl.col("udir_risk_share").round(DECIMALS).alias("Andel risikopoeng"),
            pl.col("tier").alias("Helhetlig vurdering"),
            pl.col("p_top_n").round(DECIMALS).alias("Sannsynlighet blant de svakeste"),
            pl.col("holistic_rank").cast(pl.Float64).alias("Rangering"),
            pl.col("holistic_rank_without_scheme").cast(pl.Float64).alias("Rangering uten ordningen"),
            pl.when(pl.col("answered"))
            .then(pl.col("review_status"))
            .otherwise(pl.lit(NOT_ANSWERED))
            .alias("Embetets anbefaling"),
            pl.col("office_priority").cast(pl.Float64).alias("Prioritet i embetet"),
            pl.col("justification").alias("Begrunnelse"),
            pl.col("contact").alias("Kontaktperson"),
            pl.col("review_date").dt.strftime("%d.%m.%Y").alias("Dato"),
            pl.col("decision").alias(DECISION_HEADING),
        )
    )


def office_table(
    candidates: pl.DataFrame, reviews: pl.DataFrame, decisions: pl.DataFrame, year: str
) -> pl.DataFrame:
    """The ``Embeter`` sheet: per office, kommuner under review, assessed, decided, answered or not."""
    status = review_status(candidates, reviews, decisions, year)
    return office_progress(status, reviews, year).select(
        pl.col("statsforvalter").alias("Statsforvalter"),
        pl.col("listed").cast(pl.Float64).alias("Kommuner til vurdering"),
        pl.col("reviewed").cast(pl.Float64).alias("Vurdert"),
        pl.col("decided").cast(pl.Float64).alias("Besluttet"),
        pl.when(pl.col("answered"))
        .then(pl.lit("har svart"))
        .otherwise(pl.lit("har ikke svart"))
        .alias("Svar"),
    )


def _write(sheet: Worksheet, frame: pl.DataFrame, row: int, formats: dict[str, Format]) -> None:
    for column, title in enumerate(frame.columns):
        sheet.write_string(row, column, title, formats["header"])
        sheet.set_column(column, column, max(10, min(40, len(title) + 2)))
    for number, values in enumerate(frame.iter_rows(), start=row + 1):
        for column, (title, value) in enumerate(zip(frame.columns, values, strict=True)):
            style = formats["open"] if title == DECISION_HEADING else formats["locked"]
            if value is None:
                sheet.write_blank(number, column, None, style)
            elif isinstance(value, str):
                sheet.write_string(number, column, value, style)
            else:
                sheet.write_number(number, column, value, style)


def summary_bytes(table: pl.DataFrame, offices: pl.DataFrame, school_year: str) -> bytes:
    """The summary workbook as bytes (the same tables give the same bytes)."""
    buffer = io.BytesIO()
    book = new_workbook(buffer, f"Oppfølgingsordningen {school_year}: statsforvalternes anbefalinger")
    formats = {
        "header": book.add_format({"bold": True, "text_wrap": True, "bg_color": "#DDE6F0", "border": 1}),
        "locked": book.add_format({"bg_color": "#F2F2F2", "border": 1, "text_wrap": True, "valign": "top"}),
        "open": book.add_format({"locked": False, "border": 1}),
    }
    sheet = book.add_worksheet(SUMMARY_SHEET)
    sheet.write_string(
        0, 0, f"Oppfølgingsordningen {school_year}: statsforvalternes anbefalinger og Udirs beslutning"
    )
    sheet.write_string(
        1,
        0,
        f"Fyll ut kolonnen {DECISION_HEADING} ({' / '.join(DECISIONS)}) og les arket inn med "
        "utvalg decide. Tomme celler er ikke besluttet.",
    )
    _write(sheet, table, HEADER_ROW, formats)
    if table.height:
        column = table.columns.index(DECISION_HEADING)
        sheet.data_validation(
            HEADER_ROW + 1,
            column,
            HEADER_ROW + table.height,
            column,
            {"validate": "list", "source": list(DECISIONS)},
        )
    sheet.freeze_panes(HEADER_ROW + 1, 2)
    sheet.protect("", {"autofilter": True, "format_columns": True, "format_rows": True})
    _write(book.add_worksheet(OFFICE_SHEET), offices, 0, formats)
    control = book.add_worksheet(CONTROL_SHEET)
    for row, (key, value) in enumerate((("skjema", FORM), ("skoleår", school_year))):
        control.write_string(row, 0, key)
        control.write_string(row, 1, value)
    control.hide()
    book.close()
    return buffer.getvalue()


def summary_decisions(data: bytes, file: str, school_year: str, listed: dict[str, str]) -> pl.DataFrame:
    """Udir's decisions in a returned summary workbook: every filled ``Udirs beslutning`` cell, checked
    as a CSV list is (:func:`pipelines.review.scheme_records.decision_frame`), each error naming the
    sheet and cell."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise RecordError(file, "", f"not a readable xlsx workbook ({error})") from error
    for sheet_name in (CONTROL_SHEET, SUMMARY_SHEET):
        if sheet_name not in book.sheetnames:
            raise RecordError(file, "", f"no sheet {sheet_name}: not the summary workbook from utvalg")
    control = book[CONTROL_SHEET]
    if cell_text(control["B1"].value) != FORM:
        raise RecordError(file, f"sheet {CONTROL_SHEET}, cell B1", f"expected form {FORM!r}")
    found_year = cell_text(control["B2"].value)
    if found_year != school_year:
        raise RecordError(
            file,
            f"sheet {CONTROL_SHEET}, cell B2",
            f"school year {found_year}; the list is for {school_year}",
        )
    rows = list(book[SUMMARY_SHEET].iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    headings = [cell_text(value) for value in rows[0]] if rows else []
    for heading in (CODE_HEADING, DECISION_HEADING):
        if heading not in headings:
            raise RecordError(file, f"sheet {SUMMARY_SHEET}, row {HEADER_ROW + 1}", f"no column {heading!r}")
    code, decision = headings.index(CODE_HEADING), headings.index(DECISION_HEADING)
    decisions = []
    for number, values in enumerate(rows[1:], start=HEADER_ROW + 1):
        value = values[decision] if decision < len(values) else None
        if value is None or not str(value).strip():
            continue
        where = f"sheet {SUMMARY_SHEET}, cell {cell(number, decision)}"
        kommune = cell_text(values[code]).strip()
        if kommune not in listed:
            where = f"sheet {SUMMARY_SHEET}, cell {cell(number, code)}"
        decisions.append((kommune, str(value).strip().lower(), where))
    return decision_frame(decisions, school_year, file, data, listed)
