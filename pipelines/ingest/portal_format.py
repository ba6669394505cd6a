"""The one parser for Udir's statistics-portal export format.

Every report the portal exports shares one shape (``data/README.md`` in the shared data describes it):
an optional ``sep=`` line, a header of id columns followed by value columns named
``<skoleår>.<dimension>….<measure>``, one row per unit (or per indicator), numbers with a decimal comma
and a space as thousands separator, ``*`` for suppressed and an empty cell for no data. Columns ending in
``.Brudd`` carry a note on a break in the series of the column they precede.

:func:`read_export` turns any such file (CSV in any of the encodings Udir has used, or the xlsx variant)
into a :class:`PortalExport`: the id columns per line, and a long table with one row per line × value
column. Source-specific meaning is added by :mod:`pipelines.ingest.sources` and
:mod:`pipelines.ingest.observations`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

UNIT_ID_COLUMNS = (
    "EnhetNivaa",
    "Nasjonaltkode",
    "Fylkekode",
    "Kommunekode",
    "Organisasjonsnummer",
    "Nasjonalt",
    "Fylke",
    "Kommune",
    "EnhetNavn",
)
REQUIRED_UNIT_ID_COLUMNS = ("EnhetNivaa", "Fylkekode", "Organisasjonsnummer", "EnhetNavn")
INDICATOR_ID_COLUMNS = (
    "IndikatorNivaa",
    "Indikatorkode_Over",
    "Indikatorkode",
    "Indikatornavn_Over",
    "Indikatornavn",
)
REQUIRED_INDICATOR_ID_COLUMNS = ("IndikatorNivaa", "Indikatorkode", "Indikatornavn")
BREAK_SUFFIX = ".Brudd"
SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
# Dimension values may contain ". " ("5. årstrinn"); only a dot not followed by a space separates.
COLUMN_PART_SEPARATOR = re.compile(r"\.(?! )")
# A number as the portal writes it: optional sign, digits grouped by (non-breaking) spaces, decimal comma.
NUMBER = r"^-?(\d{1,3}([ \u00a0\u202f]\d{3})+|\d+)(,\d+)?$"
SUPPRESSED = "*"
# The portal writes CRLF or LF; a file saved on an old Mac (or by some editors) ends lines with a lone CR.
LINE_BREAK = re.compile(r"\r\n|\n|\r")
# What a spreadsheet writes where a formula failed (English and Norwegian Excel): never a number, never
# "no data".
SPREADSHEET_ERROR = r"^#(?:[A-ZÆØÅ]+(?:/[A-Z0-9]+)?)[!?]?$"
# C0 controls other than TAB, LF and CR, and DEL: never in a portal export; a damaged file or a bad paste.
CONTROL_CHARACTER = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# A line that starts another export: a header (its first id column) or a ``sep=`` line.
HEADER_STARTS = ("EnhetNivaa", "IndikatorNivaa")
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class ExportFormatError(ValueError):
    """A file that cannot be parsed. The message names the file, line, column and what was expected."""

    def __init__(self, file: str, line: int | None, column: str | None, expected: str) -> None:
        where = [file]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {expected}")
        self.file, self.line, self.column, self.expected = file, line, column, expected


@dataclass(frozen=True)
class ValueColumn:
    """A value column's name split into its parts."""

    name: str
    position: int  # 1-based, as a spreadsheet user counts
    school_year: str
    dimensions: tuple[str, ...]
    measure: str
    break_column: str | None


@dataclass(frozen=True)
class PortalExport:
    """A parsed export: id columns per line and value cells in long form."""

    file: str
    encoding: str
    separator: str
    shape: str  # "unit_rows" (one unit per line) or "indicator_rows" (one indicator per line)
    id_columns: tuple[str, ...]
    value_columns: tuple[ValueColumn, ...]
    rows: pl.DataFrame  # source_line + id columns, all text
    cells: pl.DataFrame  # source_line, column, school_year, dimensions, measure, raw, value, ...
    rejected_lines: pl.DataFrame  # source_line, raw_line, reason
    header_line: int = 1  # where the header is, for errors about a column

    @property
    def measures(self) -> set[str]:
        return {column.measure for column in self.value_columns}


REJECTED_SCHEMA = {"source_line": pl.Int64, "raw_line": pl.String, "reason": pl.String}


def _line_of(data: bytes, byte_offset: int, newline: bytes) -> int:
    return data[:byte_offset].count(newline) + 1


def decode(data: bytes, file: str) -> tuple[str, str]:
    """Decode an export, detecting UTF-16 (with or without BOM), UTF-8 (with or without BOM) or cp1252."""
    if data.startswith(b"\xff\xfe"):
        encoding, body = "utf-16-le", data[2:]
    elif data.startswith(b"\xfe\xff"):
        encoding, body = "utf-16-be", data[2:]
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding, body = "utf-8-sig", data[3:]
    elif len(data) >= 4 and data[1] == 0 and data[3] == 0:
        encoding, body = "utf-16-le", data
    elif len(data) >= 4 and data[0] == 0 and data[2] == 0:
        encoding, body = "utf-16-be", data
    else:
        encoding, body = "utf-8", data
    if encoding.startswith("utf-16"):
        newline = "\n".encode(encoding)
        try:
            return body.decode(encoding), encoding
        except UnicodeDecodeError as error:
            line = _line_of(body, error.start, newline)
            raise ExportFormatError(
                file,
                line,
                None,
                f"bytes {error.start}–{error.end} are not valid {encoding.upper()} "
                "(a truncated or damaged file?); expected the whole file in one encoding",
            ) from error
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError as error:
        # Mostly valid multi-byte UTF-8 with a few stray bytes means a mixed file, not a cp1252 one.
        valid_sequences = len(UTF8_SEQUENCE.findall(body))
        high_bytes = len(re.findall(rb"[\x80-\xff]", body))
        stray = high_bytes - sum(len(m) for m in UTF8_SEQUENCE.findall(body))
        if valid_sequences > stray:
            line = _line_of(body, error.start, b"\n")
            line_start = body.rfind(b"\n", 0, error.start) + 1
            raise ExportFormatError(
                file,
                line,
                f"character {error.start - line_start + 1}",
                f"byte 0x{body[error.start]:02x} is not UTF-8 while the rest of the file is; "
                "expected one encoding for the whole file (re-export it from the portal)",
            ) from error
    try:
        return body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        raise ExportFormatError(
            file,
            _line_of(body, error.start, b"\n"),
            None,
            "not a text file in UTF-16, UTF-8 or cp1252",
        ) from error


def _split_column_name(name: str, position: int, file: str, header_line: int) -> ValueColumn:
    parts = COLUMN_PART_SEPARATOR.split(name)
    if len(parts) < 2 or not SCHOOL_YEAR.match(parts[0]):
        raise ExportFormatError(
            file,
            header_line,
            f"{position} ({name!r})",
            "expected an id column or a value column named <skoleår>.<dimension>….<measure> "
            "with a school year such as 2024-25",
        )
    start, end = SCHOOL_YEAR.match(parts[0]).groups()  # type: ignore[union-attr]
    if (int(start) + 1) % 100 != int(end):
        raise ExportFormatError(
            file,
            header_line,
            f"{position} ({name!r})",
            f"school year {parts[0]} is not two consecutive years",
        )
    return ValueColumn(
        name=name,
        position=position,
        school_year=parts[0],
        dimensions=tuple(part.strip() for part in parts[1:-1]),
        measure=parts[-1].strip(),
        break_column=None,
    )


def _parse_header(
    header: list[str], file: str, header_line: int
) -> tuple[str, tuple[str, ...], tuple[ValueColumn, ...]]:
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise ExportFormatError(
                file,
                header_line,
                f"{position} ({name!r})",
                "expected unique column names; this one repeats",
            )
        seen.add(name)
    known: tuple[str, ...]
    required: tuple[str, ...]
    if "EnhetNivaa" in seen:
        shape, known, required = "unit_rows", UNIT_ID_COLUMNS, REQUIRED_UNIT_ID_COLUMNS
    elif "IndikatorNivaa" in seen:
        shape, known, required = (
            "indicator_rows",
            INDICATOR_ID_COLUMNS,
            REQUIRED_INDICATOR_ID_COLUMNS,
        )
    else:
        raise ExportFormatError(
            file,
            header_line,
            None,
            "expected a statistics-portal header starting with the id columns "
            f"{', '.join(UNIT_ID_COLUMNS)} (or IndikatorNivaa, … for indicator reports); "
            f"found {', '.join(names[:4])}…",
        )
    missing = [name for name in required if name not in seen]
    if missing:
        raise ExportFormatError(
            file,
            header_line,
            missing[0],
            f"the id column {missing[0]!r} is missing; expected {', '.join(required)}",
        )
    id_columns = tuple(name for name in names if name in known)
    by_name: dict[str, ValueColumn] = {}
    break_columns: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in known:
            continue
        if name.endswith(BREAK_SUFFIX):
            break_columns[name[: -len(BREAK_SUFFIX)]] = position
            continue
        by_name[name] = _split_column_name(name, position, file, header_line)
    for base, position in break_columns.items():
        if base not in by_name:
            raise ExportFormatError(
                file,
                header_line,
                f"{position} ({base + BREAK_SUFFIX!r})",
                f"a break-note column must belong to a value column named {base!r}, which is missing",
            )
        column = by_name[base]
        by_name[base] = ValueColumn(
            column.name,
            column.position,
            column.school_year,
            column.dimensions,
            column.measure,
            base + BREAK_SUFFIX,
        )
    if not by_name:
        raise ExportFormatError(file, header_line, None, "expected at least one value column")
    return shape, id_columns, tuple(sorted(by_name.values(), key=lambda c: c.position))


def _split_fields(line: str, separator: str) -> list[str]:
    """A line's fields; Excel quotes a field that holds the separator (``"Hå; Nærbø"``), so a quote
    at a field's start is honoured. Only lines with a quote pay for the csv module."""
    if '"' not in line:
        return line.split(separator)
    return next(csv.reader([line], delimiter=separator, quotechar='"'))


def _is_second_export(line: str) -> bool:
    return line.startswith("sep=") or line.split("\t", 1)[0].split(";", 1)[0].strip() in HEADER_STARTS


def _table_from_text(
    text: str, file: str
) -> tuple[str, int, list[str], list[tuple[int, list[str]]], list[dict[str, object]]]:
    """Split decoded text into header and data fields, checking every line has every column."""
    lines = LINE_BREAK.split(text)
    first = 0
    separator = ""
    if lines and lines[0].startswith("sep="):
        separator = lines[0][4:] or "\t"
        first = 1
    if first >= len(lines) or not lines[first].strip():
        raise ExportFormatError(file, first + 1, None, "expected a header line; the file is empty")
    header_text = lines[first]
    if not separator:
        separator = "\t" if header_text.count("\t") >= header_text.count(";") else ";"
    if separator not in ("\t", ";"):
        raise ExportFormatError(file, 1, None, f"expected sep=<TAB> or sep=; but found sep={separator}")
    header = _split_fields(header_text, separator)
    separator_name = "TAB" if separator == "\t" else f"'{separator}'"
    rows: list[tuple[int, list[str]]] = []
    rejected: list[dict[str, object]] = []
    for index in range(first + 1, len(lines)):
        line = lines[index]
        line_number = index + 1
        if not line.strip():
            continue
        if _is_second_export(line):
            rejected.append(_second_export(lines, index, header_text, file))
            continue
        fields = _split_fields(line, separator)
        if len(fields) != len(header):
            column = min(len(fields), len(header)) + 1
            raise ExportFormatError(
                file,
                line_number,
                str(column),
                f"expected {len(header)} fields separated by {separator_name}, "
                f"found {len(fields)}"
                + (
                    " (the file looks truncated)"
                    if index >= len(lines) - 2 and len(fields) < len(header)
                    else ""
                ),
            )
        rows.append((line_number, fields))
    _check_last_line_ends(lines, file, len(header))
    return separator, first + 1, header, rows, rejected


def _second_export(lines: list[str], index: int, header_text: str, file: str) -> dict[str, object]:
    """A header or ``sep=`` line inside the file. When it repeats the file's own header the lines below
    are read under the right columns and only the line itself is set aside; a different header means
    two exports pasted together, whose rows would be read under the wrong years or columns: refused."""
    line = lines[index]
    following = next((text for text in lines[index + 1 :] if text.strip()), "")
    repeats = line == header_text or (line.startswith("sep=") and following == header_text)
    if not repeats:
        raise ExportFormatError(
            file,
            index + 1,
            "1",
            f"a second export starts here ({line[:60]!r}…) with a header other than line "
            f"{lines.index(header_text) + 1}'s; expected one export per file (split the file, "
            "or its rows would be read under the first header's years and columns)",
        )
    what = "sep= line" if line.startswith("sep=") else "header line"
    return {
        "source_line": index + 1,
        "raw_line": line[:500],
        "reason": f"repeated {what} inside the file (two exports pasted together?); "
        "the rows below it have the same columns and are read",
    }


def _check_last_line_ends(lines: list[str], file: str, fields: int) -> None:
    """The portal ends every line with a line break. A last line without one was cut: possibly inside
    its last field (``73`` read as ``7``) or just after a TAB (its last cell read as empty)."""
    if lines[-1].strip():
        raise ExportFormatError(
            file,
            len(lines),
            str(fields),
            "the last line has no line break: the file looks truncated (cut inside this line?); "
            "expected every line, the last one too, to end with a line break as the portal writes it",
        )


def _xlsx_cell_text(value: object) -> str:
    """An xlsx cell as the portal's CSV would write it: decimal comma, integers without ``.0``."""
    if value is None:
        return ""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+\.0+", text):
        return text.split(".")[0]
    if re.fullmatch(r"-?\d+\.\d+", text):
        return text.replace(".", ",")
    return text


# How far down a sheet the header may sit below title rows (a merged title, a note, an empty line).
HEADER_SEARCH_ROWS = 20
SHEET_XML = re.compile(r'<sheet\b[^>]*?\br:id="([^"]+)"')
RELATIONSHIP_XML = re.compile(r'<Relationship\b[^>]*?\bId="([^"]+)"[^>]*?\bTarget="([^"]+)"')
RELATIONSHIP_XML_REVERSED = re.compile(r'<Relationship\b[^>]*?\bTarget="([^"]+)"[^>]*?\bId="([^"]+)"')
ERROR_CELL_XML = re.compile(r'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*?\bt="e"[^>]*>.*?<v>([^<]*)</v>', re.DOTALL)


def _is_header_row(fields: list[str]) -> bool:
    return any(field in HEADER_STARTS for field in fields)


def _xlsx_error_cells(data: bytes, sheet_index: int) -> dict[int, dict[int, str]]:
    """0-based row → column → the error text (``#DIV/0!``) of the sheet's error cells. fastexcel reads
    them as empty cells, which would make a failed formula "no data"; the sheet's XML says ``t="e"``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = archive.read("xl/workbook.xml").decode("utf-8")
        relations = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        targets = dict(RELATIONSHIP_XML.findall(relations))
        targets.update({rid: target for target, rid in RELATIONSHIP_XML_REVERSED.findall(relations)})
        sheet_ids = SHEET_XML.findall(workbook)
        target = targets[sheet_ids[sheet_index]].lstrip("/")
        sheet = archive.read(target if target.startswith("xl/") else f"xl/{target}").decode("utf-8")
    errors: dict[int, dict[int, str]] = {}
    if 't="e"' not in sheet:
        return errors
    for letters, row, text in ERROR_CELL_XML.findall(sheet):
        column = 0
        for letter in letters:
            column = column * 26 + ord(letter) - ord("A") + 1
        errors.setdefault(int(row) - 1, {})[column - 1] = text
    return errors


def _find_header(sheets: list[list[tuple[object, ...]]]) -> tuple[int, int, list[str]] | None:
    """(sheet, 0-based row, header) of the first portal header in the workbook."""
    for sheet_index, records in enumerate(sheets):
        for row_index, record in enumerate(records[:HEADER_SEARCH_ROWS]):
            fields = [_xlsx_cell_text(value) for value in record]
            if _is_header_row(fields):
                return sheet_index, row_index, fields
    return None


def _table_from_xlsx(data: bytes, file: str) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """The first sheet that holds a portal header, from its header row on (title rows and note sheets
    before it are skipped: they hold no figures)."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheets = [
            reader.load_sheet(index, header_row=None, dtypes="string").to_polars().rows()
            for index in range(len(reader.sheet_names))
        ]
    except Exception as error:  # fastexcel raises its own hierarchy
        raise ExportFormatError(file, None, None, f"expected a readable xlsx workbook: {error}") from error
    found = _find_header(sheets)
    if found is None:
        if not any(sheets):
            raise ExportFormatError(file, 1, None, "expected a header row; the first sheet is empty")
        raise ExportFormatError(
            file,
            None,
            None,
            f"no sheet ({', '.join(reader.sheet_names)}) has a statistics-portal header (EnhetNivaa or "
            f"IndikatorNivaa) in its first {HEADER_SEARCH_ROWS} rows",
        )
    sheet_index, header_index, header = found
    records = sheets[sheet_index]
    errors = _xlsx_error_cells(data, sheet_index)
    rows = []
    for index in range(header_index + 1, len(records)):
        fields = [_xlsx_cell_text(value) for value in records[index]]
        for column, text in errors.get(index, {}).items():
            if column < len(fields):
                fields[column] = text
        if any(field.strip() for field in fields):
            rows.append((index + 1, fields))
    return header_index + 1, header, rows


# Excel stores codes as integers; the portal's text codes are zero-padded to these widths.
CODE_WIDTHS = {"Fylkekode": 2, "Kommunekode": 4}


def _restore_code_padding(rows: pl.DataFrame) -> pl.DataFrame:
    fixes = [
        pl.when(pl.col(name).str.contains(r"^\d+$"))
        .then(pl.col(name).str.zfill(width))
        .otherwise(pl.col(name))
        .alias(name)
        for name, width in CODE_WIDTHS.items()
        if name in rows.columns
    ]
    if "Organisasjonsnummer" in rows.columns:
        level = pl.col("EnhetNivaa")
        number = pl.col("Organisasjonsnummer")
        is_digits = number.str.contains(r"^\d+$")
        fixes.append(
            pl.when(is_digits & (level == "2"))
            .then(number.str.zfill(2))
            .when(is_digits & (level == "3") & (number.str.len_chars() <= 4))
            .then(number.str.zfill(4))
            .otherwise(number)
            .alias("Organisasjonsnummer")
        )
    return rows.with_columns(fixes)


def parse_numbers(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Expressions for (value, suppressed, problem) from a raw portal cell."""
    text = raw.str.strip_chars()
    is_empty = text.is_null() | (text == "")
    is_suppressed = text == SUPPRESSED
    is_number = text.str.contains(NUMBER)
    value = (
        pl.when(is_number)
        .then(text.str.replace_all(r"[ \u00a0\u202f]", "").str.replace(",", ".").cast(pl.Float64))
        .otherwise(None)
    )
    expected = "expected a number with decimal comma (e.g. 0,8 or 56 833), '*' or empty"
    problem = (
        pl.when(is_empty | is_suppressed | is_number)
        .then(None)
        .when(text.str.contains(SPREADSHEET_ERROR))
        .then(pl.format("a spreadsheet error '{}' (a formula failed); {}", text, pl.lit(expected)))
        .when(text.str.contains(CONTROL_CHARACTER))
        .then(pl.format("a control character in the cell (a damaged file?); {}", pl.lit(expected)))
        .otherwise(pl.format("{}; found '{}'", pl.lit(expected), text))
    )
    return value, is_suppressed.fill_null(False), problem


def read_export(path: Path, display_name: str | None = None) -> PortalExport:
    """Parse one statistics-portal export (CSV or xlsx) at ``path``."""
    return parse_export(path.read_bytes(), display_name or path.name)


def parse_export(data: bytes, file: str) -> PortalExport:
    """Parse the bytes of one export; ``file`` names it in error messages and lineage."""
    if not data:
        raise ExportFormatError(file, 1, None, "expected a statistics-portal export; the file is empty")
    if data.startswith(b"PK\x03\x04"):
        header_line, header, raw_rows = _table_from_xlsx(data, file)
        encoding, separator = "xlsx", ""
        rejected: list[dict[str, object]] = []
    else:
        text, encoding = decode(data, file)
        separator, header_line, header, raw_rows, rejected = _table_from_text(text, file)
    shape, id_columns, value_columns = _parse_header(header, file, header_line)
    names = [name.strip() for name in header]

    columns: dict[str, list[object]] = {name: [] for name in names}
    columns["source_line"] = []
    for line_number, fields in raw_rows:
        columns["source_line"].append(line_number)
        for name, field in zip(names, fields, strict=True):
            columns[name].append(field)
    wide = pl.DataFrame(
        columns,
        schema={**{name: pl.String for name in names}, "source_line": pl.Int64},
    )
    rows = wide.select("source_line", *[pl.col(name).str.strip_chars() for name in id_columns])
    if shape == "unit_rows":
        rows = _restore_code_padding(rows)

    column_info = pl.DataFrame(
        {
            "column": [c.name for c in value_columns],
            "column_position": [c.position for c in value_columns],
            "school_year": [c.school_year for c in value_columns],
            "dimensions": [list(c.dimensions) for c in value_columns],
            "measure": [c.measure for c in value_columns],
            "break_column": [c.break_column for c in value_columns],
        },
        schema={
            "column": pl.String,
            "column_position": pl.Int64,
            "school_year": pl.String,
            "dimensions": pl.List(pl.String),
            "measure": pl.String,
            "break_column": pl.String,
        },
    )
    cells = wide.unpivot(
        index="source_line",
        on=[c.name for c in value_columns],
        variable_name="column",
        value_name="raw",
    ).join(column_info, on="column", how="left")
    break_names = [c.break_column for c in value_columns if c.break_column]
    if break_names:
        notes = wide.unpivot(
            index="source_line",
            on=break_names,
            variable_name="break_column",
            value_name="break_note",
        ).with_columns(pl.col("break_note").str.strip_chars().replace("", None))
        cells = cells.join(notes, on=["source_line", "break_column"], how="left")
    else:
        cells = cells.with_columns(pl.lit(None, pl.String).alias("break_note"))
    value, suppressed, problem = parse_numbers(pl.col("raw"))
    cells = (
        cells.with_columns(value.alias("value"), suppressed.alias("suppressed"), problem.alias("problem"))
        .drop("break_column")
        .sort("source_line", "column_position")
    )
    return PortalExport(
        file=file,
        encoding=encoding,
        separator=separator,
        shape=shape,
        id_columns=id_columns,
        value_columns=value_columns,
        rows=rows,
        cells=cells,
        rejected_lines=pl.DataFrame(rejected, schema=REJECTED_SCHEMA),
        header_line=header_line,
    )
