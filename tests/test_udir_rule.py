"""Udir's rule on small cases computed by hand."""

from __future__ import annotations

import tomllib

import polars as pl
import pytest

from pipelines.config import ConfigError, load_config, parse_config
from pipelines.indicators.values import INDICATOR_VALUES_SCHEMA
from pipelines.selection.udir_rule import udir_selection
from pipelines.settings import PROJECT_ROOT

CONFIG_TEXT = """
[selection]
school_year = "2025-26"
window_years = 2
category_1_count = 2
category_2_max = 10
category_2_spread = 0.30
category_2_worst_school_share = 0.25
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
    ],
)
def test_bad_configuration_gives_a_clear_error(change, message):
    data = tomllib.loads(CONFIG_TEXT)
    change(data)
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "test.toml")
