"""Write tables in Udir's statistics-portal formats, byte for byte in the style of the real exports:
UTF-16LE without BOM, a ``sep=<TAB>`` first line, tabs, LF, decimal comma, a space as thousands
separator, ``*`` for suppressed, empty for no data; and the xlsx variant with integer codes."""

from __future__ import annotations

import datetime as dt
import io
import math
import re

import xlsxwriter

from pipelines.ingest.portal_format import UNIT_ID_COLUMNS

UNIT_HEADER = list(UNIT_ID_COLUMNS)
SUPPRESSED = "*"
FIXED_CREATED = dt.datetime(2026, 1, 1)
PORTAL_FIGURE = re.compile(r"-?\d{1,3}( \d{3})*(,\d+)?")


def portal_number(value: float | int | None, decimals: int) -> str:
    """``56833`` → ``56 833``; ``0.75`` with one decimal → ``0,8``; None → empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",")


def portal_csv(header: list[str], rows: list[list[str]]) -> bytes:
    lines = ["sep=\t", "\t".join(header), *("\t".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-16-le")


def xlsx_unit_ids(row: list[str]) -> list[str]:
    """A CSV row's id cells as the xlsx export has them: no placeholder codes (``00``, ``0000``,
    ``I``) on area rows, which are named by their area in ``EnhetNavn``."""
    ids = dict(zip(UNIT_HEADER, row, strict=False))
    level = ids["EnhetNivaa"]
    if level == "1":
        ids |= {"Fylkekode": "", "Kommunekode": "", "Organisasjonsnummer": "", "EnhetNavn": "Hele landet"}
    elif level == "2":
        ids |= {"Kommunekode": "", "EnhetNavn": ids["Fylke"]}
    elif level == "3":
        ids["EnhetNavn"] = ids["Kommune"]
    return [ids[name] for name in UNIT_HEADER] + row[len(UNIT_HEADER) :]


def portal_xlsx(header: list[str], rows: list[list[str]], sheet_name: str) -> bytes:
    """The xlsx export: codes and figures as Excel numbers, ``*`` and notes as text, and a second
    sheet naming the source."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": FIXED_CREATED})
    sheet = book.add_worksheet(sheet_name[:31])
    for column, title in enumerate(header):
        sheet.write_string(0, column, title)
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(xlsx_unit_ids(row)):
            if value == "":
                continue
            if column < len(UNIT_HEADER) and value.isdigit():
                sheet.write_number(row_number, column, int(value))  # Excel drops the zero padding
            elif column >= len(UNIT_HEADER) and PORTAL_FIGURE.fullmatch(value):
                sheet.write_number(row_number, column, float(value.replace(" ", "").replace(",", ".")))
            else:
                sheet.write_string(row_number, column, value)
    source = book.add_worksheet("Kilde")
    source.write_string(0, 0, "Grunnskolepoeng (udir.no)")
    book.close()
    return buffer.getvalue()
