"""Small statistics-portal files for tests, written byte for byte in Udir's style.

The portal lists every fylke and kommune of the year's register, and the parser refuses a file that
lacks them (it looks cut); :func:`portal_bytes` therefore pads the rows a test gives with empty rows
("no data") for every other unit, in the register's order, so that a test file is a whole export.
"""

from __future__ import annotations

import functools

import polars as pl

from pipelines.ingest.portal_format import UNIT_ID_COLUMNS
from pipelines.reference.registers import Registers, load_registers, nominal_structure
from pipelines.settings import REFERENCE_DIR

ID_COLUMNS = list(UNIT_ID_COLUMNS)


def national(values: list[str]) -> list[str]:
    return [
        "1",
        "I",
        "00",
        "0000",
        "I",
        "Hele landet",
        "Alle fylker",
        "Alle kommuner",
        "Alle skoler",
        *values,
    ]


def county(code: str, name: str, values: list[str]) -> list[str]:
    return [
        "2",
        "I",
        code,
        "0000",
        code,
        "Hele landet",
        name,
        "Alle kommuner",
        "Alle skoler",
        *values,
    ]


def municipality(county_code: str, code: str, name: str, values: list[str]) -> list[str]:
    return ["3", "I", county_code, code, code, "Hele landet", "", name, "Alle skoler", *values]


def school(county_code: str, code: str, orgnr: str, name: str, values: list[str]) -> list[str]:
    return ["4", "I", county_code, code, orgnr, "Hele landet", "", "", name, *values]


@functools.cache
def _registers() -> Registers:
    return load_registers(REFERENCE_DIR)


def whole_export(value_columns: list[str], rows: list[list[str]]) -> list[list[str]]:
    """``rows`` and an empty row for every other unit of the register of the newest school year, in
    code order: national, the fylke rows, then per fylke its kommuner, each before its schools."""
    years = sorted(column.split(".")[0] for column in value_columns)
    if not rows or not years[-1][:4].isdigit():
        return rows
    structure = nominal_structure(years[-1])
    registers = _registers()
    empty = [""] * len(value_columns)
    # The registers name fylker from 2020 on only ("Fylke 02" before): those rows are left unnamed.
    county_names = {
        code: "" if name == f"Fylke {code}" else name
        for code, name in registers.counties.filter((pl.col("structure") == structure) & ~pl.col("is_pseudo"))
        .select("county_code", "county_name")
        .iter_rows()
    }
    blocks = {
        (county_code, code): name
        for county_code, code, name in registers.municipalities.filter(
            (pl.col("structure") == structure) & ~pl.col("is_pseudo")
        )
        .select("county_code", "municipality_code", "municipality_name")
        .iter_rows()
    }
    below = [row for row in rows if row[0] in ("3", "4")]
    for row in [row for row in rows if row[0] == "2"] + below:
        county_names.setdefault(row[2], row[6] or row[2])
    placed = [row for row in below if row[3] not in ("", "0000")]
    blocks.update({(row[2], row[3]): row[7] or row[3] for row in placed})
    given_counties = {row[2]: row for row in rows if row[0] == "2"}
    given_municipalities = {(row[2], row[3]): row for row in rows if row[0] == "3"}
    out = [row for row in rows if row[0] == "1"] or [national(empty)]
    out += [
        given_counties.get(code) or county(code, name, empty) for code, name in sorted(county_names.items())
    ]
    for (county_code, code), name in sorted(blocks.items()):
        out.append(
            given_municipalities.get((county_code, code)) or municipality(county_code, code, name, empty)
        )
        out += [row for row in placed if row[0] == "4" and (row[2], row[3]) == (county_code, code)]
    return out + [row for row in below if row not in placed]


def portal_bytes(value_columns: list[str], rows: list[list[str]], whole: bool = True) -> bytes:
    """A portal export; ``whole`` pads it to every unit of its year (see the module docstring)."""
    rows = whole_export(value_columns, rows) if whole else rows
    lines = ["sep=\t", "\t".join(ID_COLUMNS + value_columns)] + ["\t".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-16-le")


def np5_columns(school_year: str, subject: str = "Lesing") -> list[str]:
    base = f"{school_year}.{subject}.5. årstrinn.Alle eierformer.Alle kjønn"
    return [f"{base}.Skalapoeng", f"{base}.Usikkerhet", f"{base}.Antall elever deltatt"]
