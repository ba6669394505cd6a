"""The synthetic population: kommuner with latent qualities, and their schools.

Kommuner are the 2024 register's. Their schools and cohort sizes follow the real 2024-25 national-test
exports (``data/reference/skolestruktur_2024-25.csv``: per kommune, each school's 5th- or 8th-grade
participants, empty where Udir suppressed them), so that sizes, the many small rural schools and the
few very large ones are as in reality. Organisation numbers and names are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.reference.registers import Registers, municipality_register
from pipelines.sample.scenario import SchoolEffects
from pipelines.validate.schemas import check_digit

# Correlations between the latent domains (learning results, learning environment, completion).
LATENT_CORRELATION = np.array([[1.0, 0.5, 0.45], [0.5, 1.0, 0.4], [0.45, 0.4, 1.0]])
PRIVATE_SHARE = 0.05
NAME_STEMS = (
    "Nord",
    "Sør",
    "Øst",
    "Vest",
    "Haug",
    "Berg",
    "Dal",
    "Lia",
    "Nes",
    "Vik",
    "Holm",
    "Strand",
    "Bakke",
    "Mo",
    "Eng",
    "Åsen",
    "Li",
    "Sand",
    "Fjell",
    "Skog",
    "Elve",
    "Bjørke",
    "Furu",
    "Lunde",
    "Myr",
)
# Exports show only "Alle eierformer", so a private school is recognisable by its name alone.
NAME_SUFFIXES = {
    ("grunnskole", False): "skole",
    ("grunnskole", True): "friskole",
    ("vgs", False): "videregående skole",
    ("vgs", True): "private videregående skole",
}


@dataclass(frozen=True)
class Population:
    kommuner: pl.DataFrame  # code, name, county, latents (unit variance)
    schools: pl.DataFrame  # orgnr, name, code (2024), kind, private, size_5, size_8, effects (unit variance)


def organisation_numbers(rng: np.random.Generator, count: int) -> list[str]:
    """Unique nine-digit numbers starting with 9 or 8, with a valid mod-11 check digit."""
    found: set[str] = set()
    numbers: list[str] = []
    while len(numbers) < count:
        stems = rng.integers(0, 10_000_000, size=count * 2)
        for stem in stems:
            body = f"{rng.choice([8, 9])}{stem:07d}"
            check = check_digit(body)
            if check is None or body in found:
                continue
            found.add(body)
            numbers.append(body + str(check))
            if len(numbers) == count:
                break
    return numbers


def _school_sizes(rng: np.random.Generator, sizes: list[int | None]) -> list[int]:
    """Real sizes; suppressed ones (fewer than ten) drawn from 2–9."""
    return [int(s) if s is not None else int(rng.integers(2, 10)) for s in sizes if s != 0]


def school_effects(rng: np.random.Generator, count: int, distribution: SchoolEffects) -> np.ndarray:
    """Unit-variance school effects: normal, or Student t with 3 df scaled to unit variance."""
    if distribution == "heavy_tailed":
        return rng.standard_t(3, count) / np.sqrt(3)
    return rng.normal(0, 1, count)


def build_population(
    rng: np.random.Generator,
    registers: Registers,
    reference_dir: Path,
    distribution: SchoolEffects = "normal",
) -> Population:
    register = municipality_register(registers, 2024).filter(
        ~pl.col("is_pseudo") | (pl.col("municipality_code") == "2100")
    )
    structure = pl.read_csv(
        reference_dir / "skolestruktur_2024-25.csv",
        schema={"grade": pl.String, "municipality_code": pl.String, "unit": pl.String, "pupils": pl.Int64},
    ).filter(pl.col("unit") == "skole")
    codes = register["municipality_code"].to_list()
    latents = rng.multivariate_normal(np.zeros(3), LATENT_CORRELATION, size=len(codes))
    kommuner = register.select(
        pl.col("municipality_code").alias("code"),
        pl.col("municipality_name").alias("name"),
        pl.col("county_code").alias("county"),
    ).with_columns(
        pl.Series("latent_learning", latents[:, 0].round(4)),
        pl.Series("latent_environment", latents[:, 1].round(4)),
        pl.Series("latent_completion", latents[:, 2].round(4)),
    )

    rows: list[dict[str, object]] = []
    for code in codes:
        primary = _school_sizes(
            rng,
            structure.filter((pl.col("grade") == "5") & (pl.col("municipality_code") == code))[
                "pupils"
            ].to_list(),
        )
        lower = _school_sizes(
            rng,
            structure.filter((pl.col("grade") == "8") & (pl.col("municipality_code") == code))[
                "pupils"
            ].to_list(),
        )
        if not primary and not lower:
            primary, lower = [int(rng.integers(2, 10))], [int(rng.integers(2, 10))]
        # Some lower-secondary schools are the same schools as primary ones (1–10 schools).
        combined = min(len(primary), len(lower)) // 3 if code != "2100" else min(len(primary), len(lower))
        for index in range(combined):
            rows.append(
                {"code": code, "kind": "grunnskole", "size_5": primary[index], "size_8": lower[index]}
            )
        for size in primary[combined:]:
            rows.append({"code": code, "kind": "grunnskole", "size_5": size, "size_8": 0})
        for size in lower[combined:]:
            rows.append({"code": code, "kind": "grunnskole", "size_5": 0, "size_8": size})
    grunnskoler = pl.DataFrame(rows)

    # About 400 videregående skoler, in proportion to each fylke's 8th-grade cohort, in its largest kommuner.
    cohort = (
        grunnskoler.group_by("code")
        .agg(pl.col("size_8").sum().alias("cohort"))
        .join(kommuner.select("code", "county"), on="code")
    )
    vgs_rows: list[dict[str, object]] = []
    total = int(cohort["cohort"].sum())
    for _, group in cohort.filter(pl.col("code") != "2100").group_by("county", maintain_order=True):
        people = int(group["cohort"].sum())
        count = max(3, round(400 * people / total))
        hosts = group.sort(["cohort", "code"], descending=[True, False])["code"].to_list()
        weights = np.array(sorted(group["cohort"].to_list(), reverse=True), dtype=float) + 1
        chosen = rng.choice(len(hosts), size=count, p=weights / weights.sum())
        sizes = rng.lognormal(np.log(max(people * 1.05 / count, 20)), 0.5, size=count)
        for host, size in zip(chosen, sizes, strict=True):
            vgs_rows.append({"code": hosts[host], "kind": "vgs", "size_5": 0, "size_8": int(size)})
    schools = pl.concat([grunnskoler, pl.DataFrame(vgs_rows)]).sort("code", "kind")
    count = schools.height
    numbers = organisation_numbers(rng, count)
    stems = rng.integers(0, len(NAME_STEMS), size=count)
    private = rng.random(count) < PRIVATE_SHARE
    names = []
    kinds = schools["kind"].to_list()
    for index, (kind, stem, is_private) in enumerate(zip(kinds, stems, private, strict=True)):
        suffix = NAME_SUFFIXES[(kind, bool(is_private))]
        names.append(f"{NAME_STEMS[stem]}{'byen' if index % 3 == 0 else 'li'} {suffix} {index % 97 + 1}")
    schools = schools.with_columns(
        pl.Series("orgnr", numbers),
        pl.Series("name", names),
        pl.Series("private", private),
        pl.Series("effect_learning", school_effects(rng, count, distribution)),
        pl.Series("effect_environment", school_effects(rng, count, distribution)),
        pl.Series("effect_completion", school_effects(rng, count, distribution)),
    )
    return Population(kommuner=kommuner, schools=schools)
