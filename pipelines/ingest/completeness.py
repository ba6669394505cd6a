"""What an export must hold, checked before any of its figures is used, so that nothing is lost silently.

A cut file parses: cut at a line break, every line it keeps is whole. What gives it away is what is
missing, and what must be there is known:

* **columns**: a value column comes with its partners in the same school year and dimensions (the
  source mapping says which: ``Skalapoeng`` with ``Usikkerhet`` and ``Antall elever deltatt``, every
  mastery level of the grade), and a count or uncertainty column never stands without its value;
* **units** (statistics-portal CSV with one unit per line): the national row; a fylke row for every
  fylke of the kommune register of the file's newest school year; a fylke row above every kommune and
  school, a kommune row above every school of a kommune report; and in the fylke the file ends in, every
  kommune of the register that would come after the file's last kommune in the file's own order
  (by name, as the portal writes, or by code).

Kommuner missing elsewhere are how the portal shows units it suppressed whole, and are not refused. An
xlsx workbook is not checked for units: a cut workbook is a broken zip and unreadable (refused when
read), so rows missing from a readable one were removed on purpose (the embedded excerpt is one).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable

import polars as pl

from pipelines.ingest.portal_format import ExportFormatError, PortalExport
from pipelines.ingest.sources.mapping import SourceMapping
from pipelines.ingest.unit_names import VALIDITY_SUFFIX
from pipelines.reference.registers import (
    PSEUDO_COUNTIES,
    PSEUDO_MUNICIPALITIES,
    Registers,
    nominal_structure,
    short_name,
)

# Norwegian alphabetical order: æ, ø, å after z, "aa" as å (Aarborte after Øksnes); other accents
# (á, š) sort as their base letter.
NORWEGIAN_LAST_LETTERS = str.maketrans({"æ": "{", "ø": "|", "å": "}"})


def check_columns(export: PortalExport, mapping: SourceMapping) -> None:
    """Every value column has its partners, and every count or uncertainty its value (see the module
    docstring); the first gap is refused with the header line and the column beside the gap."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[str, int]]] = defaultdict(list)
    for column in export.value_columns:
        groups[(column.school_year, column.dimensions)].append((column.measure, column.position))
    for (school_year, dimensions), columns in groups.items():
        measures = {measure for measure, _ in columns}
        roles = {measure: mapping.measure(measure) for measure in measures}
        values = {measure for measure, role in roles.items() if role and role.role == "value"}
        where = ".".join((school_year, *dimensions))
        missing = list(mapping.missing_partners(frozenset(measures), dimensions)) if values else []
        if not values:
            lonely = [(m, p) for m, p in columns if roles[m] is not None]
            if not lonely:
                continue
            measure, position = lonely[0]
            expected = "a value column (such as Skalapoeng or Andel …)"
        elif missing:
            measure, position = next((m, p) for m, p in columns if m in values)
            expected = ", ".join(f"'{name}'" for name in missing)
        else:
            continue
        raise ExportFormatError(
            export.file,
            export.header_line,
            f"{position} ({where}.{measure!r})",
            f"{expected} missing beside it in {where}; expected the portal's columns of this report "
            "together (a column was removed or the file edited): its figures would be read without "
            "what they need",
        )


def check_units(export: PortalExport, registers: Registers) -> None:
    """The units a statistics-portal CSV must hold (see the module docstring)."""
    if export.shape != "unit_rows" or export.encoding == "xlsx" or export.rows.is_empty():
        return
    rows = export.rows
    last_line = int(rows["source_line"].max())  # type: ignore[arg-type]
    school_year = max(column.school_year for column in export.value_columns)
    structure = nominal_structure(school_year)
    if rows.filter(pl.col("EnhetNivaa") == "1").is_empty():
        raise ExportFormatError(
            export.file,
            int(rows["source_line"].min()),  # type: ignore[arg-type]
            "EnhetNivaa",
            "no national row (EnhetNivaa 1); expected the portal's 'Hele landet' line above the "
            "fylker: the file looks cut at its start or edited",
        )
    _check_counties(export, registers, structure, school_year, last_line)
    if rows.filter(pl.col("EnhetNivaa").is_in(["3", "4"])).is_empty():
        raise ExportFormatError(
            export.file,
            last_line,
            "EnhetNivaa",
            f"no kommune or school rows after the national and fylke rows; the file ends at line "
            f"{last_line}: it looks truncated",
        )
    if "Kommunekode" in rows.columns and not rows.filter(pl.col("EnhetNivaa") == "3").is_empty():
        _check_municipalities(export, registers, structure, school_year, last_line)


def _check_counties(
    export: PortalExport, registers: Registers, structure: int, school_year: str, last_line: int
) -> None:
    rows = export.rows
    counties = set(rows.filter(pl.col("EnhetNivaa") == "2")["Fylkekode"].to_list())
    register = registers.counties.filter((pl.col("structure") == structure) & ~pl.col("is_pseudo"))
    missing = register.filter(~pl.col("county_code").is_in(list(counties)))
    if missing.height:
        code, name = missing.select("county_code", "county_name").row(0)
        raise ExportFormatError(
            export.file,
            last_line,
            "Fylkekode",
            f"no row for fylke {code} {name} ({missing.height} of the {register.height} fylker of the "
            f"{structure} register, which {school_year} uses, are missing); the file ends at line "
            f"{last_line}: it looks truncated (expected every fylke of its year)",
        )
    below = rows.filter(
        pl.col("EnhetNivaa").is_in(["3", "4"]) & ~pl.col("Fylkekode").is_in([*counties, *PSEUDO_COUNTIES, ""])
    )
    if below.height:
        line, code = below.select("source_line", "Fylkekode").row(0)
        raise ExportFormatError(
            export.file,
            line,
            "Fylkekode",
            f"fylke {code} has no fylke row, though this line is in it; expected the portal's fylke "
            "row for every fylke it lists units of (lines removed, or two files pasted?)",
        )


def _check_municipalities(
    export: PortalExport, registers: Registers, structure: int, school_year: str, last_line: int
) -> None:
    rows = export.rows
    municipality_rows = rows.filter(pl.col("EnhetNivaa") == "3")
    present = set(municipality_rows["Kommunekode"].to_list())
    orphans = rows.filter(
        (pl.col("EnhetNivaa") == "4")
        & ~pl.col("Kommunekode").is_in([*present, *PSEUDO_MUNICIPALITIES, "", "0000"])
    )
    if orphans.height:
        line, code = orphans.select("source_line", "Kommunekode").row(0)
        raise ExportFormatError(
            export.file,
            line,
            "Kommunekode",
            f"kommune {code} has no kommune row, though this school is in it; expected the portal's "
            "kommune row above its schools (lines removed, or two files pasted?)",
        )
    # Where each fylke's block is in the file: the fylke rows' order (every fylke has one by now).
    position = {
        code: index
        for index, code in enumerate(rows.filter(pl.col("EnhetNivaa") == "2")["Fylkekode"].to_list())
    }
    listed = municipality_rows.select(
        "Kommunekode",
        "Fylkekode",
        pl.col("Kommune") if "Kommune" in rows.columns else pl.col("Kommunekode").alias("Kommune"),
    )
    order = _file_order(listed.rows(), position)
    last_code, last_county, last_name = listed.row(-1)
    last_key = order(last_code, last_county, last_name)
    register = registers.municipalities.filter(
        (pl.col("structure") == structure)
        & ~pl.col("is_pseudo")
        & ~pl.col("municipality_code").is_in(list(present))
    ).select("municipality_code", "county_code", "municipality_name")
    cut = sorted((order(*unit), unit) for unit in register.rows() if order(*unit) > last_key)
    if cut:
        code, county, name = cut[0][1]
        raise ExportFormatError(
            export.file,
            last_line,
            "Kommunekode",
            f"no row for kommune {code} {name} (fylke {county}); {len(cut)} kommuner of the {structure} "
            f"register, which {school_year} uses, would follow the file's last kommune, {last_code} "
            f"{last_name}, and are missing: the file looks truncated after line {last_line}",
        )


def name_key(name: str) -> str:
    """A kommune name as Norwegian alphabetical order sorts it."""
    folded = short_name(VALIDITY_SUFFIX.sub("", name)).casefold().replace("aa", "å")
    folded = folded.translate(NORWEGIAN_LAST_LETTERS)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


# A kommune's place in the file's order, from its code, fylke and name.
OrderKey = Callable[[str, str, str], tuple[int, str]]


def _file_order(listed: list[tuple[str, str, str]], position: dict[str, int]) -> OrderKey:
    """The order the file lists its kommuner in: fylke blocks as its fylke rows are ordered, and in
    each, by name (the portal) or by code. In neither, every missing kommune counts as after the last
    listed one of its fylke, so that any there is refused rather than a cut passing."""

    def by_name(code: str, county: str, name: str) -> tuple[int, str]:
        return position.get(county, len(position)), name_key(name)

    def by_code(code: str, county: str, name: str) -> tuple[int, str]:
        return position.get(county, len(position)), code

    listed_codes = {code for code, _, _ in listed}

    def unknown(code: str, county: str, name: str) -> tuple[int, str]:
        return position.get(county, len(position)), "0" if code in listed_codes else "1"

    for key in (by_name, by_code):
        keys = [key(*unit) for unit in listed]
        if keys == sorted(keys):
            return key
    return unknown
