"""Udir's rule on small cases computed by hand."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.config import ConfigError, load_config, parse_config
from pipelines.indicators.values import INDICATOR_VALUES_SCHEMA
from pipelines.outputs.method_text import method_sections
from pipelines.selection.udir_rule import among_worst, full_possible_points, udir_selection
from pipelines.settings import PROJECT_ROOT
from pipelines.vocabulary import UDIR_RANKED, UDIR_TIED_AT_CUTOFF, UDIR_TOO_LITTLE_DATA

CONFIG_TEXT = """
[selection]
school_year = "2025-26"
window_years = 2
category_1_count = 2
category_2_max = 10
category_2_spread = 0.30
category_2_worst_school_share = 0.25
# 3333 below has 6 of the 24 points possible: exactly this share, so it is ranked.
minimum_possible_share = 0.25
minimum_pupils = 10

[holistic]
top_n = 2
fylkeskommune_top_n = 1
draws = 2000
seed = 1
shrinkage = true
candidate_probability = 0.8
not_candidate_probability = 0.2

[[indicator]]
id = "a"
label = "A"
owner = "kommune"
source = "elevundersokelsen"
indicator = "mobbing"
grade = "7"
area = "laeringsmiljo"
higher_is_better = false
udir_rule = true
absolute_limit = 20.0

[[indicator]]
id = "g"
label = "G"
owner = "kommune"
source = "grunnskolepoeng"
indicator = "grunnskolepoeng"
grade = "10"
area = "gjennomforing"
higher_is_better = true
udir_rule = true
absolute_limit = 38.0
risk_point_weight = 3
pupil_sd = 8.5
"""
CONFIG = parse_config(tomllib.loads(CONFIG_TEXT), "test.toml")
NATIONAL = {"a": 10.0, "g": 42.0}


def values(rows: list[tuple[str, str, str, str, float | None]], level: str = "municipality") -> pl.DataFrame:
    """(unit, kommune, indicator, year, value) → the indicator_values shape."""
    return pl.DataFrame(
        [
            {
                "level": level,
                "unit_code": unit,
                "municipality_code": kommune,
                "county_code": kommune[:2],
                "indicator_id": indicator,
                "area": "laeringsmiljo",
                "school_year": year,
                "value": value,
                "std_error": 1.0,
                "n": 100,
                "national": NATIONAL[indicator],
                "worse_sign": 1.0 if indicator == "a" else -1.0,
                "break_note": None,
            }
            for unit, kommune, indicator, year, value in rows
        ],
        schema=INDICATOR_VALUES_SCHEMA,
    )


KOMMUNER = values(
    [
        ("1111", "1111", "a", "2024-25", 15.0),  # worse than national: 1
        ("1111", "1111", "a", "2025-26", 25.0),  # beyond the limit: 3
        ("1111", "1111", "g", "2024-25", 40.0),  # worse: 1 × 3
        ("1111", "1111", "g", "2025-26", 37.0),  # beyond: 3 × 3
        ("2222", "2222", "a", "2024-25", 5.0),
        ("2222", "2222", "a", "2025-26", None),  # suppressed: not possible either
        ("2222", "2222", "g", "2024-25", 43.0),
        ("2222", "2222", "g", "2025-26", 41.0),  # worse: 1 × 3
        ("3333", "3333", "a", "2024-25", 10.0),  # equal to the national level: 0
        ("3333", "3333", "a", "2025-26", 21.0),  # beyond: 3
    ]
)
SCHOOLS = values(
    [
        ("900000001", "2222", "a", "2024-25", 30.0),  # 3 of 3
        ("900000002", "2222", "a", "2024-25", 5.0),  # 0 of 3
        ("900000003", "1111", "a", "2024-25", 12.0),  # 1 of 3
        ("900000004", "3333", "a", "2024-25", 9.0),
        ("900000005", "3333", "a", "2024-25", 9.5),
    ],
    level="school",
)


def test_risk_shares_and_categories_by_hand():
    result = udir_selection(KOMMUNER, SCHOOLS, CONFIG)
    rows = {row["unit_code"]: row for row in result.iter_rows(named=True)}
    assert (rows["1111"]["risk_points"], rows["1111"]["possible_points"]) == (16, 24)
    assert rows["1111"]["risk_share"] == pytest.approx(16 / 24)
    assert (rows["2222"]["risk_points"], rows["2222"]["possible_points"]) == (3, 21)
    assert (rows["3333"]["risk_points"], rows["3333"]["possible_points"]) == (3, 6)
    assert [row["unit_code"] for row in result.iter_rows(named=True)] == ["1111", "3333", "2222"]
    assert rows["1111"]["udir_category"] == 1 and rows["3333"]["udir_category"] == 1
    # 2222: its schools' shares are 1.0 and 0.0 (spread 1.0 > 0.3) and one is in the worst quartile.
    assert rows["2222"]["school_spread"] == pytest.approx(1.0)
    assert rows["2222"]["has_worst_quartile_school"] is True
    assert rows["2222"]["udir_category"] == 2
    assert {row["udir_status"] for row in rows.values()} == {UDIR_RANKED}
    assert rows["3333"]["possible_share"] == pytest.approx(6 / 24)


def with_minimum(share: float):
    return replace(CONFIG, selection=replace(CONFIG.selection, minimum_possible_share=share))


def test_a_kommune_below_the_minimum_share_of_possible_points_is_not_ranked():
    # Every indicator-year has a national figure: 2 × 3 (a) + 2 × 9 (g) = 24 points possible.
    assert full_possible_points(KOMMUNER, CONFIG) == 24
    extra = values(
        [
            ("4444", "4444", "g", "2025-26", 30.0),  # 9 of 9: the highest share, but 9/24 < 0.5
            ("5555", "5555", "a", "2024-25", 15.0),  # 1 + 1 of 3 + 9 = 12/24, exactly half: ranked
            ("5555", "5555", "g", "2024-25", 41.0),  # worse: 3
        ]
    )
    result = udir_selection(pl.concat([KOMMUNER, extra]), SCHOOLS, with_minimum(0.5))
    rows = {row["unit_code"]: row for row in result.iter_rows(named=True)}
    for code in ("3333", "4444"):  # 6/24 and 9/24 of the possible points
        assert rows[code]["udir_status"] == UDIR_TOO_LITTLE_DATA
        assert rows[code]["udir_rank"] is None and rows[code]["udir_category"] is None
        assert rows[code]["tied_count"] is None and rows[code]["tied_at_cutoff"] is False
    assert rows["4444"]["risk_share"] == 1.0 and rows["4444"]["possible_share"] == pytest.approx(9 / 24)
    # Ranked: 1111 16/24, 5555 4/12 (share 1/3), 2222 3/21; category 1 is the two highest of them.
    assert rows["5555"]["possible_share"] == 0.5 and rows["5555"]["risk_share"] == pytest.approx(1 / 3)
    ranked = result.filter(pl.col("udir_rank").is_not_null())
    assert ranked["unit_code"].to_list() == ["1111", "5555", "2222"]
    assert ranked["udir_rank"].to_list() == [1, 2, 3]
    assert result.filter(pl.col("udir_category") == 1)["unit_code"].to_list() == ["1111", "5555"]
    # Those not ranked come last, by code.
    assert result["unit_code"].to_list()[-2:] == ["3333", "4444"]
    # With the minimum at 0 (Udir's published rule) 4444 leads category 1 on one figure.
    published = udir_selection(pl.concat([KOMMUNER, extra]), SCHOOLS, with_minimum(0.0))
    assert published.filter(pl.col("udir_category") == 1)["unit_code"].to_list() == ["4444", "1111"]
    assert (published["udir_status"] != UDIR_TOO_LITTLE_DATA).all()


def test_a_kommune_with_too_little_data_is_not_in_category_2_either():
    # 2222 meets category 2's conditions (see above); with 21/24 possible points below a 0.9 minimum it
    # is not ranked, so not in category 2; 1111 (24/24) is ranked and takes the first place.
    result = udir_selection(KOMMUNER, SCHOOLS, with_minimum(0.9))
    rows = {row["unit_code"]: row for row in result.iter_rows(named=True)}
    assert rows["2222"]["has_worst_quartile_school"] is True
    assert rows["2222"]["udir_status"] == UDIR_TOO_LITTLE_DATA and rows["2222"]["udir_category"] is None
    assert rows["1111"]["udir_rank"] == 1 and rows["1111"]["udir_category"] == 1


def test_points_possible_count_only_indicator_years_the_country_has():
    # The country has no figure for g in 2025-26: 2 × 3 (a) + 1 × 9 (g) = 15 points possible.
    partial = KOMMUNER.with_columns(
        pl.when((pl.col("indicator_id") == "g") & (pl.col("school_year") == "2025-26"))
        .then(None)
        .otherwise(pl.col("national"))
        .alias("national")
    )
    assert full_possible_points(partial, CONFIG) == 15
    assert full_possible_points(KOMMUNER.clear(), CONFIG) == 0
    assert udir_selection(KOMMUNER.clear(), SCHOOLS.clear(), CONFIG).is_empty()


def test_minimum_possible_share_defaults_to_half_and_is_checked():
    data = tomllib.loads(CONFIG_TEXT)
    del data["selection"]["minimum_possible_share"]
    assert parse_config(data, "test.toml").selection.minimum_possible_share == 0.5
    assert load_config(PROJECT_ROOT / "utvalg.toml").selection.minimum_possible_share == 0.5
    for wrong in (-0.1, 1.5):
        data["selection"]["minimum_possible_share"] = wrong
        with pytest.raises(ConfigError, match=r"'minimum_possible_share' .* between 0 and 1"):
            parse_config(data, "test.toml")
    data["selection"]["minimum_possible_share"] = "half"
    with pytest.raises(ConfigError, match="'minimum_possible_share' must be float"):
        parse_config(data, "test.toml")


def test_category_2_needs_spread_and_a_worst_quartile_school():
    flat = SCHOOLS.with_columns(
        pl.when(pl.col("unit_code") == "900000001").then(6.0).otherwise(pl.col("value")).alias("value")
    )
    result = udir_selection(KOMMUNER, flat, CONFIG)
    assert result.filter(pl.col("unit_code") == "2222")["udir_category"].to_list() == [None]


def test_ties_at_the_cutoff_are_reported_and_broken_by_code():
    tied = values(
        [
            ("4444", "4444", "a", "2024-25", 25.0),
            ("5555", "5555", "a", "2024-25", 25.0),
            ("6666", "6666", "a", "2024-25", 25.0),
        ]
    )
    result = udir_selection(tied, tied.clear(), CONFIG)
    assert result["udir_category"].to_list() == [1, 1, None]
    assert result["unit_code"].to_list() == ["4444", "5555", "6666"]
    assert result["tied_at_cutoff"].all()
    assert result["tied_count"].to_list() == [3, 3, 3]
    assert set(result["udir_status"]) == {UDIR_TIED_AT_CUTOFF}


def test_a_kommune_alone_at_the_cutoff_is_not_tied_and_ties_elsewhere_are_counted():
    kommuner = values(
        [
            ("4444", "4444", "a", "2024-25", 25.0),  # 3/3
            ("5555", "5555", "a", "2024-25", 15.0),  # 1/3: alone at the cutoff (rank 2)
            ("6666", "6666", "a", "2024-25", 5.0),  # 0/3
            ("7777", "7777", "a", "2024-25", 5.0),  # 0/3
        ]
    )
    result = udir_selection(kommuner, kommuner.clear(), CONFIG)
    assert result["unit_code"].to_list() == ["4444", "5555", "6666", "7777"]
    assert result["tied_count"].to_list() == [1, 1, 2, 2]
    assert not result["tied_at_cutoff"].any()
    assert set(result["udir_status"]) == {UDIR_RANKED}


def flagged(shares: list[float], worst_share: float) -> list[bool]:
    frame = pl.DataFrame({"share": shares}, schema={"share": pl.Float64})
    return frame.select(among_worst(pl.col("share"), worst_share))["share"].to_list()


def test_the_worst_quarter_of_schools_takes_whole_tie_groups_by_hand():
    shares = [1.0, 0.9, 0.9, 0.5, 0.5, 0.5, 0.1, 0.0]
    # 8 schools, 25 % → at most 2. Shares at or above 1.0: 1 school; at or above 0.9: 3, too many.
    assert flagged(shares, 0.25) == [True, False, False, False, False, False, False, False]
    # The 0.75 quantile (linear) is 0.9, and `>=` on it flagged 3 of 8 (37.5 %).
    assert pl.Series(shares).quantile(0.75, "linear") == 0.9
    assert flagged(shares, 0.375) == [True, True, True, False, False, False, False, False]
    # 0.57 × 100 is 56.99… in floating point: still 57 schools.
    assert sum(flagged([float(i) for i in range(100)], 0.57)) == 57
    assert flagged([0.4, 0.4, 0.4, 0.4], 0.25) == [False] * 4


@given(
    st.lists(st.sampled_from([0.0, 1 / 9, 1 / 3, 0.5, 2 / 3, 1.0]), min_size=1, max_size=60),
    st.floats(min_value=0.01, max_value=0.99),
)
def test_the_worst_schools_never_exceed_the_share_and_follow_the_order(shares, worst_share):
    marks = flagged(shares, worst_share)
    assert sum(marks) <= worst_share * len(shares) + 1e-9
    flagged_shares = [s for s, m in zip(shares, marks, strict=True) if m]
    unflagged = [s for s, m in zip(shares, marks, strict=True) if not m]
    if flagged_shares and unflagged:
        # No school is flagged while one with a higher (or the same) share is not.
        assert min(flagged_shares) > max(unflagged)
    if unflagged:
        # Whole tie groups, as many as fit: the next tie group would pass the share.
        assert sum(s >= max(unflagged) for s in shares) > worst_share * len(shares)


def test_shipped_configuration_is_valid_and_has_udirs_indicators():
    config = load_config(PROJECT_ROOT / "utvalg.toml")
    rule = [i for i in config.indicators if i.udir_rule]
    assert len(rule) == 11  # 6 survey, 4 national-test, grunnskolepoeng
    assert [i.risk_point_weight for i in rule if i.source == "grunnskolepoeng"] == [3]
    assert config.window() == ["2023-24", "2024-25", "2025-26"]
    assert config.with_year("2024-25").window() == ["2022-23", "2023-24", "2024-25"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["selection"].pop("window_years"), r"\[selection\]: missing 'window_years'"),
        (lambda d: d["selection"].update(school_year="2025-27"), "not two consecutive years"),
        (lambda d: d["indicator"][0].update(owner="skole"), r"'a': owner must be one of"),
        (lambda d: d["indicator"][0].pop("absolute_limit"), "needs an absolute_limit"),
        (lambda d: d["indicator"][1].update(id="a"), "the id is used twice"),
        (lambda d: d["holistic"].update(draws=10), "at least 1000"),
        (lambda d: d["holistic"].update(area_weights={"kultur": 1.0}), "unknown area"),
        (lambda d: d["indicator"][0].update(higher_is_better="no"), "'higher_is_better' must be bool"),
        # A misspelt key or section is an error naming it, never ignored (the default would apply).
        (
            lambda d: d["holistic"].update(area_weight={"laeringsmiljo": 2.0}),
            r"test.toml \[holistic\]: unknown section \[holistic.area_weight\]; "
            r"did you mean \[holistic.area_weights\]\?",
        ),
        (lambda d: d["holistic"].update(top_m=5), r"\[holistic\]: unknown key 'top_m'; did you mean 'top_n'"),
        (lambda d: d.update(selektion={}), r"test.toml: unknown section \[selektion\]; did you mean"),
        (lambda d: d["indicator"][1].update(subjekt="lesing"), r"'g': unknown key 'subjekt'"),
        (lambda d: d["holistic"].update(top_n=0), r"'top_n' must be at least 1, found 0"),
        (lambda d: d["holistic"].update(fylkeskommune_top_n=0), "'fylkeskommune_top_n' must be at least 1"),
        (lambda d: d["selection"].update(category_1_count=0), "'category_1_count' must be at least 1"),
        (lambda d: d["selection"].update(window_years=0), "'window_years' must be at least 1"),
        (lambda d: d["selection"].update(category_2_spread=1.5), "'category_2_spread' .* below 1"),
        (lambda d: d["selection"].update(allow_missing_data="yes"), "'allow_missing_data' must be bool"),
        (lambda d: d["indicator"][1].update(pupil_sd=0.0), "'pupil_sd' must be positive"),
        (lambda d: d["selection"].update(minimum_possible_share=2), "'minimum_possible_share' is a share"),
        (
            lambda d: d["holistic"].update(estimand="schools"),
            r"'estimand' must be \"kommune_and_schools\" or \"kommune_only\", found 'schools'",
        ),
    ],
)
def test_bad_configuration_gives_a_clear_error(change, message):
    data = tomllib.loads(CONFIG_TEXT)
    change(data)
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "test.toml")


def test_the_method_text_says_how_the_open_points_are_settled():
    config = load_config(PROJECT_ROOT / "utvalg.toml")
    text = dict(method_sections(config))["Udirs regel"]
    assert "færre mulige poeng enn 50 % av poengene" in text and f"«{UDIR_TOO_LITTLE_DATA}»" in text
    assert f"«{UDIR_TIED_AT_CUTOFF}»" in text and "etter kommunenummer" in text
    assert "aldri flere enn 25 %" in text
    assert "Et tall fra færre enn 10 elever gir verken risikopoeng eller mulige poeng" in text
    published = replace(config, selection=replace(config.selection, minimum_possible_share=0.0))
    assert UDIR_TOO_LITTLE_DATA not in dict(method_sections(published))["Udirs regel"]


def _at(unit: str, indicator: str, year: str) -> pl.Expr:
    key = {"unit_code": unit, "indicator_id": indicator, "school_year": year}
    return pl.all_horizontal(pl.col(column) == value for column, value in key.items())


def with_pupils(frame: pl.DataFrame, unit: str, indicator: str, year: str, n: int | None) -> pl.DataFrame:
    """``frame`` with one figure's pupil count set to ``n``."""
    at = _at(unit, indicator, year)
    return frame.with_columns(pl.when(at).then(pl.lit(n, pl.Int64)).otherwise(pl.col("n")).alias("n"))


def with_value(frame: pl.DataFrame, unit: str, indicator: str, year: str, value: float) -> pl.DataFrame:
    """``frame`` with one figure's value set to ``value``."""
    at = _at(unit, indicator, year)
    return frame.with_columns(pl.when(at).then(pl.lit(value)).otherwise(pl.col("value")).alias("value"))


def test_a_figure_from_fewer_than_minimum_pupils_counts_nowhere_in_the_rule():
    """Pupil-level data give figures from 1-9 pupils that are never published; the rule leaves them out
    as it leaves out a suppressed export, so nothing it publishes depends on their side of a limit."""
    # 1111's 25.0 for a in 2025-26 (beyond the limit: 3 of 3) from 9 pupils: 16/24 becomes 13/21.
    small = with_pupils(KOMMUNER, "1111", "a", "2025-26", 9)
    rows = {row["unit_code"]: row for row in udir_selection(small, SCHOOLS, CONFIG).iter_rows(named=True)}
    assert (rows["1111"]["risk_points"], rows["1111"]["possible_points"]) == (13, 21)
    # The figure on the better side of the country, or far beyond the limit: the same rule, cell for cell.
    for value in (5.0, 10.0, 99.0):
        moved = with_value(small, "1111", "a", "2025-26", value)
        assert udir_selection(moved, SCHOOLS, CONFIG).equals(udir_selection(small, SCHOOLS, CONFIG))
    # From exactly the minimum it counts, and so does a figure without a count (an export Udir published).
    for n in (10, None):
        counted = udir_selection(with_pupils(KOMMUNER, "1111", "a", "2025-26", n), SCHOOLS, CONFIG)
        assert counted.filter(pl.col("unit_code") == "1111")["risk_points"].item() == 16
    # A school's: 2222's school at 3 of 3 from 9 pupils leaves one school scored, so no spread and no
    # category 2, whichever side of the country its figure lies.
    schools = with_pupils(SCHOOLS, "900000001", "a", "2024-25", 9)
    for value in (30.0, 1.0):
        result = udir_selection(KOMMUNER, with_value(schools, "900000001", "a", "2024-25", value), CONFIG)
        row = result.filter(pl.col("unit_code") == "2222").row(0, named=True)
        assert (row["schools_scored"], row["school_spread"], row["udir_category"]) == (1, 0.0, None)
