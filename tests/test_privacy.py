"""Attacks on what is published: the subtraction in issue 10, a linear-algebra attack on every linked
table, random small hierarchies, and the configuration's lowest minimum.

The attacks (tests/privacy_attack.py) are written apart from the suppression code and read only the
published figures and the hierarchy.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import ConfigError, load_config
from pipelines.flow import FlowRun, materialise
from pipelines.outputs.followup_page import withhold_hidden
from pipelines.outputs.privacy import PUBLISHED_SCHEMA, hidden_shares, protect_table, published_figures
from pipelines.sample.generate import generate_sample
from pipelines.sample.scenario import Scenario
from pipelines.settings import PROJECT_ROOT, REFERENCE_DIR
from tests.conftest import SAMPLE_SEED, SCHOOL_YEAR
from tests.privacy_attack import (
    TableSpace,
    area_score_equations,
    findings,
    linear_attack,
    linked_attack,
    remainders_from_counts,
    subtraction_attack,
    table_space,
)

MINIMUM = 10
KEY_COLUMNS = ["level", "unit_code", "indicator_id", "school_year"]
TRUE_COLUMNS = [*KEY_COLUMNS, "municipality_code", "county_code", "n"]
LEVEL_TABLES = {
    "national": "national_indicator_values",
    "county": "fylke_comparison_values",
    "municipality": "indicator_values",
    "school": "school_indicator_values",
}
TRUE_TABLES = [*LEVEL_TABLES.values(), "fylke_indicator_values"]


@pytest.fixture(scope="module")
def figures(national_run) -> pl.DataFrame:
    return national_run.table("published_figures")


@pytest.fixture(scope="module")
def true_counts(national_run) -> pl.DataFrame:
    """The counts before any suppression (the selection's full data)."""
    return pl.concat(national_run.table(table).select(TRUE_COLUMNS) for table in TRUE_TABLES)


@pytest.fixture(scope="module")
def read_figures(published) -> pl.DataFrame:
    """``published_figures.csv`` as a reader gets it: the file, not the warehouse's table."""
    return pl.read_csv(published["root"] / "published_figures.csv", schema=PUBLISHED_SCHEMA)


@pytest.fixture(scope="module")
def spaces(read_figures, true_counts) -> dict[tuple[str, str], TableSpace]:
    """Every indicator × year of the published file as the attacker's linear system."""
    remainders = remainders_from_counts(true_counts)
    return {
        (str(indicator), str(year)): table_space(
            rows, {(level, code) for i, y, level, code in remainders if (i, y) == (indicator, year)}
        )
        for (indicator, year), rows in sorted(
            read_figures.partition_by("indicator_id", "school_year", as_dict=True).items()
        )
    }


def _profile_data(path: Path) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', path.read_text(), re.S)
    assert match
    return json.loads(match.group(1))


# (a) The subtraction in the issue -------------------------------------------------------------------


def test_subtraction_attack_on_published_figures_finds_no_small_remainder(figures, published):
    exposed = subtraction_attack(figures, MINIMUM)
    assert exposed.is_empty(), exposed.head(10)
    # The CSV beside the lists is the same table.
    csv = pl.read_csv(published["root"] / "published_figures.csv", schema=PUBLISHED_SCHEMA)
    # The same table, floats rounded for byte-identical files.
    assert csv.drop("value", "std_error").equals(figures.drop("value", "std_error"))
    for column in ("value", "std_error"):
        assert (csv[column] - figures[column]).abs().max() < 1e-4
        assert csv[column].is_null().equals(figures[column].is_null())


def test_subtraction_attack_on_every_profile_page(published):
    """The attack as a reader of the dashboard would make it: the kommune's n minus its shown schools'
    n, per indicator and year, on every profile page."""
    ids = {i.label: i.id for i in load_config().indicators}
    checked = 0
    for path in sorted((published["dashboard"] / "kommuner").glob("*.html")):
        data = _profile_data(path)
        shown: dict[tuple[str, str], int] = {}
        for school in data["schools"]:
            if not school["hidden"]:
                key = (school["indicator"], school["year"])
                shown[key] = shown.get(key, 0) + school["n"]
        for entry in data["indicators"]:
            for year, n in zip(entry["years"], entry["n"], strict=True):
                if n is not None:
                    remaining = n - shown.get((ids[entry["label"]], year), 0)
                    assert not 0 < remaining < MINIMUM, (path.name, entry["label"], year, n, remaining)
                    checked += 1
    assert checked > 5000


def test_roros_mobbing_7_is_safe_now(figures):
    """Issue 10's example: 5025 Røros, mobbing 7. trinn 2025-26, kommune 15.6 % of 45 and one school
    14.6 % of 41 shown, so 1 of the 4 other pupils was bullied. Now what the page shows leaves no group
    of 1-9 pupils."""
    mine = figures.filter(
        (pl.col("municipality_code") == "5025")
        & (pl.col("indicator_id") == "mobbing_7")
        & (pl.col("school_year") == "2025-26")
    )
    kommune = mine.filter(pl.col("level") == "municipality")
    schools = mine.filter(pl.col("level") == "school")
    assert kommune.height == 1 and schools.height >= 2
    if not kommune["hidden"][0]:
        remaining = kommune["n"][0] - (schools["n"].sum() or 0)
        assert not 0 < remaining < MINIMUM


def test_roros_shaped_table_hides_the_school_that_gave_it_away():
    """The same shape on its own: kommune of 45, one school of 41 shown, another suppressed at the
    source (no count). The shown school must go, not the kommune (kommune figures are kept first)."""
    rows = _table(
        [
            ("national", "", None, None, 12.0, 45),
            ("county", "50", None, "50", 12.0, 45),
            ("municipality", "5025", "5025", "50", 15.6, 45),
            ("school", "1", "5025", "50", 14.6, 41),
            ("school", "2", "5025", "50", None, None),
        ]
    )
    hidden = dict(zip(rows["unit_code"], protect_table(rows, MINIMUM), strict=True))
    assert hidden["1"] and hidden["2"]
    assert not hidden["5025"]


def _table(rows: list[tuple]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema=["level", "unit_code", "municipality_code", "county_code", "value", "n"],
        orient="row",
    )
    return frame.with_columns(
        pl.lit("x").alias("indicator_id"),
        pl.lit("2025-26").alias("school_year"),
        (pl.col("value") / 10).alias("std_error"),
    )


# (b2) Pupil-level input: every figure exact, all suppression the product's ---------------------------


@pytest.fixture(scope="module")
def pupil_level_run(tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """The national sample with nothing suppressed at the source (the generator's figures before Udir's
    "*": every count from one pupil, with its value), run up to ``published_figures``: the input
    issue 14's pupil-level aggregation gives, in the shape of the exports."""
    folder = tmp_path_factory.mktemp("pupil-level")
    scenario = Scenario(name="uten_prikking", suppression_minimum=1)
    generate_sample(SAMPLE_SEED, folder / "raw", REFERENCE_DIR, scenario)
    # Only the window's files: the published figures are the window's, and the test stays quick.
    window = load_config().with_year(SCHOOL_YEAR).window()
    for path in (folder / "raw").glob("*/*"):
        if path.name[:7] not in window:
            path.unlink()
    return materialise(
        folder / "warehouse.duckdb",
        ["published_figures"],
        raise_on_error=True,
        raw_dir=str(folder / "raw"),
        school_year=SCHOOL_YEAR,
        reports_dir=str(folder / "reports"),
        register_path=str(folder / "register.duckdb"),
    )


def test_pupil_level_input_is_suppressed_by_the_product_and_resists_the_attack(pupil_level_run):
    """With no suppression at the source, the product hides every figure from 1-9 pupils (primary) and
    enough more (secondary) that the linear attack determines no hidden figure and no small group (in a
    table of each kind for the newest school year; the exports path's tests attack every table)."""
    figures = pupil_level_run.table("published_figures")
    counts = pl.concat(pupil_level_run.table(t).select(TRUE_COLUMNS) for t in TRUE_TABLES)
    assert counts.filter(pl.col("n").is_between(1, MINIMUM - 1)).height > 10_000  # the source hid none
    truth = figures.drop("n").join(counts.select(*KEY_COLUMNS, "n"), on=KEY_COLUMNS, how="left")
    primary = truth["n"].is_null() | (truth["n"] < MINIMUM)
    assert truth.filter(primary)["hidden"].all()
    secondary = int((truth["hidden"] & ~primary).sum())
    print(f"\npupil-level input: {int(primary.sum())} primary, {secondary} secondary of {figures.height}")
    assert 0 < secondary < 0.05 * figures.height
    remainders = remainders_from_counts(counts)
    # One table per source and kind of figure (shares, indices, scale points), each with hidden figures.
    attacked = ["mobbing_7", "stotte_10", "mestring1_lesing_5", "skalapoeng_regning_8", "grunnskolepoeng"]
    attacked += ["fullfort_kommune"]
    for indicator in attacked:
        rows = figures.filter((pl.col("indicator_id") == indicator) & (pl.col("school_year") == SCHOOL_YEAR))
        mine = {(level, code) for i, y, level, code in remainders if (i, y) == (indicator, SCHOOL_YEAR)}
        found = linear_attack(rows, mine, MINIMUM)
        assert found.determined == [] and found.small_groups == [] and found.odd == [], (indicator, found)
        assert rows["hidden"].any()


# (b) Linear algebra over every linked table ---------------------------------------------------------


def test_linear_attack_determines_no_hidden_figure_and_no_small_group(spaces):
    """Per indicator × year, the published file's figures of every level as one linear system (country,
    fylker, kommuner, schools; pupils outside the listed parts as unknowns where the counts show them). By
    rank and projection onto the row space: no hidden figure is determined, and every group of hidden
    pupils that is determined holds 0 or at least the minimum."""
    groups = 0
    for table, space in spaces.items():
        found = findings(space, MINIMUM)
        assert found.determined == [], (table, found.determined[:5])
        assert found.small_groups == [], (table, found.small_groups[:5])
        assert found.odd == [], (table, found.odd[:5])
        groups += found.groups
    # Every kommune and fylkeskommune indicator (scale points included) × the window's 3 school years.
    assert len(spaces) == len(load_config().indicators) * 3 == 60 and groups > 1000


def test_area_scores_beside_the_tables_determine_no_hidden_figure(spaces, read_figures, national_run):
    """The tables are linked across indicators by the follow-up's area scores: a kommune's score in a
    year is a known combination of its figures of the area's indicators. As if every kommune and area
    had a chart in every year of the window: with the scores the page withholds left out, the tables and
    the scores together determine no hidden figure; with every score shown (the planted leak), the attack
    recovers hidden kommune figures from them, and through those some hidden schools."""
    config = load_config()
    kommuner = read_figures.filter(pl.col("level") == "municipality")
    every = (
        kommuner.select(pl.col("unit_code").alias("municipality_code"), "school_year")
        .unique()
        .join(pl.DataFrame({"area": sorted({i.area for i in config.for_owner("kommune")})}), how="cross")
        .with_columns(pl.lit(0.0).alias("score"))
    )
    shown = withhold_hidden(every, read_figures, config).filter(pl.col("score").is_not_null())
    counts = national_run.table("indicator_values").select("unit_code", "indicator_id", "school_year", "n")
    national = read_figures.filter(pl.col("level") == "national").select(
        "indicator_id", "school_year", pl.col("value").alias("national")
    )
    assert 0 < shown.height < every.height
    assert linked_attack(spaces, area_score_equations(shown, counts, national, config)) == []
    leaked = linked_attack(spaces, area_score_equations(every, counts, national, config))
    assert any(" municipality:" in figure for figure in leaked), leaked[:5]
    print(f"\nfigures recovered with every area score shown: {len(leaked)}")


def test_the_attack_has_teeth(national_run, true_counts):
    """With primary suppression only (every figure from enough pupils shown), the same attack finds
    determined hidden figures and small groups in the same table."""
    where = (pl.col("indicator_id") == "mobbing_7") & (pl.col("school_year") == "2025-26")
    columns = [*PUBLISHED_SCHEMA][:-1]
    rows = pl.concat(national_run.table(t).filter(where).select(columns) for t in LEVEL_TABLES.values())
    hidden = pl.col("n").is_null() | (pl.col("n") < MINIMUM) | pl.col("value").is_null()
    primary_only = rows.with_columns(hidden.alias("hidden"))
    primary_only = primary_only.with_columns(pl.when(hidden).then(None).otherwise(pl.col("n")).alias("n"))
    remainders = {(level, code) for i, y, level, code in remainders_from_counts(true_counts.filter(where))}
    found = linear_attack(primary_only, remainders, MINIMUM)
    assert found.determined and found.small_groups
    assert not subtraction_attack(primary_only, MINIMUM).is_empty()


def test_hidden_share_is_reported(figures, true_counts, national_run):
    """The cost of protection on the national sample (printed with -s)."""
    shares = hidden_shares(figures)
    primary = true_counts.with_columns(hidden=pl.col("n").is_null() | (pl.col("n") < MINIMUM))
    before = hidden_shares(primary.with_columns(pl.col("hidden")))
    print("\nhidden figures, primary suppression only:\n", before)
    print("hidden figures, published (primary and secondary):\n", shares)
    recorded = national_run.metadata("published_figures")["hidden_share"]
    assert recorded == pytest.approx(figures["hidden"].mean(), abs=1e-4)
    # Secondary suppression costs something, but not most of what is shown.
    assert 0 < figures["hidden"].mean() - primary["hidden"].mean() < 0.05
    assert not figures.filter(pl.col("level") == "national")["hidden"].any()
    # A standard error is published only beside its figure.
    assert figures.filter(pl.col("hidden"))["std_error"].null_count() == int(figures["hidden"].sum())


def test_every_profile_shows_the_published_figures(figures, published):
    """The dashboard's kommune and school figures are the published ones, hidden where hidden."""
    municipal = {
        (r["unit_code"], r["indicator_id"], r["school_year"]): r
        for r in figures.filter(pl.col("level") == "municipality").iter_rows(named=True)
    }
    schools = {
        (r["unit_code"], r["indicator_id"], r["school_year"]): r
        for r in figures.filter(pl.col("level") == "school").iter_rows(named=True)
    }
    labels = {i.label: i.id for i in load_config().indicators}
    for path in sorted((published["dashboard"] / "kommuner").glob("*.html"))[::20]:
        data = _profile_data(path)
        for entry in data["indicators"]:
            for year, value, n in zip(entry["years"], entry["unit"], entry["n"], strict=True):
                row = municipal.get((data["code"], labels[entry["label"]], year))
                assert (value is None) == (row is None or row["hidden"])
                if value is not None and row is not None:
                    assert n == row["n"] and value == pytest.approx(row["value"], abs=0.01)
        for school in data["schools"]:
            row = schools[(school["code"], school["indicator"], school["year"])]
            assert school["hidden"] == row["hidden"] and school["n"] == row["n"]


# (c) Random small hierarchies, attacked by brute force ---------------------------------------------


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[tuple], dict[str, int], set[str]]:
    """A country of 1-3 fylker of 1-3 kommuner of 0-4 schools, with true counts 0-40, some pupils
    outside the listed schools, and Udir-style suppression (no value, no count) below 10."""
    rows: list[tuple] = []
    truth: dict[str, int] = {}
    extra: set[str] = set()
    national = 0
    for f in range(draw(st.integers(1, 3))):
        fylke_code = f"{f + 1:02d}"
        fylke_n = 0
        for k in range(draw(st.integers(1, 3))):
            kommune_code = f"{fylke_code}{k + 1:02d}"
            kommune_n = 0
            for s in range(draw(st.integers(0, 4))):
                n = draw(st.integers(0, 40))
                code = f"{kommune_code}{s}"
                truth[code] = n
                kommune_n += n
                rows.append(("school", code, kommune_code, fylke_code, n))
            # Pupils outside the listed schools (in schools missing from the export), where some are.
            outside = draw(st.sampled_from([0, 0, 0, 2, 7, 15])) if kommune_n or draw(st.booleans()) else 0
            if outside and any(r[2] == kommune_code for r in rows if r[0] == "school"):
                extra.add(kommune_code)
                truth[f"remainder:{kommune_code}"] = outside
            kommune_n += outside
            truth[kommune_code] = kommune_n
            fylke_n += kommune_n
            rows.append(("municipality", kommune_code, kommune_code, fylke_code, kommune_n))
        truth[fylke_code] = fylke_n
        national += fylke_n
        rows.append(("county", fylke_code, None, fylke_code, fylke_n))
    rows.append(("national", "", None, None, national))
    return rows, truth, extra


def _brute_force(rows: list[tuple], hidden: list[bool], truth: dict[str, int], extra: set[str]) -> list[str]:
    """Every subset of the unknowns (hidden leaves and true outside pupils): derivable from the shown
    totals? If so, its true count must be 0 or at least the minimum; no hidden figure may be derivable."""
    leaves: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for level, code, kommune, fylke, _ in rows:
        parent = {"school": kommune, "municipality": fylke, "county": "", "national": None}[level]
        if parent is not None:
            children.setdefault(parent, []).append(code)

    def under(code: str) -> list[str]:
        if code not in leaves:
            below = [leaf for child in children.get(code, []) for leaf in under(child)]
            own = [code] if code not in children else []
            outside = [f"remainder:{code}"] if code in extra else []
            leaves[code] = own + below + outside
        return leaves[code]

    shown = {code for (_, code, *_), h in zip(rows, hidden, strict=True) if not h}
    all_leaves = under("")
    unknowns = [leaf for leaf in all_leaves if leaf not in shown]
    position = {leaf: i for i, leaf in enumerate(unknowns)}
    equations = []
    for (_, code, *_), h in zip(rows, hidden, strict=True):
        if not h and code in children:
            row = np.zeros(len(unknowns))
            row[[position[leaf] for leaf in under(code) if leaf in position]] = 1.0
            equations.append(row)
    system = np.array(equations).reshape(len(equations), len(unknowns))
    rank = np.linalg.matrix_rank(system) if system.size else 0

    def derivable(vector: np.ndarray) -> bool:
        return not vector.any() or np.linalg.matrix_rank(np.vstack([system, vector])) == rank

    problems = []
    for (level, code, *_), h in zip(rows, hidden, strict=True):
        if h:
            vector = np.zeros(len(unknowns))
            vector[[position[leaf] for leaf in under(code) if leaf in position]] = 1.0
            if derivable(vector):
                problems.append(f"hidden {level} {code} is derivable")
    for size in range(1, len(unknowns) + 1):
        for subset in itertools.combinations(range(len(unknowns)), size):
            pupils = sum(truth[unknowns[i]] for i in subset)
            if 0 < pupils < MINIMUM:
                vector = np.zeros(len(unknowns))
                vector[list(subset)] = 1.0
                if derivable(vector):
                    problems.append(f"group {[unknowns[i] for i in subset]} of {pupils} is derivable")
    return problems


@pytest.mark.parametrize("source_minimum", [MINIMUM, 1], ids=["udir_exports", "pupil_level"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies())
def test_random_hierarchies_resist_brute_force(source_minimum, example):
    """As Udir publishes (below 10 no value and no count), and as aggregated from pupil-level data
    (every count from 1 pupil exact, with its value: all suppression is the product's)."""
    rows, truth, extra = example
    published = [
        (lvl, c, k, f, *((None, None) if n < source_minimum else (50.0, n))) for lvl, c, k, f, n in rows
    ]
    frame = _table(published)
    hidden = protect_table(frame, MINIMUM)
    unknown_leaves = sum(1 for (lvl, c, *_), h in zip(rows, hidden, strict=True) if h and lvl == "school")
    if unknown_leaves + len(extra) > 12:
        return  # too many subsets to try them all
    assert _brute_force(rows, hidden, truth, extra) == []


def test_published_figures_of_a_small_country_are_complete_and_protected():
    """The table's shape: every input row once, value and n empty where hidden."""
    rows = [
        ("national", "", None, None, 10.0, 120),
        ("county", "03", None, "03", 10.0, 120),
        ("municipality", "0301", "0301", "03", 10.0, 120),
        ("school", "a", "0301", "03", 11.0, 60),
        ("school", "b", "0301", "03", 9.0, 55),
        ("school", "c", "0301", "03", None, None),
    ]
    frame = _table(rows)
    config = load_config()
    by_level = [frame.filter(pl.col("level") == level) for level in LEVEL_TABLES]
    figures = published_figures(*by_level, config)
    assert figures.height == 6 and figures.schema == PUBLISHED_SCHEMA
    hidden = dict(zip(figures["unit_code"], figures["hidden"], strict=True))
    assert hidden == {"": False, "03": False, "0301": False, "a": False, "b": True, "c": True}
    assert figures.filter(pl.col("hidden"))["n"].null_count() == 2
    # The standard error goes with its figure: shown with it, hidden with it.
    assert figures.filter(pl.col("hidden"))["std_error"].null_count() == 2
    assert figures.filter(~pl.col("hidden"))["std_error"].to_list() == [1.0, 1.0, 1.0, 1.1]


# 3. The minimum cannot be set below 10 without a written reason ------------------------------------


def _config_with(tmp_path: Path, replacement: str) -> Path:
    source = (PROJECT_ROOT / "utvalg.toml").read_text(encoding="utf-8")
    changed, count = re.subn(r"(?m)^minimum_pupils = 10 .*$", replacement, source)
    assert count == 1
    path = tmp_path / "utvalg.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_minimum_pupils_below_10_is_refused_naming_the_file_and_entry(tmp_path):
    with pytest.raises(ConfigError, match=r"utvalg\.toml \[selection\]: 'minimum_pupils' = 1 is below 10"):
        load_config(_config_with(tmp_path, "minimum_pupils = 1"))


def test_minimum_pupils_below_10_needs_a_non_empty_reason(tmp_path):
    with pytest.raises(ConfigError, match="minimum_pupils_override_reason"):
        load_config(_config_with(tmp_path, 'minimum_pupils = 5\nminimum_pupils_override_reason = "  "'))
    reason = 'minimum_pupils = 5\nminimum_pupils_override_reason = "Intern kvalitetssikring, ikke publisert"'
    config = load_config(_config_with(tmp_path, reason))
    assert config.selection.minimum_pupils == 5
    # Recorded with the run (provenance records the configuration) and shown in the workbooks.
    assert config.as_dict()["selection"]["minimum_pupils_override_reason"].startswith("Intern")
