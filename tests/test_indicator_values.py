"""Indicator values by hand: the standard error of a figure without Udir's Usikkerhet."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import load_config
from pipelines.indicators.values import indicator_values, pupil_sd
from pipelines.settings import PROJECT_ROOT
from pipelines.tables import HARMONISED_SCHEMA

CONFIG = load_config(PROJECT_ROOT / "utvalg.toml")
MOBBING_7 = next(i for i in CONFIG.indicators if i.id == "mobbing_7")  # a share: binomial error


def harmonised(rows: list[tuple[str, str, float, int]]) -> pl.DataFrame:
    """(level, unit, percent bullied in 7th grade, pupils) → harmonised observations, 2025-26."""
    return pl.DataFrame(
        [
            {
                "source": "elevundersokelsen",
                "school_year": "2025-26",
                "level": level,
                "unit_code": unit,
                "municipality_code": unit if level == "municipality" else None,
                "county_code": unit[:2] if level == "municipality" else None,
                "is_pseudo": False,
                "indicator": "mobbing",
                "grade": "7",
                "subject": None,
                "breakdown": "",
                "measure": "percent",
                "value": value,
                "std_error": None,
                "n": n,
                "suppressed": False,
            }
            for level, unit, value, n in rows
        ],
        schema=HARMONISED_SCHEMA,
    )


def mobbing_7(rows: list[tuple[str, str, float, int]]) -> pl.DataFrame:
    values = indicator_values(harmonised(rows), CONFIG, "kommune", ("municipality",))
    return values.filter(pl.col("indicator_id") == "mobbing_7")


def test_a_share_of_0_from_12_pupils_has_the_error_of_the_national_share():
    values = mobbing_7(
        [
            ("national", "0000", 8.0, 60000),
            ("municipality", "1111", 0.0, 12),  # no pupil bullied: not a precise 0 %
            ("municipality", "2222", 30.0, 12),
        ]
    )
    errors = dict(zip(values["unit_code"], values["std_error"], strict=True))
    # Percentage points: √(p (100 − p) / n) at the national 8 %, for both kommuner alike.
    assert errors["1111"] == pytest.approx(math.sqrt(8 * 92 / 12))
    assert errors["2222"] == pytest.approx(math.sqrt(8 * 92 / 12))
    # At the observed share it would have been √(0.5 · 99.5 / 12) ≈ 2.0, a quarter of 7.8.
    assert errors["1111"] > 3 * math.sqrt(0.5 * 99.5 / 12)


def test_without_a_national_share_there_is_no_binomial_error():
    values = mobbing_7([("municipality", "1111", 0.0, 12)])
    assert values["std_error"].to_list() == [None]


@settings(deadline=None, max_examples=50)
@given(st.floats(min_value=1.0, max_value=99.0), st.integers(min_value=10, max_value=5000))
def test_the_funnels_pupil_sd_is_the_error_the_indicators_use(national, n):
    """The funnel plots' limits (``pupil_sd`` / √n) and the indicators' standard error agree."""
    values = mobbing_7([("national", "0000", national, 60000), ("municipality", "1111", 50.0, n)])
    sd = pupil_sd(MOBBING_7, national)
    assert sd is not None
    assert values["std_error"].item() == pytest.approx(sd / math.sqrt(n))
