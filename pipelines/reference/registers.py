"""SSB Klass registers shipped in ``data/reference``: kommuner and fylker per structure, statsforvaltere.

A *structure* is a kommune division valid over a span of years, named by its first year. Each school
year's statistics use the structure valid in the autumn the school year starts (2023-24 → 2020 codes),
though Udir back-fills some figures under newer codes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

# First and last calendar year each structure was valid (None: still valid).
STRUCTURES: dict[int, tuple[int, int | None]] = {
    2013: (2013, 2016),
    2017: (2017, 2017),
    2018: (2018, 2018),
    2019: (2019, 2019),
    2020: (2020, 2023),
    2024: (2024, None),
}
NEWEST_STRUCTURE = max(STRUCTURES)

# Units in Udir's exports that are not kommuner in Klass 131, or are placeholders.
PSEUDO_MUNICIPALITIES: dict[str, str] = {
    "2100": "Svalbard",
    "2599": "Utlandet",
    "9999": "Uoppgitt",
}
PSEUDO_COUNTIES: dict[str, str] = {"21": "Svalbard", "25": "Utlandet", "99": "Uoppgitt"}


class RegisterError(ValueError):
    """A reference register is missing or malformed."""


def structure_of_year(calendar_year: pl.Expr) -> pl.Expr:
    """The structure valid in ``calendar_year`` (Int32, null before 2013).

    The scalar :func:`structure_for_year` evaluates it too, so that frames and single years follow one rule.
    """
    expression = pl.lit(None, pl.Int32)
    for structure, (first, last) in sorted(STRUCTURES.items(), reverse=True):
        valid = calendar_year >= first if last is None else calendar_year.is_between(first, last)
        expression = pl.when(valid).then(pl.lit(structure, pl.Int32)).otherwise(expression)
    return expression


def nominal_structure_of(school_year: pl.Expr) -> pl.Expr:
    """The structure a school year's export normally uses: the one valid when the year starts."""
    return structure_of_year(school_year.str.slice(0, 4).cast(pl.Int32))


def structure_for_year(calendar_year: int) -> int:
    """The structure valid in ``calendar_year``."""
    structure = pl.select(structure_of_year(pl.lit(calendar_year, pl.Int32))).item()
    if structure is None:
        raise RegisterError(f"no kommune structure covers {calendar_year} (registers start in 2013)")
    return int(structure)


def nominal_structure(school_year: str) -> int:
    """The structure a school year's export normally uses: the one valid when the year starts."""
    return structure_for_year(int(school_year[:4]))


def short_name(name: str) -> str:
    """Klass 2024 names carry Sami and Kven forms after ' - ' (``Oslo - Oslove``): keep the first."""
    return name.split(" - ")[0].strip()


def _read_klass(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise RegisterError(f"reference register missing: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    if not rows or "code" not in rows[0] or "name" not in rows[0]:
        raise RegisterError(f"{path}: expected a Klass export with columns code;name;…")
    return rows


@dataclass(frozen=True)
class Registers:
    """The kommune, fylke and statsforvalter registers for every structure."""

    municipalities: pl.DataFrame  # structure, municipality_code, municipality_name, county_code, is_pseudo
    counties: pl.DataFrame  # structure, county_code, county_name, is_pseudo
    statsforvaltere: pl.DataFrame  # office, county_code, valid_from, valid_to

    def codes(self, structure: int) -> set[str]:
        frame = self.municipalities.filter(pl.col("structure") == structure)
        return set(frame["municipality_code"].to_list())


def load_registers(reference_dir: Path) -> Registers:
    """Read every register in ``reference_dir`` into typed frames."""
    municipality_rows: list[dict[str, object]] = []
    for structure in STRUCTURES:
        for row in _read_klass(reference_dir / f"klass131_kommuner_{structure}.csv"):
            code = row["code"].strip()
            if len(code) != 4 or not code.isdigit():
                raise RegisterError(f"klass131_kommuner_{structure}.csv: bad kommune code {code!r}")
            municipality_rows.append(
                {
                    "structure": structure,
                    "municipality_code": code,
                    "municipality_name": short_name(row["name"]),
                    "county_code": code[:2],
                    "is_pseudo": code in PSEUDO_MUNICIPALITIES,
                }
            )
        for code, name in PSEUDO_MUNICIPALITIES.items():
            if code != "9999":  # 9999 is in every Klass register already
                municipality_rows.append(
                    {
                        "structure": structure,
                        "municipality_code": code,
                        "municipality_name": name,
                        "county_code": code[:2],
                        "is_pseudo": True,
                    }
                )
    municipalities = pl.DataFrame(
        municipality_rows,
        schema={
            "structure": pl.Int32,
            "municipality_code": pl.String,
            "municipality_name": pl.String,
            "county_code": pl.String,
            "is_pseudo": pl.Boolean,
        },
    ).sort("structure", "municipality_code")

    county_names: dict[tuple[int, str], str] = {}
    for row in _read_klass(reference_dir / "klass104_fylker_2024.csv"):
        county_names[(2024, row["code"])] = short_name(row["name"])
    with (reference_dir / "fylker_kommuner_2020.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            county_names[(2020, row["fylkesnummer"])] = row["fylkesnavn"]
    county_rows = []
    for structure, code in municipalities.select("structure", "county_code").unique().iter_rows():
        county_rows.append(
            {
                "structure": structure,
                "county_code": code,
                "county_name": county_names.get((structure, code))
                or PSEUDO_COUNTIES.get(code)
                or f"Fylke {code}",
                "is_pseudo": code in PSEUDO_COUNTIES,
            }
        )
    counties = pl.DataFrame(
        county_rows,
        schema={
            "structure": pl.Int32,
            "county_code": pl.String,
            "county_name": pl.String,
            "is_pseudo": pl.Boolean,
        },
    ).sort("structure", "county_code")

    statsforvaltere = pl.read_csv(
        reference_dir / "statsforvaltere.csv",
        schema={
            "office": pl.String,
            "county_code": pl.String,
            "county_name": pl.String,
            "valid_from": pl.Date,
            "valid_to": pl.Date,
        },
        skip_rows=1,
        has_header=False,
    ).drop("county_name")
    return Registers(municipalities, counties, statsforvaltere)


def statsforvalter_for_structure(registers: Registers, structure: int) -> pl.DataFrame:
    """county_code → office for the statsforvalter division valid in ``structure``'s first year."""
    import datetime as dt

    first_day = dt.date(STRUCTURES[structure][0], 1, 1)
    frame = registers.statsforvaltere.filter(
        (pl.col("valid_from") <= first_day)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= first_day))
    )
    return frame.select("county_code", pl.col("office").alias("statsforvalter"))


def municipality_register(registers: Registers, structure: int) -> pl.DataFrame:
    """The kommuner of one structure with their fylke and statsforvalter."""
    offices = statsforvalter_for_structure(registers, structure)
    counties = registers.counties.filter(pl.col("structure") == structure).select(
        "county_code", "county_name"
    )
    return (
        registers.municipalities.filter(pl.col("structure") == structure)
        .drop("structure")
        .join(counties, on="county_code", how="left")
        .join(offices, on="county_code", how="left")
        .sort("municipality_code")
    )
