"""Units' codes against their names, per the registers: a line whose code and name name two different
units cannot be placed, and picking either would publish a figure under the wrong unit."""

from __future__ import annotations

import re

import polars as pl

from pipelines.ingest.portal_format import CONTROL_CHARACTER
from pipelines.reference.registers import STRUCTURES, Registers, nominal_structure, short_name

# Names that stand for "all units" in id columns, not for a unit.
ALL_UNITS = {"", "Alle fylker", "Alle kommuner", "Alle skoler", "Hele landet"}
# Fylker before 2020 have no names in the registers shipped (they are "Fylke 02"): not checked.
UNNAMED_COUNTY = re.compile(r"^Fylke \d{2}$")
# Udir names a unit of an older structure with its years: "Asker (2020 - 2023)", "Ålesund (-2019)".
VALIDITY_SUFFIX = re.compile(r"\s*\((?:\d{4})?\s*-\s*(?:\d{4})?\)$")
FIRST_REGISTER_YEAR = f"{min(STRUCTURES)}-{(min(STRUCTURES) + 1) % 100:02d}"


def county_name_lookup(registers: Registers) -> dict[str, str]:
    """Fylke name → code, for reports that name fylker instead of coding them (2020 names first)."""
    lookup: dict[str, str] = {}
    for structure in (2024, 2020):
        for code, name in (
            registers.counties.filter(pl.col("structure") == structure)
            .select("county_code", "county_name")
            .iter_rows()
        ):
            lookup[name] = code
    return lookup


def _name_pattern(register_name: str) -> re.Pattern[str]:
    """A register name as a pattern: one register file has ``?`` where a Sami letter was lost."""
    return re.compile(re.escape(short_name(register_name).casefold()).replace(r"\?", "."))


def _names_by_code(registers: Registers, school_years: list[str]) -> tuple[dict[str, list[str]], ...]:
    """Kommune and fylke names per code in every structure the file's years may use: the nominal one of
    its oldest year and every newer one (Udir back-fills older years under newer codes)."""
    # Years before the first register (2011-12 in the oldest exports) are read with the first one.
    oldest = min(nominal_structure(max(year, FIRST_REGISTER_YEAR)) for year in school_years)
    structures = [structure for structure in STRUCTURES if structure >= oldest]
    municipalities: dict[str, list[str]] = {}
    for code, name in (
        registers.municipalities.filter(pl.col("structure").is_in(structures))
        .select("municipality_code", "municipality_name")
        .iter_rows()
    ):
        municipalities.setdefault(code, []).append(name)
    counties: dict[str, list[str]] = {}
    for code, name in (
        registers.counties.filter(pl.col("structure").is_in(structures))
        .select("county_code", "county_name")
        .iter_rows()
    ):
        if not UNNAMED_COUNTY.match(name):
            counties.setdefault(code, []).append(name)
    return municipalities, counties


def _disagreeing(pairs: list[tuple[str, str]], names: dict[str, list[str]]) -> dict[tuple[str, str], str]:
    """(code, name) pairs whose name is none of the code's register names → the register's name."""
    found = {}
    for code, name in pairs:
        if name in ALL_UNITS or code not in names:
            continue  # an unknown code is the schema's to quarantine
        given = short_name(VALIDITY_SUFFIX.sub("", name)).casefold()
        if not any(_name_pattern(known).fullmatch(given) for known in names[code]):
            found[(code, name)] = " / ".join(sorted(set(names[code])))
    return found


def line_problems(rows: pl.DataFrame, school_years: list[str], registers: Registers) -> pl.DataFrame:
    """``source_line`` → ``line_problem`` for every line of a unit-per-row report that cannot be placed:
    a control character in an id column, or a code whose register name is not the name beside it."""
    problems = [pl.lit(None, pl.String)]
    for column in rows.columns[1:]:
        problems.append(
            pl.when(pl.col(column).str.contains(CONTROL_CHARACTER))
            .then(pl.lit(f"a control character in {column} (a damaged file?); the line is set aside"))
            .otherwise(None)
        )
    municipalities, counties = _names_by_code(registers, school_years)
    for code_column, name_column, names, noun in (
        ("Kommunekode", "Kommune", municipalities, "kommune"),
        ("Fylkekode", "Fylke", counties, "fylke"),
    ):
        if code_column not in rows.columns or name_column not in rows.columns:
            continue
        pairs = rows.select(code_column, name_column).unique().rows()
        for (code, name), known in _disagreeing(pairs, names).items():
            problems.append(
                pl.when((pl.col(code_column) == code) & (pl.col(name_column) == name))
                .then(
                    pl.lit(
                        f"{code_column} {code} is {noun} {known} in the register, but {name_column} says "
                        f"'{name}': code and name disagree; the line is set aside, neither is picked"
                    )
                )
                .otherwise(None)
            )
    return rows.select("source_line", pl.coalesce(problems).alias("line_problem"))
