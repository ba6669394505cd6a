"""``utvalg sample``: a deterministic synthetic national dataset in Udir's real export formats.

Files go to ``DIR/<source>/``. School years 2015-16 to 2025-26, each written in the kommune structure
Udir used that year (old codes, and names suffixed "(2020 - 2023)" for 2020–2023 codes that no longer
exist). The knobs are a ``Scenario`` (``pipelines/sample/scenario.py``); the one used is written to
``DIR/scenario.toml``. The pipeline reads neither that file nor the answer key ``DIR/truth.csv``, one row
per kommune (Svalbard left out):

- ``latent_learning``, ``latent_environment``, ``latent_completion``: the kommune's own quality per
  area, unit variance across kommuner, in 2024-25 (a trend moves it before and after).
- ``quality_laeringsresultater``, ``quality_laeringsmiljo``, ``quality_gjennomforing``: per area, the
  persistent quality averaged over the truth window (the last three school years, 2023-24 to 2025-26):
  ``kommune_sd`` × latent + trend, plus, when the estimand includes schools, ``school_sd`` × the mean
  persistent school effect of the kommune's grunnskoler weighted by the cohorts the area's figures
  measure (:data:`TRUTH_COHORTS`); then standardised to mean 0 and SD 1 (ddof 0) across kommuner. Higher
  is better.
- ``true_risk``: minus the ``truth_area_weights``-weighted mean of the three quality columns (higher =
  weaker).

Past cohorts of Oppfølgingsordningen (:data:`PAST_COHORTS`): before each cohort's first school year the
generator selects it with the function the follow-up remakes it with (``scheme.cohort_list``: Udir's
rule, category 1 of ``utvalg.toml``) on the kommune figures it has published for the window before, with
the kommuner in the scheme or recently out set aside. The selected kommuner's learning quality rises by the
scenario's ``support_effect`` from their gjennomføringsfase on, and stays. Selecting on noisy published
figures is what makes regression to the mean real in the sample. Four more files, none of them ingested:

- ``ordningen_kohorter.csv``: the cohorts as Udir would keep them (``utvalg scheme import`` reads it):
  ``kommunenummer;første skoleår``, today's kommune numbers.
- ``ordningen_lister.csv``: the lists they were chosen from, as Udir would keep them (``utvalg scheme
  import --lists``): ``første skoleår;kommunenummer;rangering``, every ranked kommune.
- ``truth_selection.csv``: every ranked kommune of each cohort's list, with its rank among those not set
  aside, its share of risk points and whether it was selected (the running variable of a discontinuity).
- ``truth_support.csv``: per cohort kommune, school year and indicator, the true effect of support on the
  published kommune figure: the figure minus the same pupils' figure without the support.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import Config, load_config
from pipelines.ingest.files import (
    COHORTS_FILE,
    LISTS_FILE,
    SELECTION_TRUTH_FILE,
    SUPPORT_TRUTH_FILE,
    TRUTH_FILE,
)
from pipelines.ingest.sources.elevundersokelsen import survey_indicator
from pipelines.reference.mapping import load_changes, municipality_mapping
from pipelines.reference.registers import NEWEST_STRUCTURE, Registers, load_registers, nominal_structure
from pipelines.sample.exports import UNIT_HEADER, portal_csv, portal_number, portal_xlsx
from pipelines.sample.population import Population, build_population
from pipelines.sample.pupils import Places, PupilWriter
from pipelines.sample.scenario import AREAS, SCENARIO_FILE, Scenario, scenario_toml
from pipelines.sample.simulate import (
    SOURCE_UNITS,
    Cohort,
    bernoulli,
    cohort,
    normal_scores,
    totals,
    yearly_sizes,
)
from pipelines.selection.scheme import COHORT_SCHEMA, cohort_list, support_periods
from pipelines.storage.files import write_atomically

SCHOOL_YEARS = [f"{year}-{(year + 1) % 100:02d}" for year in range(2015, 2026)]
NATIONAL_TEST_YEARS = SCHOOL_YEARS[SCHOOL_YEARS.index("2022-23") :]
TRUTH_YEARS = SCHOOL_YEARS[-3:]
# Per area, the cohorts (``size_5``: grades 5–7, ``size_8``: grades 8–10) whose pupils its figures
# measure. A school's persistent effect counts in the truth by these pupils: a barneskole's completion
# effect acts on no pupil (its pupils finish grunnskolen at an ungdomsskole), so it is not part of a
# kommune's quality.
TRUTH_COHORTS = {"learning": ("5", "8"), "environment": ("5", "8"), "completion": ("8",)}
# Cohorts with pre-years (the selection window) and follow-up years in the sample.
PAST_COHORTS = ("2017-18", "2020-21", "2023-24")
LEARNING_IN_GRUNNSKOLEPOENG = 0.6  # grunnskolepoeng read 0.6 learning and 0.4 completion quality
FIGURE_SCHEMA = {
    "school_year": pl.String,
    "indicator_id": pl.String,
    "unit_code": pl.String,
    "n": pl.Int64,
    "value": pl.Float64,
    "value_without_support": pl.Float64,
    "national": pl.Float64,
    "national_without_support": pl.Float64,
}
SELECTION_SCHEMA = pl.Schema(
    {
        "first_school_year": pl.String,
        "municipality_code": pl.String,
        "rank": pl.UInt32,
        "risk_share": pl.Float64,
        "selected": pl.Boolean,
    }
)
TREND_CENTRE = SCHOOL_YEARS.index("2024-25")  # the latents are the kommuner's quality this year
LEFT_OUT_BELOW = 5  # and leaves some of the smallest schools out of a file entirely
GRUNNSKOLEPOENG_MEAN = dict(
    zip(SCHOOL_YEARS, [41.2, 41.4, 41.8, 42.0, 43.2, 43.3, 42.7, 42.4, 42.3, 42.4, 42.5], strict=True)
)
EXAMS_CANCELLED = (
    "Skoleårene 2019-20 og 2020-21 ble alle eksamener for elever i grunnskolen avlyst. "
    "Grunnskolepoengene for disse skoleårene er derfor kun basert på standpunktkarakterer."
)
# National levels of the survey indices (1–5) and the share bullied, by grade.
SURVEY = {
    "Støtte fra lærerne": {"7": 4.35, "10": 3.95, "vg1": 3.85},
    "Motivasjon": {"7": 4.05, "10": 3.55, "vg1": 3.60},
    "Trivsel": {"7": 4.35, "10": 4.10, "vg1": 4.15},
    "Mestring": {"7": 4.05, "10": 3.80, "vg1": 3.85},
    "Vurdering for læring": {"7": 3.95, "10": 3.30, "vg1": 3.20},
    "Læringskultur": {"7": 4.00, "10": 3.75, "vg1": 3.80},
}
BULLIED = {"7": 0.075, "10": 0.065, "vg1": 0.045}
SURVEY_INDICATORS = {"Støtte fra lærerne": "stotte_fra_laererne", "Motivasjon": "motivasjon"}
GRADE_TEXT = {"5": "5. årstrinn", "8": "8. årstrinn", "9": "9. årstrinn"}
SURVEY_GRADE_TEXT = {"7": "7. trinn", "10": "10. trinn", "vg1": "Vg1"}
# 5th grade: three levels at the 25/75 percentiles; 8th/9th: five at 10/30/70/90 (base-year pupils).
CUTS = {
    "5": 50 + 10 * np.array([-0.6745, 0.6745]),
    "8": 50 + 10 * np.array([-1.2816, -0.5244, 0.5244, 1.2816]),
}
CUTS["9"] = CUTS["8"]  # the same test and scale as 8th grade, so the same levels
# Fylker before the 2020 reform; the registers name only the 2020 and 2024 fylker.
COUNTIES_BEFORE_2020 = {
    "01": "Østfold",
    "02": "Akershus",
    "03": "Oslo",
    "04": "Hedmark",
    "05": "Oppland",
    "06": "Buskerud",
    "07": "Vestfold",
    "08": "Telemark",
    "09": "Aust-Agder",
    "10": "Vest-Agder",
    "11": "Rogaland",
    "12": "Hordaland",
    "14": "Sogn og Fjordane",
    "15": "Møre og Romsdal",
    "16": "Sør-Trøndelag",
    "17": "Nord-Trøndelag",
    "18": "Nordland",
    "19": "Troms",
    "20": "Finnmark",
    "50": "Trøndelag",
}


@dataclass(frozen=True)
class Layout:
    """How one year's files show the units: codes and names of that year's structure."""

    structure: int
    school_kommune: np.ndarray  # school row → index into kommune_codes
    kommune_codes: list[str]
    kommune_names: list[str]
    kommune_county: np.ndarray  # kommune index → index into county_codes
    county_codes: list[str]
    county_names: list[str]


def layout_for(structure: int, population: Population, registers: Registers, links: pl.DataFrame) -> Layout:
    schools = population.schools
    sources = (
        links.filter(pl.col("source_structure") == structure)
        .group_by("target_code")
        .agg(pl.col("source_code").sort())
    )
    parts = dict(sources.iter_rows())
    position = schools.with_row_index("row").with_columns(pl.int_range(pl.len()).over("code").alias("nth"))
    school_codes = [
        parts[code][nth % len(parts[code])] for code, nth in position.select("code", "nth").iter_rows()
    ]
    codes = sorted(set(school_codes))
    index = {code: i for i, code in enumerate(codes)}
    register = registers.municipalities.filter(pl.col("structure") == structure)
    names = dict(register.select("municipality_code", "municipality_name").iter_rows())
    newest = registers.codes(NEWEST_STRUCTURE)
    suffix = {code: " (2020 - 2023)" if structure == 2020 and code not in newest else "" for code in codes}
    svalbard_county = {2024: "55", 2020: "54"}.get(structure, "19")
    county_of = {code: svalbard_county if code == "2100" else code[:2] for code in codes}
    county_codes = sorted(set(county_of.values()))
    county_names = (
        COUNTIES_BEFORE_2020
        if structure < 2020
        else dict(
            registers.counties.filter(pl.col("structure") == structure)
            .select("county_code", "county_name")
            .iter_rows()
        )
    )
    return Layout(
        structure=structure,
        school_kommune=np.array([index[c] for c in school_codes]),
        kommune_codes=codes,
        kommune_names=[names.get(c, c) + suffix[c] for c in codes],
        kommune_county=np.array([county_codes.index(county_of[c]) for c in codes]),
        county_codes=county_codes,
        county_names=[county_names[c] for c in county_codes],
    )


@dataclass
class Block:
    """The value columns of one dimension combination, with figures per level."""

    dims: str
    count_name: str
    counts: dict[str, np.ndarray]
    measures: list[tuple[str, int, dict[str, np.ndarray]]]  # name, decimals, values per level
    break_note: str | None = None

    def header(self, year: str) -> list[str]:
        columns = []
        for name, _, _ in self.measures:
            if self.break_note:
                columns.append(f"{year}.{self.dims}.{name}.Brudd")
            columns.append(f"{year}.{self.dims}.{name}")
        if self.break_note:
            columns.append(f"{year}.{self.dims}.{self.count_name}.Brudd")
        columns.append(f"{year}.{self.dims}.{self.count_name}")
        return columns

    def cells(self, level: str, index: int, minimum: int) -> list[str]:
        """One unit's cells; fewer than ``minimum`` pupils are suppressed ("*")."""
        count = int(self.counts[level][index])
        note = [self.break_note] if self.break_note else []
        out: list[str] = []
        for _, decimals, values in self.measures:
            value = values[level][index]
            shown = "" if count == 0 else "*" if count < minimum else portal_number(float(value), decimals)
            out += [*note, shown]
        out += [*note, "" if count == 0 else "*" if count < minimum else portal_number(count, 0)]
        return out


def unit_rows(
    layout: Layout,
    population: Population,
    blocks: list[Block],
    included: np.ndarray,
    minimum: int,
    with_kommune_level: bool = True,
    with_schools: bool = True,
) -> list[list[str]]:
    """Rows in the portal's order: the nation, the fylker, then each kommune followed by its schools."""
    if with_kommune_level:
        rows = [["1", "I", "00", "0000", "I", "Hele landet", "Alle fylker", "Alle kommuner", "Alle skoler"]]
    else:
        rows = [["1", "I", "", "I", "Hele landet", "Alle fylker", "Hele landet"]]
    rows[0] += [cell for block in blocks for cell in block.cells("national", 0, minimum)]
    for c, (code, name) in enumerate(zip(layout.county_codes, layout.county_names, strict=True)):
        if with_kommune_level:
            ids = ["2", "I", code, "0000", code, "Hele landet", name, "Alle kommuner", "Alle skoler"]
        else:
            ids = ["2", "I", code, code, "Hele landet", name, name]
        rows.append(ids + [cell for block in blocks for cell in block.cells("county", c, minimum)])
    orgnr = population.schools["orgnr"].to_list()
    names = population.schools["name"].to_list()
    by_kommune: dict[int, list[int]] = {}
    for position in np.flatnonzero(included):
        by_kommune.setdefault(int(layout.school_kommune[position]), []).append(int(position))
    for k, (code, name) in enumerate(zip(layout.kommune_codes, layout.kommune_names, strict=True)):
        county = layout.county_codes[layout.kommune_county[k]]
        county_name = layout.county_names[layout.kommune_county[k]]
        if with_kommune_level:
            ids = ["3", "I", county, code, code, "Hele landet", county_name, name, "Alle skoler"]
            rows.append(ids + [cell for block in blocks for cell in block.cells("kommune", k, minimum)])
        if not with_schools:
            continue
        for school in by_kommune.get(k, []):
            if with_kommune_level:
                ids = ["4", "I", county, code, orgnr[school], "Hele landet", county_name, name, names[school]]
            else:  # upper-secondary reports have no kommune level: schools are level 3
                ids = ["3", "I", county, orgnr[school], "Hele landet", county_name, names[school]]
            rows.append(ids + [cell for block in blocks for cell in block.cells("school", school, minimum)])
    return rows


def header_for(blocks: list[Block], year: str, with_kommune_level: bool = True) -> list[str]:
    ids = (
        UNIT_HEADER if with_kommune_level else [c for c in UNIT_HEADER if c not in ("Kommunekode", "Kommune")]
    )
    return ids + [column for block in blocks for column in block.header(year)]


@dataclass(frozen=True)
class Levels:
    """Pupil → group indices at every level for one cohort."""

    school: np.ndarray
    kommune: np.ndarray
    county: np.ndarray
    sizes: dict[str, int]

    def aggregate(
        self, values: np.ndarray, reducer: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    ) -> dict[str, np.ndarray]:
        return {
            level: reducer(groups, values, self.sizes[level])
            for level, groups in (
                ("school", self.school),
                ("kommune", self.kommune),
                ("county", self.county),
                ("national", np.zeros_like(self.school)),
            )
        }


def levels_of(pupils: Cohort, layout: Layout) -> Levels:
    kommune = layout.school_kommune[pupils.school]
    return Levels(
        school=pupils.school,
        kommune=kommune,
        county=layout.kommune_county[kommune],
        sizes={
            "school": pupils.schools,
            "kommune": len(layout.kommune_codes),
            "county": len(layout.county_codes),
            "national": 1,
        },
    )


def _count(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(groups, minlength=size).astype(np.float64)


def _mean(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return totals(groups, values, size).mean


def _half_width(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return totals(groups, values, size).half_width


class NationalSample:
    """The simulated population of one seed, and the exports Udir would publish from it, year by year."""

    def __init__(
        self,
        seed: int,
        reference_dir: Path,
        scenario: Scenario,
        config: Config | None = None,
        pupils: PupilWriter | None = None,
    ) -> None:
        self.scenario = scenario
        self.config = config or load_config()
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.registers = load_registers(reference_dir)
        self.links = municipality_mapping(self.registers, load_changes(reference_dir), NEWEST_STRUCTURE)
        self.population = build_population(self.rng, self.registers, reference_dir, scenario.school_effects)
        schools = self.population.schools
        kommune_index = {c: i for i, c in enumerate(self.population.kommuner["code"].to_list())}
        self.school_kommune = np.array([kommune_index[c] for c in schools["code"].to_list()])
        self.latent = {d: self.population.kommuner[f"latent_{d}"].to_numpy() for d in AREAS.values()}
        self.effect = {d: schools[f"effect_{d}"].to_numpy() for d in AREAS.values()}
        self.is_vgs = (schools["kind"] == "vgs").to_numpy()
        self.base = {"5": schools["size_5"].to_numpy(), "8": schools["size_8"].to_numpy()}
        kommuner, years = self.population.kommuner.height, len(SCHOOL_YEARS)
        self.trend = {d: self.rng.normal(0, scenario.kommune_trend_sd, kommuner) for d in AREAS.values()}
        self.kommune_year = {
            d: self.rng.normal(0, scenario.kommune_year_sd, (years, kommuner)) for d in AREAS.values()
        }
        self.school_year = {
            d: self.rng.normal(0, scenario.school_year_sd, (years, schools.height)) for d in AREAS.values()
        }
        self.layouts: dict[int, Layout] = {}
        self.kommune_codes = self.population.kommuner["code"].to_list()
        # Per kommune, the index of the school year its support starts to work (none: past the end).
        self.effect_from = np.full(kommuner, years, dtype=np.int64)
        self.indicator_ids = {
            (i.source, i.indicator, i.grade, i.subject): i.id for i in self.config.for_owner("kommune")
        }
        self.figures: list[pl.DataFrame] = []
        self.selections: list[pl.DataFrame] = []
        self.pupils = pupils

    def support_shift(self, year: str) -> np.ndarray:
        """Per school, what support adds to its kommune's learning quality in ``year`` (scale points)."""
        working = SCHOOL_YEARS.index(year) >= self.effect_from
        return np.where(working, self.scenario.support_effect, 0.0)[self.school_kommune]

    def record(
        self, year: str, key: tuple[str, str, str, str | None], pupils: Cohort, values: np.ndarray,
        without: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Keep a configured kommune indicator's figures per today's kommune, with and without support."""
        indicator = self.indicator_ids.get(key)
        if indicator is None:
            return
        without = values if without is None else without
        kommune = self.school_kommune[pupils.school]
        actual, counterfactual = (totals(kommune, v, len(self.kommune_codes)) for v in (values, without))
        self.figures.append(
            pl.DataFrame(
                {
                    "school_year": year,
                    "indicator_id": indicator,
                    "unit_code": self.kommune_codes,
                    "n": actual.count.astype(np.int64),
                    "value": actual.mean,
                    "value_without_support": counterfactual.mean,
                    "national": float(values.mean()),
                    "national_without_support": float(without.mean()),
                },
                schema=FIGURE_SCHEMA,
            ).with_columns(pl.col("value", "value_without_support").fill_nan(None))
        )

    def kommune_figures(self) -> pl.DataFrame:
        """The configured kommune indicators recorded so far, per today's kommune (Svalbard left out)."""
        if not self.figures:
            return pl.DataFrame(schema=FIGURE_SCHEMA)
        return pl.concat(self.figures).filter(pl.col("unit_code") != "2100")

    def select_cohort(self, first_school_year: str) -> None:
        """Select the cohort starting in ``first_school_year`` as the project remakes it
        (:func:`pipelines.selection.scheme.cohort_list`) on the kommune figures published so far, as a run
        reads them: a figure from fewer than the minimum pupils counts nowhere in the rule."""
        config = self.config
        worse_sign = {i.id: -1.0 if i.higher_is_better else 1.0 for i in config.indicators}
        values = self.kommune_figures().select(
            "unit_code",
            "indicator_id",
            "school_year",
            "value",
            "n",
            "national",
            pl.col("indicator_id").replace_strict(worse_sign, return_dtype=pl.Float64).alias("worse_sign"),
        )
        earlier = [
            s.filter("selected").select(
                "municipality_code", "first_school_year", pl.lit("sample").alias("origin")
            )
            for s in self.selections
        ]
        periods = support_periods(pl.concat([pl.DataFrame(schema=COHORT_SCHEMA), *earlier]), config.scheme)
        ranked = cohort_list(values, periods, first_school_year, config).with_columns(
            (pl.col("rank") <= config.selection.category_1_count).alias("selected")
        )
        self.selections.append(ranked.cast(SELECTION_SCHEMA))
        index = {code: i for i, code in enumerate(self.kommune_codes)}
        chosen = [index[c] for c in ranked.filter("selected")["municipality_code"].to_list()]
        start = SCHOOL_YEARS.index(first_school_year) + config.scheme.forfase_years
        self.effect_from[chosen] = np.minimum(self.effect_from[chosen], start)

    def cohorts_csv(self) -> bytes:
        """The past cohorts in the list format ``utvalg scheme import`` reads."""
        lines = ["kommunenummer;første skoleår"]
        for selection in self.selections:
            lines += [f"{code};{first}" for first, code in selection.filter("selected").select(
                "first_school_year", "municipality_code").iter_rows()]  # fmt: skip
        return ("\n".join(lines) + "\n").encode("utf-8")

    def lists_csv(self) -> bytes:
        """The lists the cohorts were chosen from, every ranked kommune, as ``utvalg scheme import --lists``
        reads them."""
        lines = ["første skoleår;kommunenummer;rangering"]
        for selection in self.selections:
            lines += [f"{first};{code};{rank}" for first, code, rank in selection.select(
                "first_school_year", "municipality_code", "rank").iter_rows()]  # fmt: skip
        return ("\n".join(lines) + "\n").encode("utf-8")

    def support_truth(self) -> pl.DataFrame:
        """Per cohort kommune, school year and indicator: the true effect of support on its figure."""
        members = pl.concat([s.filter("selected") for s in self.selections]).select(
            "municipality_code", "first_school_year"
        )
        return (
            self.kommune_figures()
            .rename({"unit_code": "municipality_code"})
            .join(members, on="municipality_code")
            .filter(pl.col("school_year") >= pl.col("first_school_year"))
            .select(
                "municipality_code",
                "first_school_year",
                "school_year",
                "indicator_id",
                (pl.col("value") - pl.col("value_without_support")).round(6).alias("effect"),
            )
            .filter(pl.col("effect").is_not_null())
            .sort("municipality_code", "first_school_year", "school_year", "indicator_id")
        )

    def kommune_quality(self, domain: str, year: str) -> np.ndarray:
        """A kommune's persistent quality in ``year`` (scale points): its own effect and its trend."""
        offset = SCHOOL_YEARS.index(year) - TREND_CENTRE
        return self.scenario.kommune_sd * self.latent[domain] + offset * self.trend[domain]

    def school_level(self, domain: str, year: str) -> np.ndarray:
        """Each school's level in ``year`` (scale points around the national level): its kommune's
        persistent quality and kommune-year effect, its own persistent and school-year effects."""
        t = SCHOOL_YEARS.index(year)
        kommune = self.kommune_quality(domain, year) + self.kommune_year[domain][t]
        level = (
            kommune[self.school_kommune]
            + self.scenario.school_sd * self.effect[domain]
            + self.school_year[domain][t]
        )
        return level + self.support_shift(year) if domain == "learning" else level

    def test_noise(self, size: int) -> np.ndarray:
        """A transient effect per school and national test (grade and subject)."""
        return self.rng.normal(0, self.scenario.school_test_sd, size)

    def layout(self, school_year: str) -> Layout:
        structure = nominal_structure(school_year)
        if structure not in self.layouts:
            self.layouts[structure] = layout_for(structure, self.population, self.registers, self.links)
        return self.layouts[structure]

    def pupils_wanted(self, year: str) -> PupilWriter | None:
        """The pupil writer when ``year``'s pupils are to be written."""
        return self.pupils if self.pupils is not None and self.pupils.wanted(year) else None

    def places(self, year: str) -> Places:
        layout = self.layout(year)
        return Places(
            self.population.schools["orgnr"].to_numpy(),
            np.array(layout.kommune_codes)[layout.school_kommune],
        )

    def sizes(self, grade: str) -> np.ndarray:
        base = self.base["5"] if grade in ("5", "7") else self.base["8"]
        mask = ~self.is_vgs if grade != "vg1" else self.is_vgs
        return np.where(mask, yearly_sizes(self.rng, base), 0)

    def included(self, sizes: np.ndarray) -> np.ndarray:
        left_out = (sizes < LEFT_OUT_BELOW) & (self.rng.random(sizes.size) < 0.5)
        return (sizes > 0) & ~left_out

    def national_tests(self, year: str) -> dict[str, bytes]:
        layout = self.layout(year)
        drift = 0.4 * (NATIONAL_TEST_YEARS.index(year))
        files: dict[str, bytes] = {}
        for group, grades in (("5._trinn", ("5",)), ("ungdomstrinn", ("8", "9"))):
            main_blocks: list[Block] = []
            mastery_blocks: list[Block] = []
            present = np.zeros(self.population.schools.height, dtype=bool)
            for grade in grades:
                sizes = self.sizes(grade)
                present |= sizes > 0
                pupils = cohort(sizes)
                levels = levels_of(pupils, layout)
                counts = levels.aggregate(np.zeros(pupils.size), _count)
                ability = self.rng.normal(0, 1, pupils.size)  # what a pupil's subjects have in common
                tested: dict[str, tuple[np.ndarray, np.ndarray]] = {}
                for subject in ("Engelsk", "Lesing", "Regning"):
                    if grade == "9" and subject == "Engelsk":
                        continue
                    level = (
                        50
                        + (3.0 if grade == "9" else 0.0)
                        + drift
                        + self.school_level("learning", year)
                        + self.test_noise(pupils.schools)
                    )
                    scores = normal_scores(
                        self.rng,
                        pupils,
                        level,
                        self.scenario.pupil_sd,
                        ability,
                        self.scenario.pupil_subject_correlation,
                    )
                    without = scores - self.support_shift(year)[pupils.school]
                    key = ("nasjonale_prover", "skalapoeng", grade, subject.lower())
                    self.record(year, key, pupils, scores, without)
                    key = ("nasjonale_prover", "mestringsniva_1", grade, subject.lower())
                    self.record(
                        year,
                        key,
                        pupils,
                        100.0 * (scores <= CUTS[grade][0]),
                        100.0 * (without <= CUTS[grade][0]),
                    )
                    dims = f"{subject}.{GRADE_TEXT[grade]}.Alle eierformer.Alle kjønn"
                    main_blocks.append(
                        Block(
                            dims,
                            "Antall elever deltatt",
                            counts,
                            [
                                ("Skalapoeng", 0, levels.aggregate(scores, _mean)),
                                ("Usikkerhet", 1, levels.aggregate(scores, _half_width)),
                            ],
                        )
                    )
                    level_of_pupil = np.searchsorted(CUTS[grade], scores) + 1
                    tested[subject.lower()] = (scores, level_of_pupil)
                    shares = [
                        (
                            f"Andel på mestringsnivå {k}",
                            1,
                            levels.aggregate((level_of_pupil == k).astype(np.float64) * 100, _mean),
                        )
                        for k in range(1, len(CUTS[grade]) + 2)
                    ]
                    mastery_blocks.append(Block(dims, "Antall elever deltatt", counts, shares))
                if writer := self.pupils_wanted(year):
                    writer.national_test(year, grade, self.places(year), pupils.school, tested)
            included = self.included(np.where(present, self.base["5"] + self.base["8"], 0))
            for stem, blocks in (
                ("Nasjonale_proever", main_blocks),
                ("Nasjonale_proever_mestringsnivaa", mastery_blocks),
            ):
                name = f"{year}_20260224-1157_{stem}_{group}.csv"
                files[name] = portal_csv(
                    header_for(blocks, year),
                    unit_rows(layout, self.population, blocks, included, self.scenario.suppression_minimum),
                )
        return files

    def survey(self, year: str) -> dict[str, bytes]:
        layout = self.layout(year)
        files = {}
        for grades, stem, with_kommune in ((("7", "10"), "grunnskole", True), (("vg1",), "vgs", False)):
            blocks: list[Block] = []
            present = np.zeros(self.population.schools.height, dtype=bool)
            for grade in grades:
                sizes = self.rng.binomial(self.sizes(grade), 0.9)
                present |= sizes > 0
                pupils = cohort(sizes)
                levels = levels_of(pupils, layout)
                counts = levels.aggregate(np.zeros(pupils.size), _count)
                environment = self.school_level("environment", year)
                bullied_logit = np.log(BULLIED[grade] / (1 - BULLIED[grade]))
                bullied = bernoulli(
                    self.rng, pupils, bullied_logit + SOURCE_UNITS["bullying_logit"] * environment
                )
                indices: dict[str, np.ndarray] = {}
                self.record(year, ("elevundersokelsen", "mobbing", grade, None), pupils, bullied * 100)
                dims = f"Mobbing på skolen.{SURVEY_GRADE_TEXT[grade]}.Alle eierformer.Begge kjønn"
                blocks.append(
                    Block(
                        dims,
                        "Antall besvarte",
                        counts,
                        [("Prosentandel", 1, levels.aggregate(bullied * 100, _mean))],
                    )
                )
                for indicator, national in SURVEY.items():
                    index = normal_scores(
                        self.rng, pupils, national[grade] + SOURCE_UNITS["survey_index"] * environment, 0.8
                    ).clip(1, 5)
                    key = ("elevundersokelsen", SURVEY_INDICATORS.get(indicator, ""), grade, None)
                    self.record(year, key, pupils, index)
                    indices[survey_indicator(indicator)] = index
                    dims = f"{indicator}.{SURVEY_GRADE_TEXT[grade]}.Alle eierformer.Begge kjønn"
                    blocks.append(
                        Block(dims, "Antall besvarte", counts, [("Snitt", 1, levels.aggregate(index, _mean))])
                    )
                if writer := self.pupils_wanted(year):
                    writer.survey(year, grade, self.places(year), pupils.school, bullied, indices)
            included = self.included(np.where(present, self.base["5"] + self.base["8"], 0))
            name = f"{year}_20260301-0900_Elevundersoekelsen_{stem}.csv"
            files[name] = portal_csv(
                header_for(blocks, year, with_kommune),
                unit_rows(
                    layout,
                    self.population,
                    blocks,
                    included,
                    self.scenario.suppression_minimum,
                    with_kommune_level=with_kommune,
                ),
            )
        return files

    def tenth_graders(self, year: str) -> tuple[Layout, np.ndarray, Cohort, Levels]:
        """The year's 10th graders (grunnskolepoeng, and the cohort that goes on to upper secondary)."""
        layout = self.layout(year)
        sizes = self.sizes("10")
        pupils = cohort(sizes)
        return layout, sizes, pupils, levels_of(pupils, layout)

    def grunnskolepoeng(self, year: str) -> dict[str, bytes]:
        layout, sizes, pupils, levels = self.tenth_graders(year)
        quality = 0.6 * self.school_level("learning", year) + 0.4 * self.school_level("completion", year)
        raw = normal_scores(
            self.rng, pupils, GRUNNSKOLEPOENG_MEAN[year] + SOURCE_UNITS["grunnskolepoeng"] * quality, 8.3
        )
        points = raw.clip(10, 60)
        support = SOURCE_UNITS["grunnskolepoeng"] * LEARNING_IN_GRUNNSKOLEPOENG * self.support_shift(year)
        without = (raw - support[pupils.school]).clip(10, 60)
        self.record(year, ("grunnskolepoeng", "grunnskolepoeng", "10", None), pupils, points, without)
        if writer := self.pupils_wanted(year):
            writer.grunnskolepoeng(year, self.places(year), pupils.school, points)
        note = EXAMS_CANCELLED if year in ("2019-20", "2020-21") else None
        block = Block(
            "Alle eierformer.Begge kjønn",
            "Antall elever",
            levels.aggregate(np.zeros(pupils.size), _count),
            [("Grunnskolepoeng", 1, levels.aggregate(points, _mean))],
            break_note=note,
        )
        rows = unit_rows(
            layout, self.population, [block], self.included(sizes), self.scenario.suppression_minimum
        )
        rows += self.back_filled(layout, block)
        name = f"{year}_20260224-1200_Grunnskolepoeng.xlsx"
        return {name: portal_xlsx(header_for([block], year), rows, f"{year}_Grunnskolepoeng")}

    def back_filled(self, layout: Layout, block: Block) -> list[list[str]]:
        """Kommuner recoded 1-to-1 in 2020 again under their 2020 code, as Udir back-fills them.

        Only files in older structures get them; merged kommuner are not back-filled (Udir writes "har
        derfor ikke tall for tidligere årganger").
        """
        newer = self.layout("2022-23")
        if layout.structure >= newer.structure:
            return []
        pairs: dict[int, set[int]] = {}
        for old, new in zip(layout.school_kommune, newer.school_kommune, strict=True):
            pairs.setdefault(int(old), set()).add(int(new))
        sources: dict[int, int] = {}
        for targets in pairs.values():
            for target in targets:
                sources[target] = sources.get(target, 0) + 1
        rows = []
        for old, targets in sorted(pairs.items()):
            (new,) = targets if len(targets) == 1 else (None,)
            if new is None or sources[new] > 1 or newer.kommune_codes[new] == layout.kommune_codes[old]:
                continue
            county = newer.kommune_county[new]
            ids = [
                "3", "I", newer.county_codes[county], newer.kommune_codes[new], newer.kommune_codes[new],
                "Hele landet", newer.county_names[county], newer.kommune_names[new], "Alle skoler",
            ]  # fmt: skip
            rows.append(ids + block.cells("kommune", old, self.scenario.suppression_minimum))
        return rows

    def completion(self, year: str) -> dict[str, bytes]:
        layout, sizes, pupils, levels = self.tenth_graders(year)
        logit = (
            np.log(0.80 / 0.20)
            + SOURCE_UNITS["completion_logit"] * self.school_level("completion", year)
            + self.rng.normal(0, 0.05)  # the nation's year
        )
        completed = bernoulli(self.rng, pupils, logit)
        self.record(year, ("gjennomforing", "fullfort_og_bestatt", "vgs", None), pupils, completed * 100)
        if writer := self.pupils_wanted(year):
            writer.completion(year, self.places(year), pupils.school, completed)
        block = Block(
            "Alle eierformer.Alle utdanningsprogram.Begge kjønn",
            "Antall elever",
            levels.aggregate(np.zeros(pupils.size), _count),
            [("Andel fullført og bestått", 1, levels.aggregate(completed * 100, _mean))],
        )
        rows = unit_rows(
            layout,
            self.population,
            [block],
            np.zeros(sizes.size, dtype=bool),
            self.scenario.suppression_minimum,
            with_schools=False,
        )
        return {f"{year}_20260401-0800_Gjennomfoering.csv": portal_csv(header_for([block], year), rows)}

    def truth(self) -> pl.DataFrame:
        """The answer key (see the module docstring)."""
        kommuner = self.population.kommuner
        schools = self.population.schools
        # The kommune's grunnskoler, private ones too: its published figures (all owner forms, the only
        # ones Udir's exports give) are its pupils' in all of them, and nothing in them says who owns a
        # school, so a truth without them would ask for a split no figure makes.
        grunnskole = (schools["kind"] == "grunnskole").to_numpy()
        keep = (kommuner["code"] != "2100").to_numpy()
        columns, risk = {}, np.zeros(int(keep.sum()))
        weights = self.scenario.truth_area_weights
        for area, domain in AREAS.items():
            quality = np.mean([self.kommune_quality(domain, year) for year in TRUTH_YEARS], axis=0)
            if self.scenario.estimand == "kommune_and_schools":
                cohorts = np.sum([self.base[grade] for grade in TRUTH_COHORTS[domain]], axis=0)
                weight = np.where(grunnskole, cohorts, 0).astype(np.float64)
                pupils = np.bincount(self.school_kommune, weights=weight, minlength=kommuner.height)
                effect = self.scenario.school_sd * self.effect[domain] * weight
                total = np.bincount(self.school_kommune, weights=effect, minlength=kommuner.height)
                quality = quality + np.divide(total, pupils, out=np.zeros_like(total), where=pupils > 0)
            quality = quality[keep]
            standardised = (quality - quality.mean()) / quality.std()
            columns[f"quality_{area}"] = standardised.round(4)
            risk -= weights[area] * standardised
        return (
            kommuner.filter(pl.Series(keep))
            .select(
                pl.col("code").alias("municipality_code"),
                pl.col("name").alias("municipality_name"),
                "latent_learning",
                "latent_environment",
                "latent_completion",
            )
            .with_columns(
                *(pl.Series(name, values) for name, values in columns.items()),
                pl.Series("true_risk", (risk / sum(weights.values())).round(4)),
            )
            .sort("municipality_code")
        )


def generate_sample(
    seed: int,
    out_dir: Path,
    reference_dir: Path,
    scenario: Scenario | None = None,
    pupil_years: Collection[str] = (),
) -> dict[str, object]:
    """Write the national sample for ``seed`` and ``scenario`` (None: the standard one) to ``out_dir``,
    with the pupil-level datasets of ``pupil_years`` (``pipelines/sample/pupils.py``); returns a
    summary."""
    started = time.perf_counter()
    scenario = scenario or Scenario()
    sample, written = simulate(seed, reference_dir, scenario, pupil_years)
    for name, data in written.items():
        write_atomically(out_dir / name, data)
    return {
        "seed": seed,
        "scenario": scenario.name,
        "folder": str(out_dir),
        "files": len(written),
        "bytes": sum(len(d) for d in written.values()),
        "kommuner": sample.population.kommuner.height - 1,
        "grunnskoler": int((~sample.is_vgs).sum()),
        "videregaende_skoler": int(sample.is_vgs.sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def simulate(
    seed: int, reference_dir: Path, scenario: Scenario, pupil_years: Collection[str] = ()
) -> tuple[NationalSample, dict[str, bytes]]:
    """The sample for ``seed`` and ``scenario``, and its files by path (nothing written); with the
    pupil-level datasets of ``pupil_years``."""
    unknown = sorted(set(pupil_years) - set(SCHOOL_YEARS))
    if unknown:
        raise ValueError(f"no such school year in the sample: {', '.join(unknown)}")
    writer = PupilWriter(seed, frozenset(pupil_years)) if pupil_years else None
    sample = NationalSample(seed, reference_dir, scenario, pupils=writer)
    written: dict[str, bytes] = {}
    for year in SCHOOL_YEARS:
        if year in PAST_COHORTS:
            sample.select_cohort(year)
        for source, files in (
            ("elevundersokelsen", sample.survey(year)),
            ("grunnskolepoeng", sample.grunnskolepoeng(year)),
            ("gjennomforing", sample.completion(year)),
            ("nasjonale_prover", sample.national_tests(year) if year in NATIONAL_TEST_YEARS else {}),
        ):
            for name, data in files.items():
                written[f"{source}/{name}"] = data
    written[TRUTH_FILE] = sample.truth().write_csv().encode("utf-8")
    written[COHORTS_FILE] = sample.cohorts_csv()
    written[LISTS_FILE] = sample.lists_csv()
    written[SELECTION_TRUTH_FILE] = pl.concat(sample.selections).write_csv().encode("utf-8")
    written[SUPPORT_TRUTH_FILE] = sample.support_truth().write_csv().encode("utf-8")
    written[SCENARIO_FILE] = scenario_toml(scenario, seed).encode("utf-8")
    if writer is not None:
        written |= writer.files()
    return sample, written
