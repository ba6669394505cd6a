"""A corpus of hostile files, each made by code from a real Udir sample (nothing committed by hand).

Every case is a function returning the file's name and bytes, and what the pipeline must do with it:

* :class:`Refused`: the parser raises ``ExportFormatError`` naming the file, the line and the column,
  with ``expected`` in its message;
* :class:`Quarantined`: the file is read, and the quarantine holds rows of ``lines`` only, whose reasons
  contain ``reason`` (or ``also``, for the other cells of such a line);
* :class:`ReadAsClean`: a valid file in an odd shape, read to exactly the clean sample's figures;
* :class:`Read`: a valid file, read with nothing quarantined.

A case whose outcome has ``beside`` files is read in a folder with them (the same report of other school
years, against which the folder-level checks compare it).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import xlsxwriter

from tests.conftest import GSP, NP5, NP8, SKOLEPORTEN

TEXT = NP5.read_bytes().decode("utf-16-le")
LINES = TEXT.split("\n")  # the last is "" after the final line break
HEADER = LINES[1].split("\t")
ARENDAL = 4  # index of line 5, kommune 4203 Arendal
GRIMSTAD = next(n for n, line in enumerate(LINES) if line.startswith("3\t") and "\t4202\t" in line)
LESING = [name for name in HEADER if ".Lesing." in name]


Beside = tuple[tuple[str, bytes], ...]  # other files of the folder: name and bytes


@dataclass(frozen=True)
class Refused:
    line: int
    column: str
    expected: str
    beside: Beside = ()


@dataclass(frozen=True)
class Quarantined:
    lines: set[int]
    reason: str
    also: str | None = None  # the reason of the line's other cells, where it differs


@dataclass(frozen=True)
class ReadAsClean:
    clean: Path  # the sample whose figures must come out


@dataclass(frozen=True)
class Read:
    beside: Beside = ()


Outcome = Refused | Quarantined | ReadAsClean | Read
Case = tuple[str, bytes, Outcome]


def utf16(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-16-le")


def with_field(index: int, column: str, value: str) -> list[str]:
    """The 5th-grade sample with one cell of line ``index + 1`` replaced."""
    fields = LINES[index].split("\t")
    fields[HEADER.index(column)] = value
    return [*LINES[:index], "\t".join(fields), *LINES[index + 1 :]]


def without_columns(*names: str) -> list[str]:
    positions = {HEADER.index(name) for name in names}
    return ["\t".join(f for i, f in enumerate(line.split("\t")) if i not in positions) for line in LINES]


# Refused: cut files ---------------------------------------------------------------------------------


def cut_at_a_line_break() -> Case:
    """744 lines kept, each whole: the later fylker are missing."""
    return "cut_744.csv", utf16([*LINES[:744], ""]), Refused(744, "Fylkekode", "no row for fylke")


def cut_at_a_line_break_in_the_last_fylke() -> Case:
    """Cut after Moss's schools in Østfold, the last fylke: its later kommuner are missing."""
    moss = next(n for n, line in enumerate(LINES) if line.startswith("3\t") and line.split("\t")[7] == "Moss")
    end = next(n for n in range(moss + 1, len(LINES)) if LINES[n].startswith("3\t"))
    return "cut_ostfold.csv", utf16([*LINES[:end], ""]), Refused(end, "Kommunekode", "looks truncated")


def cut_just_after_a_tab() -> Case:
    """The last line stops after the TAB before its pupil count: the count would read as no data."""
    last = LINES[-2]
    kept = last[: last.rindex("\t") + 1]
    return "cut_tab.csv", utf16([*LINES[:-2], kept]), Refused(len(LINES) - 1, "18", "no line break")


def cut_inside_a_count() -> Case:
    """The last count ``34`` cut to ``3``: a whole line with a wrong number, but no line break."""
    return (
        "cut_count.csv",
        utf16([*LINES[:-2], LINES[-2][:-1]]),
        Refused(len(LINES) - 1, "18", "no line break"),
    )


# Cut inside the last kommune's schools: whole lines, every kommune there; the other years tell ---------

NP8_LINES = NP8.read_bytes().decode("utf-16-le").split("\n")
VALER = len(NP8_LINES) - 3  # index of the ungdomstrinn file's last kommune row, 3114 Våler (Østfold)
VALER_SCHOOL = "4\tI\t31\t3114\t975280799\tHele landet\tØstfold\tVåler (Østfold)\tVålerbyen skole"
COUNTS = [11, 14, 17]  # Antall elever deltatt of Engelsk, Lesing, Regning


def with_counts_added(line: str, extra: int) -> str:
    """A unit row with ``extra`` pupils more in every count column."""
    fields = line.split("\t")
    for position in COUNTS:
        fields[position] = str(int(fields[position].replace(" ", "")) + extra)
    return "\t".join(fields)


def np8_next_year_with_a_later_valer_school() -> tuple[str, bytes]:
    """The ungdomstrinn file as 2025-26, when Våler had a second school after Våler ungdomsskole."""
    lines = [line.replace("2024-25.", "2025-26.") for line in NP8_LINES]
    lines[VALER] = with_counts_added(lines[VALER], 25)
    school = VALER_SCHOOL + "\t" + "\t".join(["48", "3,0", "25"] * 3)
    return "2025-26_ungdomstrinn.csv", utf16([*lines[:-1], school, ""])


def cut_before_the_last_kommunes_schools() -> Case:
    """The 5th-grade file cut after Våler's kommune row: its three schools are gone, every kommune is
    there. The same report a year on lists them; Våler's own 72 pupils are in none of its schools."""
    valer = len(LINES) - 5
    next_year = "2025-26_5.csv", utf16([line.replace("2024-25.", "2025-26.") for line in LINES])
    return (
        "cut_valer.csv",
        utf16([*LINES[: valer + 1], ""]),
        Refused(valer + 1, "Kommunekode", "3 after them", beside=(next_year,)),
    )


def cut_inside_the_last_kommunes_schools() -> Case:
    """Våler's second school (25 pupils, listed a year on) cut off: Våler counts 105 pupils, its one
    school here 80."""
    lines = [*NP8_LINES]
    lines[VALER] = with_counts_added(lines[VALER], 25)
    return (
        "cut_valerbyen.csv",
        utf16(lines),
        Refused(
            len(NP8_LINES) - 1,
            "Kommunekode",
            "is 105 pupils where its schools here hold 80",
            beside=(np8_next_year_with_a_later_valer_school(),),
        ),
    )


def last_kommunes_school_closed() -> Case:
    """The real file beside a year when Våler had a second school: that school closed (Våler's own count
    is its one school's), so nothing is missing."""
    return "valer_closed.csv", NP8.read_bytes(), Read(beside=(np8_next_year_with_a_later_valer_school(),))


# Refused: columns without their partners ------------------------------------------------------------


def missing_value_column() -> Case:
    column = next(name for name in LESING if name.endswith("Skalapoeng"))
    return "no_value.csv", utf16(without_columns(column)), Refused(2, "", "a value column")


def missing_count_column() -> Case:
    column = next(name for name in LESING if name.endswith("Antall elever deltatt"))
    return "no_count.csv", utf16(without_columns(column)), Refused(2, "", "'Antall elever deltatt' missing")


def missing_uncertainty_column() -> Case:
    column = next(name for name in LESING if name.endswith("Usikkerhet"))
    return "no_error.csv", utf16(without_columns(column)), Refused(2, "", "'Usikkerhet' missing")


def missing_mastery_level() -> Case:
    """The sample as a mastery-level report (5th grade: three levels) with level 3 gone."""
    header = (
        LINES[1]
        .replace(".Skalapoeng", ".Andel på mestringsnivå 1")
        .replace(".Usikkerhet", ".Andel på mestringsnivå 2")
    )
    return "mastery.csv", utf16([LINES[0], header, *LINES[2:]]), Refused(2, "", "'Andel på mestringsnivå 3'")


# Refused: two exports in one file, units without the rows they imply --------------------------------


def next_years_export_pasted_below() -> Case:
    """The same report for 2025-26 pasted under 2024-25: its rows would be read as 2024-25."""
    later = [line.replace("2024-25.", "2025-26.") for line in LINES]
    return "pasted.csv", utf16([*LINES[:-1], *later]), Refused(len(LINES), "1", "a second export")


def second_header_without_sep_line() -> Case:
    later = [line.replace("2024-25.", "2025-26.") for line in LINES[1:]]
    return "pasted2.csv", utf16([*LINES[:-1], *later]), Refused(len(LINES), "1", "a second export")


def no_national_row() -> Case:
    return "no_nation.csv", utf16([*LINES[:2], *LINES[3:]]), Refused(3, "EnhetNivaa", "no national row")


def school_without_its_kommune_row() -> Case:
    lines = [*LINES[:ARENDAL], *LINES[ARENDAL + 1 :]]
    return "no_kommune.csv", utf16(lines), Refused(5, "Kommunekode", "kommune 4203 has no kommune row")


def cut_workbook() -> Case:
    data = GSP.read_bytes()
    return "cut.xlsx", data[: len(data) // 2], Refused(0, "", "expected a readable xlsx workbook")


# Quarantined ----------------------------------------------------------------------------------------


def conflicting_duplicate_line() -> Case:
    """Arendal twice with different Lesing figures: neither may be picked."""
    changed = with_field(ARENDAL, LESING[0], "52")[ARENDAL]
    lines = [*LINES[:-1], changed, ""]
    # Its Engelsk and Regning copies agree: counted once, the copy noted.
    return (
        "conflict.csv",
        utf16(lines),
        Quarantined(
            {5, len(LINES)}, "conflicting copies of one figure", also="identical copy of conflict.csv:2470"
        ),
    )


def identical_duplicate_line() -> Case:
    lines = [*LINES[:-1], LINES[ARENDAL], ""]
    # The later line is kept (as the newer of two exports would be); the figures are the same.
    return "twice.csv", utf16(lines), Quarantined({5}, f"identical copy of twice.csv:{len(LINES)}")


def error_cell(text: str) -> Callable[[], Case]:
    def case() -> Case:
        return (
            f"error_{text}.csv",
            utf16(with_field(ARENDAL, LESING[0], text)),
            Quarantined({5}, f"a spreadsheet error '{text}'"),
        )

    case.__name__ = f"error_cell_{text}"
    return case


def nul_in_a_school_name() -> Case:
    school = ARENDAL + 1
    return (
        "nul.csv",
        utf16(with_field(school, "EnhetNavn", "Asdal\x00 skole")),
        Quarantined({school + 1}, "a control character in EnhetNavn"),
    )


def kommune_code_and_name_disagree() -> Case:
    """Kommunekode says Grimstad (4202), the Kommune column Arendal."""
    return (
        "grimstad.csv",
        utf16(with_field(GRIMSTAD, "Kommune", "Arendal")),
        Quarantined(
            {GRIMSTAD + 1}, "Kommunekode 4202 is kommune Grimstad in the register, but Kommune says 'Arendal'"
        ),
    )


def fylke_code_and_name_disagree() -> Case:
    return (
        "fylke.csv",
        utf16(with_field(3, "Fylke", "Rogaland")),
        Quarantined({4}, "Fylkekode 42 is fylke Agder in the register, but Fylke says 'Rogaland'"),
    )


def huge_pupil_count() -> Case:
    column = next(name for name in LESING if name.endswith("Antall elever deltatt"))
    return (
        "huge.csv",
        utf16(with_field(ARENDAL, column, "99999999999999999999")),
        Quarantined({5}, "expected a pupil count; found '99999999999999999999', more than 10000000"),
    )


def repeated_identical_header() -> Case:
    lines = [*LINES[:50], LINES[1], *LINES[50:]]
    return "header_twice.csv", utf16(lines), Quarantined({51}, "repeated header line")


def error_cell_in_a_workbook() -> Case:
    """The grunnskolepoeng workbook with a failed formula (#DIV/0!) where Arendal's 2015-16 points are."""
    records = _gsp_records()
    row = next(
        i for i, record in enumerate(records) if record[3] in ("4203", 4203.0) and record[0] in ("3", 3.0)
    )
    column = next(i for i, name in enumerate(records[0]) if str(name).endswith("Grunnskolepoeng"))
    return "div0.xlsx", _workbook(records, formula_at=(row, column)), Quarantined({row + 1}, "'#DIV/0!'")


# Read as the clean file -----------------------------------------------------------------------------


def excel_quoted_fields() -> Case:
    """As Excel saves it: ``;``-separated UTF-8, every field quoted, names holding ``;`` too."""

    def quoted(line: str) -> str:
        return ";".join('"' + field.replace('"', '""') + '"' for field in line.split("\t"))

    text = "\r\n".join(["sep=;", *[quoted(line) for line in LINES[1:-1]], ""])
    return "quoted.csv", text.encode("utf-8-sig"), ReadAsClean(NP5)


def lone_cr_line_breaks() -> Case:
    return "cr.csv", TEXT.replace("\n", "\r").encode("utf-16-le"), ReadAsClean(NP5)


def note_sheet_before_the_data() -> Case:
    return "note_first.xlsx", _workbook(_gsp_records(), note_sheet=True), ReadAsClean(GSP)


def merged_title_row() -> Case:
    return "title.xlsx", _workbook(_gsp_records(), title_row=True), ReadAsClean(GSP)


def skoleporten_columns_reordered() -> Case:
    lines = SKOLEPORTEN.read_bytes().decode("utf-8-sig").split("\r\n")
    order = list(reversed(range(len(lines[0].split(";")))))
    moved = [";".join(line.split(";")[i] for i in order) if line else line for line in lines]
    return "skoleporten_reordered.csv", "\r\n".join(moved).encode("utf-8-sig"), ReadAsClean(SKOLEPORTEN)


def _gsp_records() -> list[tuple[object, ...]]:
    sheet = fastexcel.read_excel(GSP.read_bytes()).load_sheet(0, header_row=None, dtypes="string")
    return sheet.to_polars().rows()


def _workbook(
    records: list[tuple[object, ...]],
    *,
    note_sheet: bool = False,
    title_row: bool = False,
    formula_at: tuple[int, int] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    if note_sheet:
        workbook.add_worksheet("Merknad").write(0, 0, "Kilde: Utdanningsdirektoratet, Statistikkportalen")
    sheet = workbook.add_worksheet("Data")
    offset = 0
    if title_row:
        sheet.merge_range(0, 0, 0, 5, "Grunnskolepoeng 2015-16 til 2020-21")
        offset = 1
    for r, record in enumerate(records):
        for c, value in enumerate(record):
            if (r, c) == formula_at:
                sheet.write_formula(r + offset, c, "=1/0", None, "#DIV/0!")
            elif value is not None:
                sheet.write_string(r + offset, c, str(value))
    workbook.close()
    return buffer.getvalue()


CASES: list[Callable[[], Case]] = [
    cut_at_a_line_break,
    cut_at_a_line_break_in_the_last_fylke,
    cut_just_after_a_tab,
    cut_inside_a_count,
    missing_value_column,
    missing_count_column,
    missing_uncertainty_column,
    missing_mastery_level,
    next_years_export_pasted_below,
    second_header_without_sep_line,
    no_national_row,
    school_without_its_kommune_row,
    cut_workbook,
    cut_before_the_last_kommunes_schools,
    cut_inside_the_last_kommunes_schools,
    last_kommunes_school_closed,
    conflicting_duplicate_line,
    identical_duplicate_line,
    *[error_cell(text) for text in ("#DIV/0!", "#N/A", "#VERDI!", "#REF!", "#I/T")],
    nul_in_a_school_name,
    kommune_code_and_name_disagree,
    fylke_code_and_name_disagree,
    huge_pupil_count,
    repeated_identical_header,
    error_cell_in_a_workbook,
    excel_quoted_fields,
    lone_cr_line_breaks,
    note_sheet_before_the_data,
    merged_title_row,
    skoleporten_columns_reordered,
]
