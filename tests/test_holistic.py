"""The holistic method: invariants that must hold whatever the data, and shrinkage by hand."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.indicators.values import INDICATOR_VALUES_SCHEMA
from pipelines.selection.holistic import _at_least_two, holistic_scores, standardise
from tests.test_udir_rule import CONFIG


def kommune_values(seed: int, kommuner: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    sizes = rng.lognormal(4, 1.2, kommuner).astype(int) + 3
    quality = rng.normal(0, 1, kommuner)
    for k in range(kommuner):
        for year in ("2024-25", "2025-26"):
            for indicator, national, sd, sign in (("a", 10.0, 4.0, 1.0), ("g", 42.0, 8.5, -1.0)):
                se = sd / np.sqrt(sizes[k])
                value = national + sign * quality[k] * sd / 3 + rng.normal(0, se)
                rows.append(
                    {
                        "level": "municipality",
                        "unit_code": f"{1000 + k}",
                        "municipality_code": f"{1000 + k}",
                        "county_code": "10",
                        "indicator_id": indicator,
                        "area": "laeringsmiljo" if indicator == "a" else "gjennomforing",
                        "school_year": year,
                        "value": float(value),
                        "std_error": float(se),
                        "n": int(sizes[k]),
                        "national": national,
                        "worse_sign": sign,
                        "break_note": None,
                    }
                )
    return pl.DataFrame(rows, schema=INDICATOR_VALUES_SCHEMA)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_rank_probabilities_are_coherent(seed):
    scores = holistic_scores(kommune_values(seed), CONFIG).scores
    top_n = CONFIG.holistic.top_n
    # Every draw puts exactly N kommuner in the top N, so the probabilities sum to N.
    assert scores["p_top_n"].sum() == pytest.approx(top_n)
    assert scores["p_top_n"].is_between(0, 1).all()
    assert (scores["rank_low"] <= scores["rank_high"]).all()
    assert sorted(scores["holistic_rank"].to_list()) == list(range(1, scores.height + 1))
    assert scores["persistence"].is_between(0, 1).all()
    # The point ranking follows the composite.
    ordered = scores.sort("holistic_rank")["composite"].to_list()
    assert ordered == sorted(ordered, reverse=True)


def test_same_seed_same_result_and_tiers_follow_probabilities():
    first = holistic_scores(kommune_values(3), CONFIG).scores
    second = holistic_scores(kommune_values(3), CONFIG).scores
    assert first.equals(second)
    for row in first.iter_rows(named=True):
        expected = (
            "klar kandidat"
            if row["p_top_n"] >= 0.8
            else "klart ikke"
            if row["p_top_n"] < 0.2
            else "grensetilfelle"
        )
        assert row["tier"] == expected


def test_shrinkage_pulls_small_kommuner_toward_the_national_level():
    values = kommune_values(7)
    shrunk = holistic_scores(values, CONFIG, shrinkage=True).scores
    raw = holistic_scores(values, CONFIG, shrinkage=False).scores
    joined = shrunk.join(raw.select("unit_code", pl.col("composite").alias("raw")), on="unit_code")
    # Shrinkage never flips the sign and never moves a score away from 0.
    assert ((joined["composite"] * joined["raw"]) >= 0).all()
    assert (joined["composite"].abs() <= joined["raw"].abs() + 1e-12).all()
    # The factor (1 − B) grows with the pupil count: small units are shrunk more.
    sizes = values.group_by("unit_code").agg(pl.col("n").first())
    joined = joined.join(sizes, on="unit_code").with_columns(
        (pl.col("composite") / pl.col("raw")).alias("factor")
    )
    n, factor = joined["n"].to_numpy(), joined["factor"].to_numpy()
    assert factor[n < np.quantile(n, 0.25)].mean() < factor[n > np.quantile(n, 0.75)].mean()


def test_shrinkage_by_hand():
    # One indicator, one year, three kommuner; national 0, values −2, 0, +2 with standard errors 1, 1, 3.
    frame = pl.DataFrame(
        {
            "level": ["municipality"] * 3,
            "unit_code": ["1", "2", "3"],
            "municipality_code": ["1", "2", "3"],
            "county_code": ["1"] * 3,
            "indicator_id": ["a"] * 3,
            "area": ["laeringsmiljo"] * 3,
            "school_year": ["2025-26"] * 3,
            "value": [-2.0, 0.0, 2.0],
            "std_error": [1.0, 1.0, 3.0],
            "n": [100, 100, 10],
            "national": [0.0] * 3,
            "worse_sign": [1.0] * 3,
            "break_note": [None] * 3,
        },
        schema=INDICATOR_VALUES_SCHEMA,
    )
    scores = holistic_scores(frame, CONFIG, shrinkage=True).scores.sort("unit_code")
    # The SD of (−2, 0, 2) is 2, so z = (−1, 0, 1) with error variances (se / 2)².
    z = [-1.0, 0.0, 1.0]
    error = [0.25, 0.25, 2.25]
    signal = max(np.var(z, ddof=1) - np.mean(error), 1e-3)  # 1 − 11/12
    expected = [(1 - e / (e + signal)) * zi for zi, e in zip(z, error, strict=True)]
    assert signal == pytest.approx(1 / 12)
    assert scores["composite"].to_list() == pytest.approx(expected)
    assert scores["composite_var"].to_list() == pytest.approx([(1 - e / (e + signal)) * e for e in error])


def test_school_component_adds_uncertainty_to_kommuner_with_few_schools():
    values = kommune_values(11, kommuner=30)
    rng = np.random.default_rng(0)
    schools = []
    for row in values.iter_rows(named=True):
        count = 1 if int(row["unit_code"]) % 2 else 6
        for index in range(count):
            schools.append(
                {
                    **row,
                    "level": "school",
                    "unit_code": f"{row['unit_code']}{index}",
                    "n": max(row["n"] // count, 1),
                    "value": row["value"] + rng.normal(0, 2.0),
                }
            )
    school_values = pl.DataFrame(schools, schema=INDICATOR_VALUES_SCHEMA)
    with_schools = standardise(values, school_values)
    one_school = with_schools.filter(pl.col("unit_code").cast(pl.Int64) % 2 == 1)["school_var"]
    six_schools = with_schools.filter(pl.col("unit_code").cast(pl.Int64) % 2 == 0)["school_var"]
    assert one_school.mean() > 3 * six_schools.mean() > 0
    assert (with_schools["error_var"] >= with_schools["sampling_var"]).all()


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ([0.5, 0.5, 0.5], 0.5),
        ([1.0, 1.0, 0.0], 1.0),
        ([0.9, 0.9, 0.9], 0.972),
        ([0.2, 0.3], 0.06),
        ([0.7], 0.0),
    ],
)
def test_persistence_at_least_two_of_three(probabilities, expected):
    assert _at_least_two(probabilities) == pytest.approx(expected)
