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

* **the last unit's schools, against the same report of other school years** (checked on a whole
  folder, :func:`check_against_other_years`): a file cut inside the schools of the unit it ends in (its
  last kommune; its last fylke when it has no kommune rows) keeps every kommune, so nothing above
  shows it. Another file of the folder is the same report when its source and its figures (indicator,
  grade, subject, breakdown, measure: the parsed header, not the file name) are the same and its newest
  school year differs. The file is refused when, against one of them (nearest year first), both hold:
  (1) the unit's schools here, in the file's order, are a strict prefix of the unit's schools there,
  so the other year lists schools after the last one here; and (2) for some figure where every school
  listed here has a published count, the unit's own count exceeds their sum by at least the file's
  smallest published school count. Why a valid file is not refused: the portal's kommune or fylke
  count is the sum of its schools' counts (every fully counted kommune of both real 2024-25 files: a
  difference of 0), so (2) fails for a valid unit whatever schools opened or closed: a school that
  closed takes its pupils out of the unit's count too. A school that opened or was renamed breaks (1)
  unless it sorts last, and then it is listed here and is not in the other year, so (1) fails again.
  Figures with a school's count hidden ('*') give no evidence (it could hold the pupils), nor does a
  unit whose count is hidden, nor a file with a quarantined line in that unit's block (a school set
  aside there would look missing, and the quarantine says so already). The price: a cut is not seen
  when every figure has a hidden count among the schools kept (5th-grade Våler cut after its two
  hidden schools), or when only a school smaller than any published one is cut off.

Kommuner missing elsewhere are how the portal shows units it suppressed whole, and are not refused. An
xlsx workbook is not checked for units: a cut workbook is a broken zip and unreadable (refused when
read), so rows missing from a readable one were removed on purpose (the embedded excerpt is one).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable
from typing import cast

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


# What a report is, apart from its school years: files of one report list the same figures each year.
REPORT_SHAPE = ["indicator", "grade", "subject", "breakdown", "measure"]


def check_against_other_years(
    observations: pl.DataFrame, quarantine: pl.DataFrame, files: pl.DataFrame
) -> None:
    """The unit a statistics-portal CSV ends in holds the schools its own count says (module docstring).

    ``observations`` and ``quarantine`` are a folder's parse, ``files`` its file summary; the first file
    cut inside its last unit's schools is refused.
    """
    csv_files = files.filter((pl.col("encoding") != "xlsx") & (pl.col("source") != "skoleporten"))
    if csv_files.height < 2:
        return
    rows = observations.filter(pl.col("source_file").is_in(csv_files["source_file"].to_list()))
    shapes = rows.group_by("source_file").agg(
        pl.col("source").first(),
        pl.col("school_year").max().alias("year"),
        pl.concat_str([pl.col(c).fill_null("") for c in REPORT_SHAPE], separator="|")
        .unique()
        .sort()
        .str.join(";")
        .alias("shape"),
    )
    by_file = rows.partition_by("source_file", as_dict=True)
    for name, source, year, shape in shapes.sort("source_file").iter_rows():
        others = shapes.filter(
            (pl.col("source") == source) & (pl.col("shape") == shape) & (pl.col("year") != year)
        )
        if not others.height:
            continue
        own = by_file[(name,)]
        lines = quarantine.filter(pl.col("source_file") == name)["source_line"].drop_nulls()
        end = _last_unit(own, int(lines.max()) if lines.len() else 0)  # type: ignore[arg-type]
        if end is None:
            continue
        # The nearest school years first: the neighbouring year's file lists the same schools most nearly.
        ranked = others.with_columns(
            (pl.col("year").str.slice(0, 4).cast(pl.Int32) - int(year[:4])).abs().alias("_distance")
        ).sort("_distance", "year", "source_file")
        for other, other_year in ranked.select("source_file", "year").iter_rows():
            _check_last_unit(name, year, own, end, other, other_year, by_file[(other,)])


def _last_unit(rows: pl.DataFrame, last_quarantined: int) -> tuple[str, str, int] | None:
    """The unit the file ends in: its level column, code and the line of its own row; None where the
    file does not end in a kommune's or fylke's schools, or a quarantined line is in that unit's block
    (a school set aside there would look missing: the quarantine already says so)."""
    with_municipalities = not rows.filter(pl.col("level") == "municipality").is_empty()
    level, column = (
        ("municipality", "municipality_code") if with_municipalities else ("county", "county_code")
    )
    last = rows.filter(pl.col("source_line") == pl.col("source_line").max()).row(0, named=True)
    if last["level"] not in (level, "school") or last[column] is None:
        return None
    code = last[column]
    own = rows.filter((pl.col("level") == level) & (pl.col("unit_code") == code))
    if own.is_empty():
        return None
    line = int(own["source_line"].min())  # type: ignore[arg-type]
    if last_quarantined > line:
        return None
    return column, code, line


def _schools(rows: pl.DataFrame, column: str, code: str) -> list[str]:
    """The unit's schools, in the file's order."""
    listed = rows.filter((pl.col("level") == "school") & (pl.col(column) == code))
    return (
        listed.group_by("unit_code")
        .agg(pl.col("source_line").min())
        .sort("source_line")["unit_code"]
        .to_list()
    )


def _check_last_unit(
    name: str,
    year: str,
    rows: pl.DataFrame,
    end: tuple[str, str, int],
    other: str,
    other_year: str,
    other_rows: pl.DataFrame,
) -> None:
    column, code, unit_line = end
    level = "municipality" if column == "municipality_code" else "county"
    noun = "kommune" if level == "municipality" else "fylke"
    present = _schools(rows, column, code)
    before = _schools(other_rows, column, code)
    # Evidence 1: the schools here are the first of the neighbouring year's, and it lists more after.
    if len(before) <= len(present) or before[: len(present)] != present:
        return
    # Evidence 2: the unit's own count holds pupils its listed schools do not, at least one school's
    # worth (the file's smallest published school count); figures with a school's count hidden say
    # nothing (it could hold them).
    counts = rows.filter(pl.col("school_year") == year)
    schools = counts.filter(pl.col("level") == "school")
    smallest = cast("int | None", schools["n"].min())
    if smallest is None:
        return
    shortfalls = (
        counts.filter((pl.col("level") == level) & (pl.col("unit_code") == code) & pl.col("n").is_not_null())
        .select(*REPORT_SHAPE, pl.col("n").alias("_unit"), "source_column")
        .join(
            schools.filter(pl.col(column) == code)
            .group_by(REPORT_SHAPE)
            .agg(pl.col("n").sum().alias("_schools"), pl.col("n").is_null().sum().alias("_hidden")),
            on=REPORT_SHAPE,
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("_schools").fill_null(0), pl.col("_hidden").fill_null(0))
        .filter((pl.col("_hidden") == 0) & (pl.col("_unit") - pl.col("_schools") >= smallest))
        .sort("source_column")
    )
    if shortfalls.is_empty():
        return
    unit_n, schools_n, where = shortfalls.select("_unit", "_schools", "source_column").row(0)
    last_line = int(rows["source_line"].max())  # type: ignore[arg-type]
    names = dict(
        other_rows.filter(pl.col("level") == "school")
        .select("unit_code", "unit_name")
        .unique("unit_code")
        .iter_rows()
    )
    missing = before[len(present) :]
    listed = ", ".join(f"{school} {names.get(school, '')}".strip() for school in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    unit_name = rows.filter(pl.col("source_line") == unit_line)["unit_name"][0]
    raise ExportFormatError(
        name,
        last_line,
        "Kommunekode" if level == "municipality" else "Fylkekode",
        f"the file ends in {noun} {code} {unit_name} (its row at line {unit_line}) after {len(present)} of "
        f"its schools, but {other} ({other_year}) lists {len(missing)} after them ({listed}{more}), and "
        f"{noun} {code}'s own count in {where} is {unit_n} pupils where its schools here hold {schools_n}: "
        f"{unit_n - schools_n} pupils are missing, at least one school's worth ({smallest}); expected its "
        f"remaining school rows: the file looks truncated after line {last_line}",
    )
