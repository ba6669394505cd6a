"""Write tables in Udir's statistics-portal formats, byte for byte in the style of the real exports:
UTF-16LE without BOM, a ``sep=<TAB>`` first line, tabs, LF, decimal comma, a space as thousands
separator, ``*`` for suppressed, empty for no data; and the xlsx variant with integer codes."""

from __future__ import annotations

import datetime as dt
import io
import math

import xlsxwriter

from pipelines.ingest.portal_format import UNIT_ID_COLUMNS

UNIT_HEADER = list(UNIT_ID_COLUMNS)
SUPPRESSED = "*"
FIXED_CREATED = dt.datetime(2026, 1, 1)

Cell = str | float | int | None


def portal_number(value: float | int | None, decimals: int) -> str:
    """``56833`` → ``56 833``; ``0.75`` with one decimal → ``0,8``; None → empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",")


def portal_csv(header: list[str], rows: list[list[str]]) -> bytes:
    lines = ["sep=\t", "\t".join(header), *("\t".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-16-le")


def portal_xlsx(header: list[str], rows: list[list[Cell]], sheet_name: str) -> bytes:
    """The xlsx export: codes and numbers as Excel numbers, ``*`` as text, a sheet naming the source."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": FIXED_CREATED})
    sheet = book.add_worksheet(sheet_name[:31])
    for column, title in enumerate(header):
        sheet.write_string(0, column, title)
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, int | float):
                sheet.write_number(row_number, column, value)
            elif value.isdigit() and column < len(UNIT_HEADER):
                sheet.write_number(row_number, column, int(value))  # Excel drops the zero padding
            else:
                sheet.write_string(row_number, column, value)
    source = book.add_worksheet("Kilde")
    source.write_string(0, 0, "Grunnskolepoeng (udir.no)")
    book.close()
    return buffer.getvalue()
