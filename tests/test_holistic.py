"""The holistic method: the model's estimators recover known parameters, the posterior and the rank
statements by hand, invariants that must hold whatever the data, and calibration when the model holds
(the scenarios built to be unlike the model are in `utvalg evaluate`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import DEFAULT_CONFIG as PROJECT_CONFIG
from pipelines.config import ConfigError, load_config
from pipelines.indicators.values import INDICATOR_VALUES_SCHEMA
from pipelines.selection.holistic import (
    composite_weights,
    fit_posterior,
    holistic_scores,
    pair_concentration,
    same_pupils,
    school_concentration,
    school_persistent_covariance,
    scores_from,
    with_unmeasured_schools,
)
from pipelines.selection.model import (
    UNOBSERVED,
    Fit,
    NoiseModel,
    Panel,
    Prior,
    bootstrap_fits,
    fit,
    fit_noise,
    posterior,
    simulate,
    window_error,
)
from pipelines.selection.ranks import (
    JOINT_PROBABILITY,
    rank_distribution,
    rank_statements,
    ranks_of,
    shortest_lists,
)
from pipelines.vocabulary import BORDERLINE, CLEAR_CANDIDATE, CLEARLY_NOT
from tests.test_udir_rule import CONFIG


def kommune_values(seed: int, kommuner: int = 40) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    sizes = rng.lognormal(4, 1.2, kommuner).astype(int) + 3
    quality = rng.normal(0, 1, kommuner)
    for k in range(kommuner):
        for year in ("2023-24", "2024-25", "2025-26"):
            transient = rng.normal(0, 0.3)
            for indicator, national, sd, sign in (("a", 10.0, 4.0, 1.0), ("g", 42.0, 8.5, -1.0)):
                se = sd / np.sqrt(sizes[k])
                value = national + sign * (quality[k] + transient) * sd / 3 + rng.normal(0, se)
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


def known_model(indicators: int = 3) -> Fit:
    between = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.4], [0.3, 0.4, 1.0]])[:indicators, :indicators]
    transient = np.array([[0.2, 0.1, 0.0], [0.1, 0.3, 0.05], [0.0, 0.05, 0.25]])[:indicators, :indicators]
    school_year = np.diag([0.4, 0.2, 0.3][:indicators])
    correlation = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])[:indicators, :indicators]
    return Fit(
        NoiseModel(transient, school_year, correlation),
        Prior(np.array([0.1, -0.2, 0.0][:indicators]), between),
    )


def known_panel(units: int, rng: np.random.Generator, missing: float = 0.1) -> Panel:
    """A panel's shape: standard errors from pupil counts, school concentrations, some gaps."""
    pupils = rng.lognormal(3.5, 1.0, units) + 5
    sd = np.broadcast_to((2.0 / np.sqrt(pupils))[:, None, None], (units, 3, 3)).copy()
    observed = rng.random((units, 3, 3)) > missing
    z = np.where(observed, 0.0, np.nan)
    return Panel(z, sd, rng.uniform(0.05, 1.0, units))


def test_the_noise_estimator_recovers_known_parameters():
    rng = np.random.default_rng(1)
    truth = known_model()
    data = simulate(known_panel(6000, rng), truth, rng)
    estimate = fit_noise(data, full_covariance=True)
    assert np.diag(estimate.transient) == pytest.approx(np.diag(truth.noise.transient), abs=0.05)
    assert np.diag(estimate.school_year) == pytest.approx(np.diag(truth.noise.school_year), abs=0.08)
    assert estimate.transient[0, 1] == pytest.approx(0.1, abs=0.05)
    assert estimate.sampling_correlation[0, 1] == pytest.approx(0.5, abs=0.15)
    assert estimate.sampling_correlation[0, 2] == pytest.approx(0.0, abs=0.15)
    prior = fit(data).prior
    assert prior.covariance == pytest.approx(truth.prior.covariance, abs=0.08)
    assert prior.mean == pytest.approx(truth.prior.mean, abs=0.05)


def test_the_posterior_by_hand_for_one_indicator():
    # Prior N(0, 1); one kommune with mean 2 and error variance 1 → posterior N(1, 0.5).
    prior = Prior(np.array([0.0]), np.array([[1.0]]))
    mean, covariance = posterior(np.array([[2.0]]), np.array([[[1.0]]]), prior)
    assert mean[0, 0] == pytest.approx(1.0)
    assert covariance[0, 0, 0] == pytest.approx(0.5)


def test_a_kommune_with_its_own_prior_spread_is_shrunk_less():
    """Prior N(0, 1 + unit part): with unit parts 0 and 3, the same mean 2 and error 1 give posterior
    means 2·1/2 = 1 and 2·4/5 = 1.6, variances ½ and 4/5 (a one-school kommune can be far from the rest)."""
    prior = Prior(np.array([0.0]), np.array([[1.0]]), np.array([[[0.0]], [[3.0]]]))
    mean, covariance = posterior(np.array([[2.0], [2.0]]), np.array([[[1.0]], [[1.0]]]), prior)
    assert mean[:, 0] == pytest.approx([1.0, 1.6])
    assert covariance[:, 0, 0] == pytest.approx([0.5, 0.8])
    assert prior.between == pytest.approx(np.array([[2.5]]))


def test_a_suppressed_indicator_is_filled_from_the_others_with_a_wider_uncertainty():
    prior = Prior(np.zeros(2), np.array([[1.0, 0.8], [0.8, 1.0]]))
    means = np.array([[2.0, 2.0], [2.0, 0.0]])
    error = np.array([np.diag([0.1, 0.1]), np.diag([0.1, UNOBSERVED])])
    mean, covariance = posterior(means, error, prior)
    # Unobserved: the conditional of the bivariate normal given the first, E = 0.8 · 2 / 1.1 (to 1e-6).
    assert mean[1, 1] == pytest.approx(0.8 * 2 / 1.1, rel=1e-6)
    assert covariance[1, 1, 1] == pytest.approx(1 - 0.8**2 / 1.1, rel=1e-6)
    assert covariance[1, 1, 1] > 5 * covariance[0, 1, 1]


def test_the_composite_is_the_weighted_posterior_of_the_persistent_levels():
    """Each area's quality is the average of its indicators' persistent levels, nothing taken out and
    nothing added: per bootstrap replicate the composite is wᵀ(posterior mean − μ) with variance wᵀVw,
    and the published mean and variance are the mixture's over the replicates (equal draws each)."""
    fitted = fit_posterior(kommune_values(3, kommuner=60), CONFIG)
    assert fitted is not None
    result = scores_from(fitted, CONFIG, shrinkage=True)
    prior = fitted.fitted.prior
    weights = composite_weights(fitted.arrays.areas, prior.between, CONFIG.holistic.area_weights)
    centres = np.array([(mean - prior.mean) @ weights for mean, _ in fitted.replicates])
    spreads = np.array([np.einsum("k,jkl,l->j", weights, cov, weights) for _, cov in fitted.replicates])
    mean = centres.mean(axis=0)
    variance = (spreads + centres**2).mean(axis=0) - mean**2
    scores = result.scores.sort("unit_code")
    assert scores["unit_code"].to_list() == fitted.arrays.units
    assert scores["composite"].to_numpy() == pytest.approx(mean, abs=1e-12)
    assert scores["composite_var"].to_numpy() == pytest.approx(variance, rel=1e-9)


def test_composite_weights_by_hand():
    # Two indicators in one area with between-kommune variances 4 and 1 and correlation 0.5: each is put
    # on its SD (1/2, 1), averaged (1/4, 1/2), and the area scaled to unit SD.
    covariance = np.array([[4.0, 1.0], [1.0, 1.0]])
    weights = composite_weights(["laeringsmiljo", "laeringsmiljo"], covariance, {"laeringsmiljo": 1.0})
    within = np.array([0.25, 0.5])
    assert weights == pytest.approx(within / np.sqrt(within @ covariance @ within))
    assert weights @ covariance @ weights == pytest.approx(1.0)


def test_rank_statements_by_hand():
    # Three units, N = 1, four draws.
    draws = np.array([[3.0, 2.0, 1.0], [3.0, 1.0, 2.0], [1.0, 3.0, 2.0], [3.0, 2.0, 1.0]])
    assert ranks_of(draws).tolist() == [[1, 2, 3], [1, 3, 2], [3, 1, 2], [1, 2, 3]]
    result = rank_statements(draws, ["a", "b", "c"], top_n=1)
    assert result.p_top_n.tolist() == [0.75, 0.25, 0.0]
    assert result.expected_rank.tolist() == [1.5, 2.0, 2.5]
    assert result.point_rank.tolist() == [1, 2, 3]
    # 75 % is below the 90 % needed for the head; the tail "c" is never in the top in all four draws.
    assert result.sure_candidate.tolist() == [False, False, False]
    assert result.sure_not_candidate.tolist() == [False, False, True]


def test_the_list_is_ordered_for_choosing_not_by_expected_rank():
    # Four draws of four units. Ranks: a 1, 1, 4, 4; b 2, 2, 1, 2; c 3, 4, 2, 1; d 4, 3, 3, 3.
    draws = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 1.0, 2.0], [1.0, 4.0, 3.0, 2.0], [1.0, 3.0, 4.0, 2.0]])
    ranks = ranks_of(draws)
    assert ranks.T.tolist() == [[1, 1, 4, 4], [2, 2, 1, 2], [3, 4, 2, 1], [4, 3, 3, 3]]
    distribution = rank_distribution(ranks)
    assert distribution.tolist() == [
        [0.5, 0.5, 0.5, 1.0],
        [0.25, 1.0, 1.0, 1.0],
        [0.25, 0.5, 0.75, 1.0],
        [0.0, 0.0, 0.75, 1.0],
    ]
    # A list of one takes a (P = 0.5); of two, b (1.0) and a or c (0.5: a has the better expected
    # rank, 2.5 like c, and the lower code); of three, b, c and d (0.75: c's expected rank is better).
    assert shortest_lists(distribution, np.array([1, 0, 2, 3])).tolist() == [1, 2, 3, 3]
    result = rank_statements(draws, ["a", "b", "c", "d"], top_n=1)
    assert result.expected_rank.tolist() == [2.5, 1.75, 2.5, 3.25]
    # By expected rank b would lead; but a list of one is best made of a, so the list starts with a.
    assert result.point_rank.tolist() == [1, 2, 3, 4]
    assert result.p_top_n.tolist() == [0.5, 0.25, 0.25, 0.0]
    assert result.rank_low.tolist() == [1, 1, 1, 3] and result.rank_high.tolist() == [4, 2, 4, 4]
    assert result.widened == 0
    # For a list of two, b (P 1.0) and a (0.5, ahead of c on expected rank) are the most likely to be
    # among the two weakest; the first two follow that probability, though a list of one would take a.
    pair = rank_statements(draws, ["a", "b", "c", "d"], top_n=2)
    assert pair.p_top_n.tolist() == [0.5, 1.0, 0.5, 0.0]
    assert pair.point_rank.tolist() == [2, 1, 3, 4]
    assert pair.widened == 0
    # A point estimate given (the raw composite, draws without a prior) is listed by its value.
    plain = rank_statements(draws, ["a", "b", "c", "d"], top_n=1, estimate=np.array([0.1, 0.3, 0.2, 0.0]))
    assert plain.point_rank.tolist() == [3, 1, 2, 4]
    assert plain.rank_low.tolist() == [1, 1, 1, 3] and plain.rank_high.tolist() == [4, 2, 4, 4]


def test_the_raw_composite_is_listed_by_its_value():
    scores = holistic_scores(kommune_values(3), CONFIG, shrinkage=False).scores.sort("holistic_rank")
    assert (scores["raw_composite"].diff().drop_nulls() <= 0).all()
    assert scores["composite"].equals(scores["raw_composite"])


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=8))
def test_rank_statements_are_coherent(seed, top_n):
    rng = np.random.default_rng(seed)
    units = 25
    centre = rng.normal(0, 1, units)
    spread = rng.uniform(0.01, 2.0, units)
    draws = centre + spread * rng.standard_normal((1000, units))
    result = rank_statements(draws, [f"{i:02d}" for i in range(units)], top_n)
    assert result.p_top_n.sum() == pytest.approx(top_n)
    assert sorted(result.point_rank.tolist()) == list(range(1, units + 1))
    # The point rank lies inside its interval. The list's first N are the N most likely to be among the
    # N weakest, in the order of that probability; after them, the list follows the shortest list that
    # takes a unit.
    assert ((result.rank_low <= result.point_rank) & (result.point_rank <= result.rank_high)).all()
    order = np.argsort(result.point_rank)
    held = result.p_top_n[order[:top_n]].sum()
    assert held == pytest.approx(np.sort(result.p_top_n)[::-1][:top_n].sum())
    assert held >= result.p_top_n[np.argsort(result.expected_rank)[:top_n]].sum() - 1e-9
    ranks = ranks_of(draws)
    tiebreak = np.argsort(np.argsort(result.expected_rank, kind="stable"), kind="stable")
    shortest = shortest_lists(rank_distribution(ranks), tiebreak)[order]
    assert (np.diff(result.p_top_n[order[:top_n]]) <= 0).all() and (np.diff(shortest[top_n:]) >= 0).all()
    # The joint sets are the list's head and tail, never overlapping, and hold jointly in at least
    # JOINT_PROBABILITY of the draws.
    head = result.sure_candidate[order]
    tail = result.sure_not_candidate[order]
    assert not (result.sure_candidate & result.sure_not_candidate).any()
    assert (head == (np.arange(units) < head.sum())).all()
    assert (tail == (np.arange(units) >= units - tail.sum())).all()
    if head.any():
        assert (ranks[:, result.sure_candidate] <= top_n).all(axis=1).mean() >= JOINT_PROBABILITY
    if tail.any():
        assert (ranks[:, result.sure_not_candidate] > top_n).all(axis=1).mean() >= JOINT_PROBABILITY


def test_the_joint_set_is_calibrated_and_marginal_statements_hold_when_the_model_holds():
    """When the data come from the model, 90 % intervals hold the true rank about 90 % of the time and
    'klar kandidat' is right at least 90 % of the time (the ceiling of what the method can do)."""
    rng = np.random.default_rng(7)
    truth = known_model()
    covered, head_right, precision_hits, precision_total = [], [], 0, 0
    weights = composite_weights(["laeringsmiljo"] * 3, truth.prior.covariance, {"laeringsmiljo": 1.0})
    shape = known_panel(300, rng)
    for _ in range(4):
        level = rng.multivariate_normal(truth.prior.mean, truth.prior.covariance, size=300)
        noise = simulate(shape, Fit(truth.noise, Prior(np.zeros(3), np.zeros((3, 3)))), rng)
        data = Panel(noise.z + level[:, :, None], shape.sampling_sd, shape.concentration)
        fits = bootstrap_fits(data, fit(data), 20, rng)
        draws = []
        for replicate in fits:
            mean, covariance = posterior(
                data.window_mean, window_error(data, replicate.noise), replicate.prior
            )
            sd = np.sqrt(np.einsum("k,jkl,l->j", weights, covariance, weights))
            draws.append(mean @ weights + sd * rng.standard_normal((100, 300)))
        result = rank_statements(np.vstack(draws), [f"{i:03d}" for i in range(300)], 20)
        true_rank = np.empty(300, dtype=np.int64)
        true_rank[np.argsort(-(level @ weights))] = np.arange(1, 301)
        covered.append(((result.rank_low <= true_rank) & (true_rank <= result.rank_high)).mean())
        head_right.append(bool((true_rank[result.sure_candidate] <= 20).all()))
        clear = result.p_top_n >= 0.9
        precision_hits += int((true_rank[clear] <= 20).sum())
        precision_total += int(clear.sum())
    assert 0.86 <= np.mean(covered) <= 0.97
    assert precision_total > 0 and precision_hits / precision_total >= 0.9
    assert sum(head_right) >= 3


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_holistic_scores_are_coherent(seed):
    config = replace(CONFIG, holistic=replace(CONFIG.holistic, bootstraps=5))
    scores = holistic_scores(kommune_values(seed), config).scores
    top_n = config.holistic.top_n
    assert scores["p_top_n"].sum() == pytest.approx(top_n)
    assert scores["p_top_n"].is_between(0, 1).all()
    assert sorted(scores["holistic_rank"].to_list()) == list(range(1, scores.height + 1))
    assert (scores["rank_low"] <= scores["holistic_rank"]).all()
    assert (scores["holistic_rank"] <= scores["rank_high"]).all()
    for row in scores.iter_rows(named=True):
        expected = (
            CLEAR_CANDIDATE
            if row["p_top_n"] >= config.holistic.candidate_probability
            else CLEARLY_NOT
            if row["p_top_n"] < config.holistic.not_candidate_probability
            else BORDERLINE
        )
        assert row["tier"] == expected


def test_same_seed_same_result():
    first = holistic_scores(kommune_values(3), CONFIG)
    second = holistic_scores(kommune_values(3), CONFIG)
    assert first.scores.equals(second.scores)
    assert first.indicator_scores.equals(second.indicator_scores)


def test_a_weight_variant_scored_from_the_baselines_fit_is_the_method_run_afresh():
    """The sensitivity scores its weight and shrinkage variants from the baseline's fitted posterior:
    that must give exactly what running the method on the variant's configuration gives."""
    values = kommune_values(5)
    baseline = fit_posterior(values, CONFIG)
    weights = {**CONFIG.holistic.area_weights, "laeringsmiljo": 2.0}
    variant = replace(CONFIG, holistic=replace(CONFIG.holistic, area_weights=weights))
    reused, afresh = scores_from(baseline, variant, shrinkage=True), holistic_scores(values, variant)
    assert reused.scores.equals(afresh.scores)
    assert not reused.scores.equals(holistic_scores(values, CONFIG).scores)  # the weights do matter
    assert scores_from(baseline, CONFIG, shrinkage=False).scores.equals(
        holistic_scores(values, CONFIG, shrinkage=False).scores
    )


def test_small_kommuner_are_pulled_toward_the_mean_more_than_large_ones():
    values = kommune_values(7, kommuner=80)
    shrunk = holistic_scores(values, CONFIG, shrinkage=True).indicator_scores
    raw = holistic_scores(values, CONFIG, shrinkage=False).indicator_scores
    joined = (
        shrunk.join(
            raw.select("unit_code", "indicator_id", pl.col("score").alias("raw")),
            on=["unit_code", "indicator_id"],
        )
        .join(values.group_by("unit_code").agg(pl.col("n").first()), on="unit_code")
        .filter(pl.col("indicator_id") == "a")
    )
    centre = joined["score"].mean()
    factor = ((joined["score"] - centre) / (joined["raw"] - centre)).to_numpy()
    n = joined["n"].to_numpy()
    assert np.median(factor[n < np.quantile(n, 0.25)]) < np.median(factor[n > np.quantile(n, 0.75)])
    # A posterior is never less certain than the raw window mean.
    assert (shrunk["score_var"] <= raw["score_var"] + 1e-12).all()


def test_a_suppressed_figure_changes_the_uncertainty_not_the_estimand():
    values = kommune_values(5, kommuner=60)
    full = holistic_scores(values, CONFIG).scores
    gap = values.with_columns(
        pl.when((pl.col("unit_code") == "1003") & (pl.col("indicator_id") == "g"))
        .then(None)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    gapped = holistic_scores(gap, CONFIG).scores
    before = full.filter(pl.col("unit_code") == "1003").row(0, named=True)
    after = gapped.filter(pl.col("unit_code") == "1003").row(0, named=True)
    # The composite still covers both areas (the missing one filled from the other), with more doubt.
    assert after["composite_var"] > before["composite_var"]
    assert after["areas"] == "laeringsmiljo"
    assert gapped.height == full.height


def test_school_concentration_by_hand():
    kommuner = pl.DataFrame(
        {"unit_code": ["1", "2"], "indicator_id": ["a", "a"], "school_year": ["2025-26"] * 2, "n": [100, 30]}
    )
    schools = pl.DataFrame(
        {
            "municipality_code": ["1", "1", "2"],
            "indicator_id": ["a"] * 3,
            "school_year": ["2025-26"] * 3,
            "n": [60, 20, None],
        }
    )
    shares = dict(school_concentration(kommuner, schools).iter_rows())
    # Kommune 1: 0.6² + 0.2² + the 20 unpublished pupils as one school 0.2²; kommune 2: one school.
    assert shares["1"] == pytest.approx(0.36 + 0.04 + 0.04)
    assert shares["2"] == pytest.approx(1.0)


def _kommune_rows(values: dict[tuple[str, str, str], float], n: dict[tuple[str, str], int]) -> pl.DataFrame:
    """Kommune figures: values by (kommune, indicator, year), pupils by (kommune, indicator)."""
    return pl.DataFrame(
        [
            {
                "unit_code": unit,
                "indicator_id": indicator,
                "school_year": year,
                "value": value,
                "std_error": 0.1,
                "n": n.get((unit, indicator), 10),
                "national": 0.0,
                "worse_sign": 1.0,
            }
            for (unit, indicator, year), value in values.items()
        ]
    )


def _school_rows(rows: list[tuple[str, str, str, str, float | None, int | None]]) -> pl.DataFrame:
    """School figures: (school, kommune, indicator, year, value, pupils)."""
    return pl.DataFrame(
        [
            {
                "unit_code": school,
                "municipality_code": kommune,
                "indicator_id": indicator,
                "school_year": year,
                "value": value,
                "n": n,
                "national": 0.0,
                "worse_sign": 1.0,
            }
            for school, kommune, indicator, year, value, n in rows
        ],
        schema_overrides={"value": pl.Float64, "n": pl.Int64},
    )


def test_school_persistent_covariance_by_hand():
    """Two schools of one kommune over two years: the deviations from the kommune's mean are ±1 (year 1)
    and ±2 (year 2) scale points; a shift of the whole kommune in a year (its own bad year) and a
    one-school kommune with wild figures change nothing. Only products ACROSS years count: each school
    gives 1·2 twice (both orders) with factor 1 − ½ − ½ + 2/4 = ½, so S = 2·(2 + 2) / (2·2·½) = 4 scale
    points², over the kommune values' variance 2 (kommuner at 0 and 2) = 2 in score units."""
    years = ("2024-25", "2025-26")
    kommuner = _kommune_rows({(u, "a", t): v for t in years for u, v in (("1", 0.0), ("2", 2.0))}, {})
    schools = _school_rows(
        [
            ("A", "1", "a", "2024-25", 3.0, 20),
            ("B", "1", "a", "2024-25", 1.0, 20),
            ("A", "1", "a", "2025-26", 104.0, 20),  # the kommune's year: +100 for both
            ("B", "1", "a", "2025-26", 100.0, 20),
            ("C", "2", "a", "2024-25", -50.0, 20),  # alone in its kommune: tells nothing
            ("C", "2", "a", "2025-26", 70.0, 20),
            ("D", "1", "a", "2025-26", None, 20),  # suppressed
        ]
    )
    covariance = school_persistent_covariance(kommuner, schools, ["a", "b"])
    assert covariance == pytest.approx(np.array([[2.0, 0.0], [0.0, 0.0]]))


def test_school_persistent_covariance_recovers_known_effects_under_large_kommune_effects():
    """Simulated schools with known persistent covariance S, inside kommune effects and kommune-year
    effects far larger than S and a fresh school-year effect: S is recovered (in raw units)."""
    rng = np.random.default_rng(11)
    truth = np.array([[0.5, 0.3], [0.3, 0.8]])
    years = ("2023-24", "2024-25", "2025-26")
    kommune_values_: dict[tuple[str, str, str], float] = {}
    rows = []
    for j in range(800):
        unit = f"{j:04d}"
        schools = int(rng.integers(1, 6))
        level = rng.normal(0, 3, 2)
        effects = rng.multivariate_normal([0, 0], truth, size=schools)
        for year in years:
            shared = rng.normal(0, 2, 2)
            for k, indicator in enumerate(("a", "b")):
                values = level[k] + shared[k] + effects[:, k] + rng.normal(0, 1.0, schools)
                kommune_values_[(unit, indicator, year)] = float(values.mean())
                rows += [(f"{unit}-{i}", unit, indicator, year, float(v), 20) for i, v in enumerate(values)]
    kommuner = _kommune_rows(kommune_values_, {})
    estimate = school_persistent_covariance(kommuner, _school_rows(rows), ["a", "b"])
    spread = (
        kommuner.group_by("indicator_id", "school_year")
        .agg(pl.col("value").std())
        .sort("indicator_id", "school_year")
    )
    scale = np.array(
        [np.sqrt((spread.filter(pl.col("indicator_id") == k)["value"] ** -2).mean()) for k in "ab"]
    )
    assert estimate / np.outer(scale, scale) == pytest.approx(truth, abs=0.05)


def test_pair_concentration_by_hand():
    """Kommune 1, indicator a: schools of 60 and 20 of its 100 pupils, 20 pupils unpublished (one more
    school); indicator b: one school of all 50. H_aa = 0.6² + 0.2² + 0.2², H_bb = 1, H_ab = 0.6·1 (only
    school X has both; the unpublished pupils count as one more school in both, and b has none)."""
    kommuner = _kommune_rows(
        {("1", "a", "2025-26"): 0.0, ("1", "b", "2025-26"): 0.0}, {("1", "a"): 100, ("1", "b"): 50}
    )
    schools = _school_rows(
        [
            ("X", "1", "a", "2025-26", 1.0, 60),
            ("Y", "1", "a", "2025-26", 1.0, 20),
            ("Z", "1", "a", "2025-26", None, None),
            ("X", "1", "b", "2025-26", 1.0, 50),
        ]
    )
    concentration = pair_concentration(kommuner, schools, ["1", "2"], ["a", "b"])
    assert concentration[0] == pytest.approx(np.array([[0.44, 0.6], [0.6, 1.0]]))
    assert (concentration[1] == 0).all()  # a unit without figures


def test_kommune_only_makes_the_schools_persistent_effects_error_of_the_kommunes_level():
    """Under estimand = "kommune_only" the schools' persistent effects are error, H ∘ S: all of S for a
    one-school kommune, a quarter of it for a kommune of four equal schools. By default they are part of
    the kommune's quality: the same H ∘ S widens its prior instead, and the shared Σ is estimated net of
    their mean."""
    rng = np.random.default_rng(3)
    years = ("2023-24", "2024-25", "2025-26")
    kommune_figures: dict[tuple[str, str, str], float] = {}
    pupils: dict[tuple[str, str], int] = {}
    rows = []
    for j in range(60):
        unit = f"{1000 + j}"
        schools = 1 if j < 30 else 4
        effects = rng.normal(0, 1, schools)
        level = rng.normal(0, 1)
        for indicator in ("a", "g"):
            pupils[(unit, indicator)] = 20 * schools
            for year in years:
                values = level + effects + rng.normal(0, 0.5, schools)
                kommune_figures[(unit, indicator, year)] = float(values.mean())
                rows += [(f"{unit}-{i}", unit, indicator, year, float(v), 20) for i, v in enumerate(values)]
    values = _kommune_rows(kommune_figures, pupils).with_columns(
        pl.col("unit_code").alias("municipality_code"),
        pl.when(pl.col("indicator_id") == "a")
        .then(pl.lit("laeringsmiljo"))
        .otherwise(pl.lit("gjennomforing"))
        .alias("area"),
    )
    schools = _school_rows(rows)
    only = replace(CONFIG, holistic=replace(CONFIG.holistic, estimand="kommune_only"))
    fitted = fit_posterior(values, only, schools, bootstrap=False)
    assert fitted is not None and fitted.arrays.panel.persistent_error is not None
    covariance = school_persistent_covariance(values, schools, fitted.arrays.indicators)
    error = fitted.arrays.panel.persistent_error
    assert error[0] == pytest.approx(covariance)  # one school
    assert error[-1] == pytest.approx(covariance / 4)  # four schools of 20 pupils each
    default = fit_posterior(values, CONFIG, schools, bootstrap=False)
    assert default is not None and default.arrays.panel.persistent_error is None
    assert fitted.arrays.panel.persistent_prior is None
    unit_part = default.fitted.prior.unit_covariance
    assert unit_part is not None and unit_part[0] == pytest.approx(covariance)
    assert unit_part[-1] == pytest.approx(covariance / 4)
    # Either way the shared Σ is the kommuner's own part: the schools' part is taken out of the moments.
    assert default.fitted.prior.covariance == pytest.approx(fitted.fitted.prior.covariance, abs=1e-9)
    # The error of the persistent level is not in the year-to-year noise, only in the window means'.
    assert (
        window_error(fitted.arrays.panel, fitted.fitted.noise)
        - window_error(default.arrays.panel, fitted.fitted.noise)
    )[0] == pytest.approx(covariance)


def _school_panel(seed: int, kommuner: int, school_variance: float) -> tuple[Panel, np.ndarray]:
    """Two indicators of one area over three years: grunnskolepoeng (its schools publish) and fullført
    (they do not). Each kommune's persistent level is its own (variance 0.3) plus its schools' part,
    variance H_j × ``school_variance`` in fullført, H_j its pupils' concentration; fresh noise every year,
    larger where the concentration is (few schools, few pupils), so that a spread not net of the noise
    would grow with the concentration too."""
    rng = np.random.default_rng(seed)
    shares = rng.uniform(0.1, 1.0, kommuner)
    level = rng.normal(0, np.sqrt(0.3), (kommuner, 2)) + rng.normal(0, 1, (kommuner, 2)) * np.sqrt(
        shares[:, None] * np.array([0.2, school_variance])
    )
    noise = np.broadcast_to((0.2 + 0.6 * shares)[:, None, None], (kommuner, 2, 3))
    z = level[:, :, None] + rng.normal(0, 1, (kommuner, 2, 3)) * noise
    concentration = np.zeros((kommuner, 2, 2))
    concentration[:, 0, 0] = shares
    concentration[:, 1, 1] = 1.0  # what pair_concentration says of an indicator no school publishes
    return Panel(z, noise.copy(), shares), concentration


def test_an_indicator_no_school_publishes_gets_its_peers_shares_and_a_school_variance_from_between_kommuner():
    panel, concentration = _school_panel(1, 3000, 0.5)
    covariance = np.array([[0.2, 0.0], [0.0, 0.0]])
    found_h, found_s = with_unmeasured_schools(panel, {1: 0}, concentration, covariance)
    # Fullført's pupils are grunnskolepoeng's: its concentration is theirs.
    assert found_h[:, 1, 1] == pytest.approx(concentration[:, 0, 0])
    assert (found_h[:, 0, 1] == 0).all() and (found_h[:, 1, 0] == 0).all()
    # Its school variance, 0.5, from the spread between kommuner growing with the concentration.
    assert found_s[1, 1] == pytest.approx(0.5, abs=0.1)
    assert found_s[0, 0] == 0.2 and found_s[0, 1] == 0.0
    # The inputs are left as they were.
    assert covariance[1, 1] == 0.0 and (concentration[:, 1, 1] == 1.0).all()


def test_without_school_variance_none_is_found_and_an_indicator_without_a_peer_is_left_alone():
    panel, concentration = _school_panel(2, 3000, 0.0)
    covariance = np.array([[0.2, 0.0], [0.0, 0.0]])
    _, found_s = with_unmeasured_schools(panel, {1: 0}, concentration, covariance)
    assert found_s[1, 1] == pytest.approx(0.0, abs=0.05)
    found_h, found_s = with_unmeasured_schools(panel, {}, concentration, covariance)
    assert (found_h == concentration).all() and (found_s == covariance).all()


def test_fullfort_takes_the_schools_of_the_pupils_grunnskolepoeng_measures_and_nothing_else():
    """The configuration says which published indicator an unpublished one is measured on the same pupils
    as; same_pupils finds it only where the schools publish that one and do not publish the other."""
    config = load_config(PROJECT_CONFIG)
    indicators = ["fullfort_kommune", "grunnskolepoeng", "mestring1_lesing_5"]
    published = pl.DataFrame(
        {"indicator_id": ["grunnskolepoeng", "mestring1_lesing_5"], "value": [40.0, 20.0]}
    )
    assert same_pupils(config, indicators, published) == {0: 1}
    assert (
        same_pupils(config, indicators, published.filter(pl.col("indicator_id") != "grunnskolepoeng")) == {}
    )
    assert same_pupils(config, indicators[:1] + indicators[2:], published) == {}


@pytest.mark.parametrize(
    ("peer", "problem"),
    [
        ("grunnskolepoeng_x", "'grunnskolepoeng_x'"),
        ("fullfort_fylke", "'fullfort_fylke'"),
        ("fullfort_kommune", ""),
    ],
)
def test_same_pupils_as_must_name_another_indicator_of_the_same_owner(tmp_path, peer, problem):
    text = PROJECT_CONFIG.read_text(encoding="utf-8").replace(
        'same_pupils_as = "grunnskolepoeng"', f'same_pupils_as = "{peer}"'
    )
    broken = tmp_path / "broken.toml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(
        ConfigError, match=rf"broken.toml \[\[indicator\]\] 'fullfort_kommune': same_pupils_as .*{problem}"
    ):
        load_config(broken)


def test_the_run_lists_its_first_n_from_the_surest_down_and_each_rank_inside_its_interval(
    national_run, national_config
):
    scores = national_run.table("rank_uncertainty").sort("holistic_rank")
    top_n = national_config.holistic.top_n
    head, rest = scores.head(top_n), scores.slice(top_n)
    # The first N are the N most likely to be among the N weakest, by that probability: no kommune
    # after them is likelier, and no weaker tier comes before a stronger one among them.
    assert (head["p_top_n"].diff().drop_nulls() <= 0).all()
    assert head["p_top_n"].min() >= rest["p_top_n"].max()
    assert (
        (scores["rank_low"] <= scores["holistic_rank"]) & (scores["holistic_rank"] <= scores["rank_high"])
    ).all()
