"""The follow-up of the scheme: each estimator against values computed by hand, and against the truth
the sample generator knows (regression to the mean with no effect; the effect recovered)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pipelines.config import ConfigError, load_config, parse_config
from pipelines.followup.estimates import (
    BASELINE_SCHEMA,
    DID,
    NAIVE,
    POOLED,
    RD,
    TOO_LITTLE,
    MatchedCohort,
    cluster_robust_cr2,
    discontinuity,
    follow_up_estimates,
    matched_cohort,
    matched_interval,
    matched_links,
    panel,
    t_quantile,
    with_area_levels,
    with_levels,
)
from pipelines.followup.outcomes import area_scores
from pipelines.sample.scenario import Scenario
from tests.followup_sim import simulated_followup

CONFIG = load_config()


@pytest.mark.parametrize("df, exact", [(3, 2.3534), (9, 1.8331), (29, 1.6991), (200, 1.6525)])
def test_t_quantile_against_the_table(df, exact):
    assert t_quantile(0.95, df) == pytest.approx(exact, abs=0.003)


def test_area_scores_by_hand():
    values = pl.DataFrame(
        {
            "unit_code": ["0301"] * 4,
            "indicator_id": ["grunnskolepoeng", "fullfort_kommune", "mobbing_7", "skalapoeng_lesing_5"],
            "school_year": ["2024-25"] * 4,
            "n": [40, 40, 9, 40],
            "value": [47.5, 70.0, 10.0, 45.0],
            "national": [43.25, 80.0, 6.4, 50.0],
        }
    )
    scores = {(r["area"]): r for r in area_scores(values, CONFIG).iter_rows(named=True)}
    # fullført: (70 − 80) / √(80 × 20) = −0.25, alone in gjennomføring.
    assert scores["gjennomforing"]["score"] == pytest.approx(-0.25)
    assert scores["gjennomforing"]["indicators"] == 1
    # Learning results: national tests (45 − 50) / 10 = −0.5 and grunnskolepoeng (47.5 − 43.25) / 8.5 =
    # 0.5, mean 0; mobbing from 9 pupils is below the minimum and not counted.
    assert scores["laeringsresultater"]["score"] == pytest.approx(0.0)
    assert scores["laeringsresultater"]["indicators"] == 2
    assert "laeringsmiljo" not in scores


def _rows(**columns):
    base = {"first_school_year": "2020-21", "area": "gjennomforing"}
    n = len(next(iter(columns.values())))
    return pl.DataFrame({**{k: [v] * n for k, v in base.items()}, **columns})


def test_matched_difference_in_differences_by_hand():
    # Two kommuner in the scheme, three comparison kommuner; one match each, on the pre-level of every
    # area and size (the other area's pre-level decides B's match: its own area's would pick D). Three
    # comparison kommuner are too few for a regression: the matches are taken as they are.
    rows = _rows(
        municipality_code=["A", "B", "C", "D", "E"],
        treated=[True, True, False, False, False],
        comparison=[False, False, True, True, True],
        pre_gjennomforing=[-1.0, -0.5, -0.9, -0.45, -0.56],
        pre_laeringsmiljo=[-1.0, -0.5, -0.9, 0.5, -0.5],
        pupils=[50.0, 50.0, 50.0, 50.0, 50.0],
        change=[0.3, 0.2, 0.1, 0.15, -0.4],
    )
    matched = matched_cohort(rows, 1)
    assert matched is not None
    # A is matched to C (0.3 − 0.1 = 0.2), B to E (0.2 + 0.4 = 0.6).
    assert dict(zip(matched.treated, matched.effects, strict=True)) == pytest.approx({"A": 0.2, "B": 0.6})
    assert matched_links(rows, 1).select("municipality_code", "match_code").rows() == [("A", "C"), ("B", "E")]
    # No fit: each comparison kommune's residual is its change minus their mean (−0.05), scaled for its
    # leverage 1/3 (HC2).
    expected = (np.array([0.1, 0.15, -0.4]) + 0.05) / math.sqrt(2 / 3)
    assert matched.residuals == pytest.approx(expected)


def _linear_sample(seed: int, pool: int, effect: float) -> pl.DataFrame:
    """Ten kommuner in the scheme, weaker than all but a few of ``pool`` comparison kommuner, whose
    change is exactly −0.4 × their pre-level + 0.1 × log pupils (+ ``effect`` in the scheme)."""
    rng = np.random.default_rng(seed)
    pre = np.concatenate([rng.normal(-1.5, 0.3, 10), rng.normal(0, 1, pool)])
    pupils = np.exp(rng.normal(5, 1, 10 + pool))
    treated = np.arange(10 + pool) < 10
    return _rows(
        municipality_code=[f"{k:04d}" for k in range(10 + pool)],
        treated=treated.tolist(),
        comparison=(~treated).tolist(),
        pre_gjennomforing=pre.tolist(),
        pupils=pupils.tolist(),
        change=(-0.4 * pre + 0.1 * np.log(pupils) + effect * treated).tolist(),
    )


def test_the_correction_removes_the_distance_left_to_the_matches():
    # The kommuner in the scheme are the most extreme: their nearest matches are less weak, and a plain
    # mean of the matches' changes misses the 0.25. Corrected by the comparison kommuner' fit, exact.
    rows = _linear_sample(1, 60, 0.25)
    matched = matched_cohort(rows, 5)
    assert matched is not None
    assert matched.effects == pytest.approx(np.full(10, 0.25))
    assert matched.own_residuals == pytest.approx(np.full(10, 0.25))
    assert matched.residuals == pytest.approx(np.zeros(60), abs=1e-9)
    # Without the correction: the change of each kommune minus the mean change of its matches.
    links = matched_links(rows, 5)
    change = dict(rows.select("municipality_code", "change").iter_rows())
    plain = [change[t] - np.mean([change[m] for m in g["match_code"]])
             for (t,), g in links.group_by("municipality_code", maintain_order=True)]  # fmt: skip
    assert np.mean(plain) > 0.25 + 0.05


def test_with_too_few_comparison_kommuner_for_a_fit_the_matches_are_not_corrected():
    # Two coefficients and the intercept need 15 comparison kommuner; 14 give the plain matched mean.
    rows = _linear_sample(2, 14, 0.25)
    matched = matched_cohort(rows, 5)
    assert matched is not None
    assert matched.weights == pytest.approx(_chosen(matched_links(rows, 5), matched))


def _chosen(links: pl.DataFrame, matched: MatchedCohort) -> np.ndarray:
    weights = np.zeros((len(matched.treated), len(matched.comparison)))
    for code, match in links.select("municipality_code", "match_code").iter_rows():
        weights[matched.treated.index(code), matched.comparison.index(match)] += 1 / 5
    return weights


def test_the_corrected_comparison_has_each_kommunes_own_levels():
    # The correction's weights reproduce, for each kommune in the scheme, its own pre-level and size
    # exactly (and sum to one): the comparison it is measured against is alike on what the fit takes.
    rows = _linear_sample(3, 80, 0.0).with_columns(
        pl.Series("change", np.random.default_rng(4).normal(0, 1, 90))
    )
    matched = matched_cohort(rows, 5)
    assert matched is not None
    frame = rows.with_columns(pl.col("pupils").log().alias("log_pupils"))
    levels = {c: frame.filter(pl.col("municipality_code").is_in(codes)).sort("municipality_code")
              .select("pre_gjennomforing", "log_pupils").to_numpy()
              for c, codes in (("t", matched.treated), ("c", matched.comparison))}  # fmt: skip
    assert matched.weights.sum(axis=1) == pytest.approx(np.ones(10))
    assert matched.weights @ levels["c"] == pytest.approx(levels["t"])


def test_the_fit_takes_every_indicators_pre_mean():
    # The list was made indicator by indicator: here the change follows one indicator (mobbing) of an
    # area whose two indicators' mean is what the matching sees. The fit on the indicators recovers the
    # effect; on the area mean alone it cannot.
    rng = np.random.default_rng(5)
    count = 70
    mobbing, trivsel = rng.normal(0, 1, count), rng.normal(0, 1, count)
    mobbing[:10] -= 2.0
    treated = np.arange(count) < 10
    codes = [f"{k:04d}" for k in range(count)]
    rows = _rows(
        area=["laeringsmiljo"] * count,
        municipality_code=codes,
        treated=treated.tolist(),
        comparison=(~treated).tolist(),
        pre=((mobbing + trivsel) / 2).tolist(),
        pupils=[100.0] * count,
        change=(-0.5 * mobbing + 0.3 * treated).tolist(),
    )
    baseline = pl.DataFrame(
        {
            "first_school_year": "2020-21",
            "municipality_code": codes * 2,
            "area": "laeringsmiljo",
            "indicator_id": ["mobbing_7"] * count + ["trivsel_7"] * count,
            "pre": [*mobbing, *trivsel],
        }
    )
    with_indicators = matched_cohort(with_levels(rows, baseline), 5)
    area_only = matched_cohort(with_area_levels(rows), 5)
    assert with_indicators is not None and area_only is not None
    assert with_indicators.effects == pytest.approx(np.full(10, 0.3))
    assert abs(area_only.effects.mean() - 0.3) > 0.05


def _cohort(weights: list[list[float]], residuals: list[float], own: list[float]) -> MatchedCohort:
    return MatchedCohort(
        treated=["A", "B"],
        effects=np.array([0.2, 0.0]),
        own_residuals=np.array(own),
        comparison=["C", "D", "E", "F"],
        weights=np.array(weights),
        residuals=np.array(residuals),
        matched=4,
    )


def test_the_matched_interval_by_hand_and_wider_when_kommuner_share_their_matches():
    residual = [0.1, -0.1, 0.1, -0.1]
    shared = _cohort([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0]], residual, [0.3, -0.1])
    # Terms: A and B their share 1/2 times own residual about the mean 0.1: ±0.1; C −(1/4 + 1/4) × 0.1,
    # D +0.05; E and F unused.
    half = t_quantile(0.95, 1) * math.sqrt(6 / 5 * (2 * 0.1**2 + 2 * 0.05**2))
    assert matched_interval([shared], 0.90) == pytest.approx((0.1, 0.1 - half, 0.1 + half))
    # The same residuals spread over four matches weigh half as much each: a narrower interval.
    apart = _cohort([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]], residual, [0.3, -0.1])
    half_apart = t_quantile(0.95, 1) * math.sqrt(6 / 5 * (2 * 0.1**2 + 4 * 0.025**2))
    assert matched_interval([apart], 0.90) == pytest.approx((0.1, 0.1 - half_apart, 0.1 + half_apart))
    assert half_apart < half


def test_a_kommune_in_two_cohorts_counts_once_when_pooled():
    first = _cohort([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]], [0.1, -0.1, 0.1, -0.1], [0.3, -0.1])
    second = MatchedCohort(
        treated=["A"], effects=np.array([0.6]), own_residuals=np.array([0.0]), comparison=["C", "G"],
        weights=np.array([[0.5, 0.5]]), residuals=np.array([0.2, -0.2]), matched=2,
    )  # fmt: skip
    # A's effect is the mean over its cohorts, (0.2 + 0.6) / 2, beside B's 0: mean 0.2. Shares: A 1/4 in
    # each cohort, B 1/2. Own residuals about each cohort's share-weighted mean, (1/4 × 0.3 − 1/2 × 0.1)
    # / (3/4) = 1/30 in the first: A 1/4 × (0.3 − 1/30) + 1/4 × 0, B 1/2 × (−0.1 − 1/30). Comparison
    # kommuner: C −1/8 × 0.1 − 1/8 × 0.2, D +1/8 × 0.1, E −1/4 × 0.1, F +1/4 × 0.1, G +1/8 × 0.2.
    terms = [(0.3 - 1 / 30) / 4, -(0.1 + 1 / 30) / 2, -0.0375, 0.0125, -0.025, 0.025, 0.025]
    half = t_quantile(0.95, 1) * math.sqrt(7 / 6 * sum(t**2 for t in terms))
    assert matched_interval([first, second], 0.90) == pytest.approx((0.2, 0.2 - half, 0.2 + half))


def test_the_matched_interval_is_the_same_to_the_last_bit_every_time():
    # Sums taken in the order groups happen to come out of a group-by differ in their last bits.
    rng = np.random.default_rng(3)
    parts = [
        MatchedCohort(
            treated=[f"T{i:02d}" for i in rng.choice(60, 30, replace=False)],
            effects=rng.normal(0, 0.1, 30),
            own_residuals=rng.normal(0, 0.1, 30),
            comparison=[f"C{j:03d}" for j in range(150)],
            weights=rng.dirichlet(np.ones(150), 30),
            residuals=rng.normal(0, 0.1, 150),
            matched=150,
        )
        for _ in range(3)
    ]
    first = matched_interval(parts, 0.90)
    assert all(matched_interval(parts, 0.90) == first for _ in range(20))


def test_discontinuity_recovers_an_exact_jump():
    ranks = list(range(21, 41))
    x = np.array(ranks) - 30.5
    change = 0.5 + 1.0 * (x < 0) + 0.1 * x - 0.05 * x * (x < 0)
    rows = _rows(
        municipality_code=[f"{r:04d}" for r in ranks],
        rank=ranks,
        treated=[r <= 30 for r in ranks],
        comparison=[r > 30 for r in ranks],
        change=change.tolist(),
    )
    jump = discontinuity(rows, 30, 20)
    assert jump["jump"] == pytest.approx(1.0)
    assert jump["first_stage"] == pytest.approx(1.0)
    assert jump["se"] == pytest.approx(0.0, abs=1e-9)
    assert (jump["inside"], jump["outside"], jump["wrong_side"]) == (10, 10, 0)


def test_with_kommuner_on_the_wrong_side_the_discontinuity_is_the_ratio_of_the_two_jumps():
    # A remade list puts two kommuner in the scheme below the cut-off and one not in it above: the
    # effect is the jump in change over the jump in the share in the scheme, each from a weighted line
    # on either side (computed here with numpy's polyfit, apart from the code under test).
    rng = np.random.default_rng(5)
    ranks = np.arange(12, 50)
    x = ranks - 30.5
    treated = x < 0
    treated[[3, 25, 30]] = [False, True, True]
    change = 0.2 * treated + 0.01 * x + rng.normal(0, 0.05, x.size)
    rows = _rows(
        municipality_code=[f"{r:04d}" for r in ranks],
        rank=ranks.tolist(),
        treated=treated.tolist(),
        comparison=(~treated).tolist(),
        change=change.tolist(),
    )
    jump = discontinuity(rows, 30, 20)

    def at_cutoff(values: np.ndarray, side: np.ndarray) -> float:
        weight = 1 - np.abs(x[side]) / 20
        return float(np.polyfit(x[side], values[side], 1, w=np.sqrt(weight))[1])

    def step(values: np.ndarray) -> float:
        return at_cutoff(values, x < 0) - at_cutoff(values, x > 0)

    assert jump["first_stage"] == pytest.approx(step(treated.astype(float)))
    assert jump["jump"] == pytest.approx(step(change) / step(treated.astype(float)))
    assert (jump["inside"], jump["outside"], jump["wrong_side"]) == (19, 19, 3)
    assert jump["se"] > 0


def test_cr2_of_a_mean_is_the_textbook_standard_error_with_n_minus_one_degrees_of_freedom():
    # One kommune a cluster, a mean alone: H_gg = 1/n, so CR2 is s / √n, and Bell and McCaffrey's
    # degrees of freedom are n − 1 (CR1 would give the same error, the t interval the same n − 1).
    values = np.array([0.3, -0.1, 0.4, 0.0, 0.2])
    ones = np.ones((5, 1))
    se, df = cluster_robust_cr2(ones, ones, values - values.mean(), np.arange(5))
    assert se == pytest.approx(values.std(ddof=1) / math.sqrt(5))
    assert df == pytest.approx(4.0)


def test_cr2_of_a_difference_in_means_is_welchs():
    # Two groups, one kommune a cluster: H_gg = 1/n_j, so CR2 is Welch's s1²/n1 + s0²/n0, and the
    # degrees of freedom are (1/n1 + 1/n0)² / (1/(n1²(n1−1)) + 1/(n0²(n0−1))) (equal variances).
    first, second = np.array([1.0, 1.4, 0.7]), np.array([0.2, -0.3, 0.5, 0.1])
    group = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    design = np.column_stack([group, np.ones(7)])
    residuals = np.concatenate([first - first.mean(), second - second.mean()])
    se, df = cluster_robust_cr2(design, design, residuals, np.arange(7))
    assert se == pytest.approx(math.sqrt(first.var(ddof=1) / 3 + second.var(ddof=1) / 4))
    assert df == pytest.approx((1 / 3 + 1 / 4) ** 2 / (1 / (9 * 2) + 1 / (16 * 3)))


def test_the_discontinuitys_cr2_error_pooled_over_two_lists_by_hand():
    # Six kommuner on two lists (each kommune a cluster of two rows), every one on its own side: the
    # two-stage fit is weighted least squares. Computed here apart from the code under test: the
    # adjustment (I − H_gg)^(−1/2) of each kommune's residuals, and the degrees of freedom (Σλ)²/Σλ².
    codes = ["A", "B", "C", "D", "E", "F"]
    ranks = {"2017-18": [25, 28, 29, 32, 36, 40], "2020-21": [33, 22, 30, 27, 31, 45]}
    change = {"2017-18": [0.3, 0.1, 0.4, -0.1, 0.2, 0.0], "2020-21": [0.1, 0.5, 0.2, 0.3, -0.2, 0.1]}
    rows = pl.concat(
        _rows(
            first_school_year=[cohort] * 6,
            municipality_code=codes,
            rank=ranks[cohort],
            treated=[r <= 30 for r in ranks[cohort]],
            comparison=[r > 30 for r in ranks[cohort]],
            change=change[cohort],
        )
        for cohort in ranks
    )
    jump = discontinuity(rows, 30, 20)

    x = np.array(ranks["2017-18"] + ranks["2020-21"]) - 30.5
    d = (x < 0).astype(float)
    design = np.column_stack([d, x, d * x, np.repeat([1.0, 0.0], 6), np.repeat([0.0, 1.0], 6)])
    w = np.sqrt(1 - np.abs(x) / 20)
    weighted, y = design * w[:, None], np.array(change["2017-18"] + change["2020-21"]) * w
    beta = np.linalg.lstsq(weighted, y)[0]
    inverse = np.linalg.inv(weighted.T @ weighted)
    maker = np.eye(12) - weighted @ inverse @ weighted.T
    residuals = y - weighted @ beta
    contrast = weighted @ inverse[0]
    variance, columns = 0.0, []
    for k in range(6):
        cluster = [k, k + 6]
        values, vectors = np.linalg.eigh(maker[np.ix_(cluster, cluster)])
        adjusted = vectors @ np.diag(values**-0.5) @ vectors.T @ contrast[cluster]
        variance += float(adjusted @ residuals[cluster]) ** 2
        columns.append(maker[:, cluster] @ adjusted)
    eigenvalues = np.linalg.eigvalsh(np.column_stack(columns).T @ np.column_stack(columns))

    assert jump["jump"] == pytest.approx(beta[0])
    assert jump["se"] == pytest.approx(math.sqrt(variance))
    assert jump["df"] == pytest.approx(eigenvalues.sum() ** 2 / (eigenvalues**2).sum())
    assert jump["clusters"] == 6 and 1 < jump["df"] < 5


def test_a_list_that_no_longer_tells_who_was_selected_gives_no_discontinuity():
    ranks = list(range(21, 41))
    rows = _rows(
        municipality_code=[f"{r:04d}" for r in ranks],
        rank=ranks,
        treated=[r % 2 == 0 for r in ranks],
        comparison=[r % 2 == 1 for r in ranks],
        change=[0.1] * 20,
    )
    jump = discontinuity(rows, 30, 20)
    assert abs(jump["first_stage"]) < 0.5 and math.isnan(jump["jump"]) and jump["clusters"] == 0


def test_too_few_kommuner_give_no_number():
    rows = _rows(
        municipality_code=["A", "B", "C"],
        treated=[True, False, False],
        comparison=[False, True, True],
        rank=[30, 31, 32],
        risk_share=[0.5, 0.4, 0.3],
        pupils=[10.0, 10.0, 10.0],
        pre=[0.0, 0.0, 0.0],
        change=[0.1, 0.0, 0.0],
    )
    found = follow_up_estimates(rows, pl.DataFrame(schema=BASELINE_SCHEMA), CONFIG)
    assert set(found["status"]) == {TOO_LITTLE}
    assert found["estimate"].null_count() == found.height


def test_the_panel_splits_years_and_follows_later_cohorts_until_their_support_acts():
    years = [
        "2016-17",
        "2017-18",
        "2018-19",
        "2019-20",
        "2020-21",
        "2021-22",
        "2022-23",
        "2023-24",
        "2024-25",
    ]
    codes = ["A", "B", "C", "D", "E"]
    scores = pl.DataFrame(
        {
            "unit_code": [code for code in codes for _ in years],
            "school_year": years * len(codes),
            "area": "gjennomforing",
            "score": [float(i) for i in range(9)] * len(codes),
            "indicators": 1,
        },
        schema_overrides={"indicators": pl.UInt32},
    )
    lists = pl.DataFrame(
        {
            "first_school_year": "2020-21",
            "municipality_code": codes,
            "rank": [1, 2, 3, 4, 5],
            "risk_share": [0.9, 0.8, 0.7, 0.6, 0.5],
        }
    )
    # Z is in the 2020-21 cohort but the remade list does not rank it; Y's cohort (2017-18) has no list.
    # B and D were chosen later, E earlier (support 2018-19 to 2020-21).
    cohorts = pl.DataFrame(
        {
            "municipality_code": ["A", "B", "D", "E", "Z", "Y"],
            "first_school_year": ["2020-21", "2023-24", "2022-23", "2018-19", "2020-21", "2017-18"],
        }
    )
    scores = pl.concat(
        [scores, scores.filter(pl.col("unit_code") == "A").with_columns(unit_code=pl.lit("Z"))]
    )
    sizes = pl.DataFrame({"municipality_code": [*codes, "Z"], "pupils": 10.0})
    rows = {
        r["municipality_code"]: r for r in panel(scores, lists, cohorts, sizes, CONFIG).iter_rows(named=True)
    }
    # Pre: 2017-18 to 2019-20 (scores 1, 2, 3); post, from the gjennomføringsfase: 2021-22 to 2023-24.
    assert rows["A"]["pre_years"] == ["2017-18", "2018-19", "2019-20"]
    assert rows["A"]["post_years"] == ["2021-22", "2022-23", "2023-24"]
    assert (rows["A"]["pre"], rows["A"]["post"], rows["A"]["change"]) == (2.0, 6.0, 4.0)
    assert rows["A"]["treated"] and not rows["A"]["comparison"]
    # B and D were chosen on figures from A's post-years: left out, the comparison would keep only the
    # kommuner that improved. They are compared until their own support acts (its gjennomføringsfase):
    # B's from 2024-25, after A's post-years; D's from 2023-24, so D's post-years end in 2022-23 (5, 6).
    assert rows["B"]["comparison"] and not rows["B"]["treated"]
    assert (rows["B"]["post_years"], rows["B"]["change"]) == (rows["A"]["post_years"], 4.0)
    assert rows["D"]["comparison"] and rows["D"]["post_years"] == ["2021-22", "2022-23"]
    assert (rows["D"]["pre"], rows["D"]["post"], rows["D"]["change"]) == (2.0, 5.5, 3.5)
    # E's support, from an earlier list, reaches into A's pre-years: never a comparison for it.
    assert not rows["E"]["treated"] and not rows["E"]["comparison"]
    assert rows["C"]["comparison"] and rows["C"]["change"] == 4.0
    # Z is followed without a rank; Y, whose cohort has no list, has no row.
    assert rows["Z"]["treated"] and rows["Z"]["rank"] is None and rows["Z"]["change"] == 4.0
    assert len(rows) == 6


def test_a_trend_compares_with_a_kommune_a_later_cohort_chose_only_until_its_support_acts():
    from dataclasses import replace

    from pipelines.followup.cohorts import kommune_trends

    years = [f"{y}-{(y + 1) % 100:02d}" for y in range(2016, 2025)]
    base = {"A": 0.0, "B": 10.0, "C": 20.0, "D": 30.0}
    scores = pl.DataFrame(
        {
            "unit_code": [code for code in base for _ in years],
            "school_year": years * len(base),
            "area": "gjennomforing",
            "score": [base[code] + i for code in base for i in range(len(years))],
            "indicators": 1,
        },
        schema_overrides={"indicators": pl.UInt32},
    )
    lists = pl.DataFrame(
        {"first_school_year": "2020-21", "municipality_code": list(base), "rank": [1, 2, 3, 4],
         "risk_share": [0.9, 0.8, 0.7, 0.6]}
    )  # fmt: skip
    # A is in the 2020-21 cohort; D was chosen in 2022-23, so its own support acts from 2023-24.
    cohorts = pl.DataFrame({"municipality_code": ["A", "D"], "first_school_year": ["2020-21", "2022-23"]})
    sizes = pl.DataFrame({"municipality_code": list(base), "pupils": 10.0})
    config = replace(CONFIG, followup=replace(CONFIG.followup, matches=3))
    rows = panel(scores, lists, cohorts, sizes, config)
    trend = kommune_trends(scores, rows, config)
    # A's comparison line is the mean of B, C and D (20 + i) while the estimates follow D, then of B and
    # C alone (15 + i): the years D's change is taken from end in 2022-23, as the line's D does.
    assert rows.filter(pl.col("municipality_code") == "D")["post_years"].to_list() == [["2021-22", "2022-23"]]
    expected_score = [20.0 + i if i < 7 else 15.0 + i for i in range(len(years))]
    assert trend["school_year"].to_list() == years
    assert trend["comparison_score"].to_list() == pytest.approx(expected_score)
    assert trend["comparison_kommuner"].to_list() == [3] * 7 + [2] * 2
    assert trend["score"].to_list() == [float(i) for i in range(len(years))]
    assert all(kommune_trends(scores, rows, config).equals(trend) for _ in range(10))


@pytest.mark.parametrize(
    "bad",
    [{"confidence": 1.0}, {"bandwidth": 1}, {"matches": 0}, {"pre_years": "3"}, {"bandwith": 20}],
)
def test_a_bad_followup_section_is_refused(bad):
    import tomllib

    from pipelines.settings import PROJECT_ROOT

    data = tomllib.loads((PROJECT_ROOT / "utvalg.toml").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=r"\[followup\]"):
        parse_config({**data, "followup": bad}, "utvalg.toml")


SEEDS = (11, 12, 13, 14)


@pytest.fixture(scope="module")
def no_effect():
    return pl.concat([simulated_followup(s, Scenario(support_effect=0.0)) for s in SEEDS])


@pytest.fixture(scope="module")
def with_effect():
    return pl.concat([simulated_followup(s, Scenario(support_effect=2.0)) for s in SEEDS])


def _pooled(frame: pl.DataFrame, method: str, area: str) -> pl.DataFrame:
    return frame.filter(
        (pl.col("first_school_year") == POOLED) & (pl.col("method") == method) & (pl.col("area") == area)
    )


def test_with_no_effect_the_naive_estimate_still_shows_an_improvement(no_effect):
    # Regression to the mean: the kommuner chosen for weak results rise on average with no support.
    for area in ("laeringsmiljo", "gjennomforing"):
        naive = _pooled(no_effect, NAIVE, area)
        assert (naive["truth"] == 0).all()
        assert naive["estimate"].mean() > 0
    assert _pooled(no_effect, NAIVE, "laeringsmiljo")["estimate"].min() > 0


def _coverage(frame: pl.DataFrame, method: str) -> float:
    pooled = frame.filter((pl.col("first_school_year") == POOLED) & (pl.col("method") == method))
    assert pooled.height == 3 * len(SEEDS)  # one interval per area and seed
    return float(((pooled["lower"] <= pooled["truth"]) & (pooled["upper"] >= pooled["truth"])).mean())


def test_the_did_and_rd_intervals_cover_the_truth_as_often_as_measured(no_effect, with_effect):
    # Measured pooled over seeds 100–119 and 200–219 (README): 0.85–0.98 per area and scenario for did,
    # 0.85–0.95 for rd. Before the did's correction it covered 0.70–0.90, and before the matching took
    # every area's pre-level 0.58–0.67 (seeds 100–111).
    for method in (DID, RD):
        for frame in (no_effect, with_effect):
            assert _coverage(frame, method) >= 0.75, method


def test_with_an_effect_did_and_rd_see_it(with_effect):
    # The matched comparison sees the effect: its pooled interval lies above zero in læringsresultater,
    # where grunnskolepoeng carries the support in every year (the national tests start in 2022-23).
    assert (_pooled(with_effect, DID, "laeringsresultater")["lower"] > 0).all()
    assert (_pooled(with_effect, RD, "laeringsresultater")["estimate"] > 0).all()


def test_the_sample_cohorts_import_as_the_kommuner_it_supported(national_sample, registers):
    from pipelines.reference.mapping import load_changes, municipality_mapping
    from pipelines.reference.registers import NEWEST_STRUCTURE
    from pipelines.review.scheme_records import cohort_rows
    from pipelines.settings import REFERENCE_DIR

    mapping = municipality_mapping(registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE)
    data = (national_sample / "ordningen_kohorter.csv").read_bytes()
    imported = cohort_rows(data, "ordningen_kohorter.csv", mapping, set(registers.codes(NEWEST_STRUCTURE)))
    selected = pl.read_csv(
        national_sample / "truth_selection.csv", schema_overrides={"municipality_code": pl.String}
    )
    supported = selected.filter("selected").select("municipality_code", "first_school_year").sort(pl.all())
    assert imported.select("municipality_code", "first_school_year").sort(pl.all()).equals(supported)
    assert supported.height == 90
    # Each cohort is 30 kommuner ranked 1–30 among those not set aside, none in two cohorts.
    assert selected.filter("selected")["rank"].max() == 30
    assert supported["municipality_code"].n_unique() == 90


def test_a_run_remakes_each_cohort_list_as_the_generator_selected_it():
    from pipelines.followup.cohorts import cohort_lists
    from pipelines.sample.generate import simulate
    from pipelines.selection.scheme import support_periods
    from pipelines.settings import REFERENCE_DIR

    sample, _ = simulate(11, REFERENCE_DIR, Scenario())
    config = sample.config
    worse = {i.id: -1.0 if i.higher_is_better else 1.0 for i in config.indicators}
    values = sample.kommune_figures().with_columns(
        pl.when(pl.col("n") >= config.selection.minimum_pupils).then(pl.col("value")).alias("value"),
        pl.col("indicator_id").replace_strict(worse, return_dtype=pl.Float64).alias("worse_sign"),
        pl.col("unit_code").alias("municipality_code"),
    )
    truth = pl.concat(sample.selections)
    members = truth.filter("selected").select(
        "municipality_code", "first_school_year", pl.lit("").alias("origin")
    )
    found = cohort_lists(values, support_periods(members, config.scheme), config)
    columns = ["first_school_year", "municipality_code", pl.col("rank").cast(pl.UInt32)]
    assert found.select(columns).equals(truth.select(columns))
    made = found["first_school_year"].unique(maintain_order=True).to_list()
    assert made == ["2017-18", "2020-21", "2023-24"]


@pytest.fixture(scope="module")
def cohort_run(national_sample, registers, tmp_path_factory):
    """A run of the national sample with its past cohorts imported into a register of its own."""
    from pipelines.flow import materialise
    from pipelines.reference.mapping import load_changes
    from pipelines.reference.registers import NEWEST_STRUCTURE
    from pipelines.register.store import Register
    from pipelines.review.scheme_commands import import_scheme
    from pipelines.settings import REFERENCE_DIR
    from tests.conftest import SCHOOL_YEAR

    folder = tmp_path_factory.mktemp("cohort-run")
    register = Register(folder / "register.duckdb")
    import_scheme(
        national_sample / "ordningen_kohorter.csv", registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE,
        register, national_sample / "ordningen_lister.csv",
    )  # fmt: skip
    return materialise(
        folder / "warehouse.duckdb",
        raise_on_error=True,
        raw_dir=str(national_sample),
        school_year=SCHOOL_YEAR,
        reports_dir=str(folder / "reports"),
        register_path=str(register.path),
    )


def test_a_run_with_cohorts_estimates_every_cohort_and_area_and_shows_them(cohort_run):
    from pathlib import Path

    from pipelines.outputs.followup_page import AREA_NAMES, METHOD_NAMES
    from tests.test_dashboard import _data, _ids_in, _internal_ids, _visible

    estimates = cohort_run.table("followup_estimates")
    pairs = set(cohort_run.table("followup_panel").select("first_school_year", "area").iter_rows())
    assert {c for c, _ in pairs} == {"2017-18", "2020-21", "2023-24"}
    every = pairs | {(POOLED, area) for _, area in pairs}
    assert set(estimates.select("first_school_year", "area", "method").iter_rows()) == {
        (c, a, m) for c, a in every for m in (NAIVE, DID, RD)
    }
    # The national tests begin in 2022-23, but grunnskolepoeng (læringsresultater) gives the 2020-21
    # cohort pre-years there too.
    learning = estimates.filter(
        (pl.col("first_school_year") == "2020-21") & (pl.col("area") == "laeringsresultater")
    )
    assert TOO_LITTLE not in set(learning["status"])
    assert (learning["treated"] >= CONFIG.followup.minimum_units).all()
    # Every estimate with a number counts the kommuner it rests on, on both sides where it compares.
    numbers = estimates.filter(pl.col("estimate").is_not_null())
    assert numbers.height >= 24 and (numbers["treated"] >= CONFIG.followup.minimum_units).all()
    assert (numbers.filter(pl.col("method") != NAIVE)["comparison"] >= CONFIG.followup.minimum_units).all()
    assert estimates.filter(pl.col("first_school_year") != POOLED)["treated"].max() == 30
    # The lists the cohorts were chosen from are recorded: every kommune is on its own side of rank 30,
    # and the pooled discontinuities have a number.
    assert cohort_run.metadata("followup_panel")["recorded_lists"] == 3
    discontinuities = estimates.filter(pl.col("method") == RD)
    assert (discontinuities["wrong_side"] == 0).all()
    pooled = discontinuities.filter(
        pl.col("first_school_year") == POOLED, pl.col("area") != "laeringsresultater"
    )
    assert pooled["estimate"].null_count() == 0
    # Every kommune ranked 31 to 50 is compared, those a later cohort chose among them too: left out (as
    # they once were), 8 and 9 of the 20 were missing from the 2017-18 and 2020-21 lists' comparison side,
    # the ones that stayed weak, and the gjennomføring discontinuity was −0.13 with no effect.
    per_list = discontinuities.filter(
        pl.col("first_school_year") != POOLED, pl.col("area") != "laeringsresultater"
    )
    assert (per_list.filter(pl.col("area") == "laeringsmiljo")["comparison"] == 20).all()
    # Gjennomføring is fullført alone: a kommune without a figure in its pre- or post-years has no change.
    assert per_list.filter(pl.col("area") == "gjennomforing")["comparison"].is_between(18, 20).all()

    page_path = Path(cohort_run.metadata("candidate_files")["folder"]) / "dashboard" / "oppfolging.html"
    page = page_path.read_text(encoding="utf-8")
    visible = _visible(page)
    assert all(name in visible for name in METHOD_NAMES.values())
    assert all(f"Kohorten fra {c}" in visible for c, _ in pairs)
    trends = cohort_run.table("followup_trends")
    in_scheme = trends.filter(pl.col("first_school_year") == "2020-21").row(0, named=True)
    charts = {chart["title"]: chart for chart in _data(page_path)["charts"]}
    title = f"{in_scheme['municipality_name']}: {AREA_NAMES[in_scheme['area']]} (kohorten fra 2020-21)"
    assert any(v is not None for v in charts[title]["own"]) and None not in charts[title]["comparison"]
    assert len(charts) == trends.select("first_school_year", "municipality_code", "area").n_unique()
    assert _ids_in(visible, _internal_ids()) == set()


def test_the_page_shows_no_area_score_beside_a_hidden_input(cohort_run):
    """Read as a reader would: the Oppfølging page's charts (kommune by name) and published_figures.csv.
    A kommune's area score is a known combination of its figures that year (the planted-leak test in
    tests/test_privacy.py recovers hidden figures from such scores), so no score is shown for a kommune,
    area and year with a hidden figure among the area's indicators; the rest are shown."""
    from pathlib import Path

    from pipelines.outputs.followup_page import AREA_NAMES
    from pipelines.outputs.privacy import PUBLISHED_SCHEMA
    from tests.test_dashboard import _data

    root = Path(cohort_run.metadata("candidate_files")["folder"])
    figures = pl.read_csv(root / "published_figures.csv", schema=PUBLISHED_SCHEMA)
    names = pl.read_csv(root / "candidates.csv", schema_overrides={"municipality_code": pl.String})
    codes: dict[str, list[str]] = {}
    for code, name in names.select("municipality_code", "municipality_name").iter_rows():
        codes.setdefault(name, []).append(code)  # a name two kommuner share: both
    areas = {label: area for area, label in AREA_NAMES.items()}
    area_of = {i.id: i.area for i in CONFIG.indicators}
    hidden = {
        (code, area_of[indicator], year)
        for code, indicator, year in figures.filter((pl.col("level") == "municipality") & pl.col("hidden"))
        .select("unit_code", "indicator_id", "school_year")
        .iter_rows()
    }
    shown = withheld = 0
    for chart in _data(root / "dashboard" / "oppfolging.html")["charts"]:
        name, rest = chart["title"].split(": ", 1)
        area = areas[rest.split(" (kohorten")[0]]
        for year, own in zip(chart["years"], chart["own"], strict=True):
            beside_hidden = any((code, area, year) in hidden for code in codes[name])
            assert own is None or not beside_hidden, (name, area, year)
            shown += own is not None
            withheld += own is None and beside_hidden
    assert shown > 100
    print(f"\narea scores shown: {shown}, left out beside a hidden figure: {withheld}")
