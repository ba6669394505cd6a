"""The methods scored against known truth: the metrics on frames computed by hand, the oracle against
its closed form, the report and its goals, the committed validation and where it is shown, and the
command's bad input."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.cli import main
from pipelines.evaluation import Scenario as EvaluationScenario
from pipelines.evaluation import policy_config
from pipelines.outputs.dashboard import validation_section
from pipelines.outputs.method_text import method_sections
from pipelines.sample.scenario import load_scenario
from pipelines.selection.evaluate import (
    _nonnegative_line,
    brier,
    draw_ranks,
    evaluate,
    oracle_fit,
    oracle_posterior,
    oracle_predictions,
    precision_at_thresholds,
    predictions,
    rank_coverage,
    recall,
    reliability,
    scored_against_truth,
    set_statements,
    small_share_of_false_positives,
    tier_rates,
    truth_ranks,
)
from pipelines.selection.validation import (
    PER_SEED_SCHEMA,
    README_END,
    README_START,
    THRESHOLD_SCHEMA,
    ValidationResult,
    clear_candidate_precision,
    configuration_fingerprint,
    goals,
    load_validation,
    paired_difference,
    readme_block,
    report_markdown,
    summary,
    threshold_for_goal,
    with_readme_block,
)
from pipelines.settings import PROJECT_ROOT, TUNING_DIR, VALIDATION_DIR
from pipelines.vocabulary import BORDERLINE, CLEAR_CANDIDATE, CLEARLY_NOT

TOP_N = 2


def _truth() -> pl.DataFrame:
    # true_risk 6 … 1: the true ranks are 1 … 6, and 0001 and 0002 are the truly weakest two.
    return truth_ranks(
        pl.DataFrame({"municipality_code": ["1", "2", "3", "4", "5", "6"], "true_risk": [6, 5, 4, 3, 2, 1]}),
        TOP_N,
    )


def _scored(**extra: list[object]) -> pl.DataFrame:
    method = pl.DataFrame(
        {
            "unit_code": ["0001", "0002", "0003", "0004", "0005"],  # 0006 is not assessed
            "rank": [3, 1, 2, 4, 5],
            "p": [0.5, 0.9, 0.8, 0.1, 0.0],
            "rank_low": [1, 1, 3, 5, 4],
            "rank_high": [3, 2, 4, 6, 6],
            "tier": [BORDERLINE, CLEAR_CANDIDATE, CLEAR_CANDIDATE, CLEARLY_NOT, CLEARLY_NOT],
            **extra,
        }
    )
    return scored_against_truth(predictions(method, TOP_N), _truth())


def test_truth_ranks_pad_codes_and_rank_the_weakest_first():
    truth = _truth()
    assert truth["unit_code"].to_list() == ["0001", "0002", "0003", "0004", "0005", "0006"]
    assert truth["true_rank"].to_list() == [1, 2, 3, 4, 5, 6]
    assert truth["truly_weak"].to_list() == [True, True, False, False, False, False]


def test_recall_counts_the_truly_weakest_ranked_among_the_n_weakest():
    # 0002 (rank 1) is found, 0001 (rank 3) is not.
    assert recall(_scored(), TOP_N) == 0.5


def test_brier_by_hand_with_an_unassessed_kommune_at_zero():
    # (0.5−1)² + (0.9−1)² + 0.8² + 0.1² + 0² + 0² (0006 has no prediction: p = 0), over 6 kommuner.
    assert brier(_scored()) == pytest.approx((0.25 + 0.01 + 0.64 + 0.01) / 6)


def test_a_method_without_probabilities_predicts_one_for_its_n_weakest():
    scored = scored_against_truth(
        predictions(pl.DataFrame({"unit_code": ["0001", "0003", "0002"], "rank": [1, 2, 3]}), TOP_N), _truth()
    )
    assert dict(scored.select("unit_code", "p").iter_rows()) == {
        "0001": 1.0,
        "0002": 0.0,
        "0003": 1.0,
        "0004": 0.0,
        "0005": 0.0,
        "0006": 0.0,
    }
    assert brier(scored) == pytest.approx(2 / 6)  # 0002 missed, 0003 a false positive
    assert rank_coverage(scored) == (None, None)
    assert set_statements(scored) == (None, None)


def test_coverage_includes_both_bounds_and_counts_the_truly_weakest_apart():
    # True ranks 1–5 against [1,3], [1,2] (on the upper bound), [3,4] (on the lower bound), [5,6]
    # (rank 4 just below it) and [4,6].
    all_kommuner, weakest = rank_coverage(_scored())
    assert all_kommuner == pytest.approx(4 / 5)
    assert weakest == 1.0


def test_coverage_takes_the_true_rank_among_the_kommuner_the_method_ranks():
    """A kommune without figures that is truly the weakest has no place on the method's list: it moves
    no one's true rank there (counted, 0002's true rank 3 would miss [1, 2] and 0003's 4 [3, 4]), but
    it is among the truly weakest two, which leaves 0001 the only one of them with an interval."""
    truth = truth_ranks(
        pl.DataFrame(
            {"municipality_code": ["1", "2", "3", "4", "5", "6", "7"], "true_risk": [6, 5, 4, 3, 2, 1, 9]}
        ),
        TOP_N,
    )
    scored = scored_against_truth(predictions(_scored().drop(*truth.columns[1:]), TOP_N), truth)
    assert scored.filter(pl.col("unit_code") == "0002")["true_rank"].item() == 3
    assert rank_coverage(scored) == (pytest.approx(4 / 5), 1.0)


def test_coverage_fails_one_rank_outside_either_bound():
    scored = _scored().with_columns(
        pl.when(pl.col("unit_code") == "0002").then(3).otherwise(pl.col("rank_low")).alias("rank_low"),
        pl.when(pl.col("unit_code") == "0003").then(2).otherwise(pl.col("rank_high")).alias("rank_high"),
    )
    # 0002's true rank 2 is now below [3, 2]… and 0003's 3 above [3, 2]: both out.
    assert rank_coverage(scored) == (pytest.approx(2 / 5), 0.5)


def test_tier_rates_are_the_share_truly_among_the_weakest():
    assert tier_rates(_scored()) == {CLEAR_CANDIDATE: (2, 0.5), BORDERLINE: (1, 1.0), CLEARLY_NOT: (2, 0.0)}


def test_small_share_of_false_positives():
    # The one false positive is 0003 (rank 2, true rank 3).
    assert small_share_of_false_positives(_scored(), {"0003", "0006"}, TOP_N) == 1.0
    assert small_share_of_false_positives(_scored(), {"0001", "0004"}, TOP_N) == 0.0


def test_reliability_bins_by_hand():
    table = reliability(_scored())
    assert table.to_dicts() == [
        {"bin": 0, "predicted": 0.0, "observed": 0.0, "kommuner": 2},
        {"bin": 1, "predicted": 0.1, "observed": 0.0, "kommuner": 1},
        {"bin": 5, "predicted": 0.5, "observed": 1.0, "kommuner": 1},
        {"bin": 8, "predicted": 0.8, "observed": 0.0, "kommuner": 1},
        {"bin": 9, "predicted": 0.9, "observed": 1.0, "kommuner": 1},
    ]
    # A probability of exactly 1 falls in the last bin, not an eleventh.
    certain = _scored().with_columns(pl.lit(1.0).alias("p"))
    assert reliability(certain)["bin"].to_list() == [9]


def test_precision_at_thresholds_by_hand_with_the_threshold_itself_included():
    # P: 0001 0.5 (truly weak), 0002 0.9 (truly weak), 0003 0.8, 0004 0.1, 0005 0.0, 0006 none.
    table = precision_at_thresholds(_scored(), (0.5, 0.8, 0.9, 0.95))
    assert table.rows() == [(0.5, 3, 2), (0.8, 2, 1), (0.9, 1, 1), (0.95, 0, 0)]


def test_set_statements_hold_or_fail():
    sure = [False, True, False, False, False]
    sure_not = [False, False, False, True, True]
    assert set_statements(_scored(sure_candidate=sure, sure_not_candidate=sure_not)) == (True, True)
    # 0003 is flagged sure but truly rank 3; 0001 is flagged surely not but truly rank 1.
    wrong = _scored(
        sure_candidate=[False, True, True, False, False], sure_not_candidate=[True, *sure_not[1:]]
    )
    assert set_statements(wrong) == (False, False)


# --- the oracle ---------------------------------------------------------------------------------

# x = 0.5 + 2c + e with e orthogonal to 1 and c, and e² = 0.5 + 0.25·v exactly: the fit is exact.
C = np.array([-1.0, -1.0, 1.0, 1.0])
V = np.array([1.0, 1.0, 3.0, 3.0])
E = np.array([math.sqrt(0.75), -math.sqrt(0.75), math.sqrt(1.25), -math.sqrt(1.25)])
X = 0.5 + 2 * C + E


def test_oracle_fit_recovers_the_hyperparameters():
    fit = oracle_fit(X, V, C)
    assert (fit.intercept, fit.slope, fit.alpha, fit.beta) == pytest.approx((0.5, 2.0, 0.5, 0.25))
    assert (fit.prior_mean, fit.prior_var) == pytest.approx((0.0, 1.0))


def test_oracle_posterior_is_the_closed_form_normal_posterior():
    mean, var = oracle_posterior(oracle_fit(X, V, C), X, V)
    # Prior N(0, 1), x | c ~ N(0.5 + 2c, s²): precision 1 + 4/s², mean 2(x − 0.5)/s² / precision.
    for j, s2 in enumerate([0.75, 0.75, 1.25, 1.25]):
        precision = 1 + 4 / s2
        assert var[j] == pytest.approx(1 / precision)
        assert mean[j] == pytest.approx(2 * (X[j] - 0.5) / s2 / precision)


def test_error_variance_line_stays_nonnegative():
    # Unconstrained: alpha = −1, beta = 1. On the boundary, through the origin (SSE 2/3) beats the
    # constant (SSE 5): beta = Σvy/Σv² = 20/30.
    alpha, beta = _nonnegative_line(np.array([1.0, 2, 3, 4]), np.array([0.0, 1, 2, 3]))
    assert (alpha, beta) == pytest.approx((0.0, 2 / 3))


def test_draws_give_the_normal_probability_of_being_weakest():
    p, low, high = draw_ranks(np.array([1.0, 0.0]), np.array([1.0, 1.0]), 40_000, 7, 1)
    # P(c₁ > c₂) = Φ(1/√2) ≈ 0.7602; the standard error of 40 000 draws is about 0.002.
    assert p[0] == pytest.approx(0.7602, abs=0.01)
    assert p[0] + p[1] == pytest.approx(1.0)
    assert (low.tolist(), high.tolist()) == ([1, 1], [2, 2])


def test_oracle_ranks_a_nearly_noiseless_composite_as_the_truth(national_config):
    codes = [f"{i:04d}" for i in range(1, 41)]
    true_risk = np.linspace(-2, 2, 40)
    noise = np.where(np.arange(40) % 2 == 0, 1e-3, -1e-3)
    raw = pl.DataFrame({"unit_code": codes, "composite": 1 + 2 * true_risk + noise, "composite_var": 0.01})
    truth = truth_ranks(pl.DataFrame({"municipality_code": codes, "true_risk": true_risk}), 5)
    oracle = oracle_predictions(raw, truth, national_config, 5)
    scored = scored_against_truth(oracle, truth)
    assert (scored["rank"] == scored["true_rank"]).all()
    assert recall(scored, 5) == 1.0
    assert scored.filter(pl.col("truly_weak"))["tier"].to_list() == [CLEAR_CANDIDATE] * 5
    assert rank_coverage(scored) == (1.0, 1.0)


# --- one run, and the report ------------------------------------------------------------------------


def test_evaluation_of_the_national_run(national_sample, national_run, national_config):
    truth = pl.read_csv(national_sample / "truth.csv", schema_overrides={"municipality_code": pl.String})
    evaluation = evaluate(
        national_run.table("indicator_values"),
        national_run.table("school_indicator_values"),
        national_run.table("udir_risk_points"),
        national_run.table("rank_uncertainty"),
        national_config,
        truth,
    )
    metrics = {row["method"]: row for row in evaluation.metrics.iter_rows(named=True)}
    assert list(metrics) == ["holistic", "raw", "udir", "oracle"]
    holistic, raw, udir, oracle = metrics.values()
    assert holistic["selected"] == raw["selected"] == udir["selected"] == oracle["selected"] == 30
    # One sample: recall can tie (it does on seed 2026, 17 of 30 each); the comparison of means over
    # scenarios and seeds is the validation report's (docs/validation.md).
    assert holistic["recall"] >= udir["recall"] and holistic["brier"] < udir["brier"]
    assert holistic["brier"] < raw["brier"] < 1
    assert holistic["sure_candidates_all_weak"] is not None
    assert oracle["brier"] < raw["brier"] and oracle["coverage_all"] > 0.5
    # Only the methods with intervals and tiers have coverage and tier figures.
    assert raw["coverage_all"] is None and udir["clear_candidate_rate"] is None
    # Every kommune of the truth is in each method's reliability table once.
    per_method = evaluation.reliability.group_by("method").agg(pl.col("kommuner").sum())
    assert set(per_method["kommuner"].to_list()) == {truth.height}


def _result(
    recalls: dict[str, list[float]], coverage: list[float], precision: list[float | None]
) -> ValidationResult:
    rows = []
    for method, values in recalls.items():
        for seed, value in enumerate(values, start=1):
            rows.append(
                {
                    "scenario": "standard",
                    "seed": seed,
                    "method": method,
                    "recall": value,
                    "brier": 0.1 - value / 10,
                    "coverage_all": coverage[seed - 1] if method == "holistic" else None,
                    "coverage_weakest": coverage[seed - 1] if method == "holistic" else None,
                    "clear_candidate_rate": precision[seed - 1] if method == "holistic" else None,
                }
            )
    metrics = pl.DataFrame(rows).select(
        pl.col(c).cast(t) if c in rows[0] else pl.lit(None, t).alias(c) for c, t in PER_SEED_SCHEMA.items()
    )
    reliability_rows = pl.DataFrame(
        {"scenario": ["standard"], "seed": [1], "method": ["holistic"], "bin": [9]}
        | {"predicted": [0.95], "observed": [0.9], "kommuner": [10]}
    )
    thresholds = pl.DataFrame(
        {"scenario": ["standard"] * 4, "seed": [1, 2, 1, 2], "method": ["holistic"] * 4}
        | {"threshold": [0.95, 0.95, 0.99, 0.99], "kommuner": [10, 10, 4, 0], "truly_weak": [9, 10, 4, 0]}
    )
    provenance = {
        "code_version": "abc",
        "configuration": {
            "configuration_sha256": "f" * 64,
            "school_year": "2025-26",
            "top_n": 30,
            "candidate_probability": 0.95,
        },
        "inputs": [],
    }
    return ValidationResult(metrics, reliability_rows, thresholds, provenance)


def test_goals_are_judged_on_the_means_including_the_boundaries():
    recalls = {"holistic": [0.6, 0.7], "raw": [0.5, 0.6], "udir": [0.6, 0.5], "oracle": [0.66, 0.69]}
    result = _result(recalls, coverage=[0.86, 0.88], precision=[0.9, 0.9])
    verdicts = [(g.label, g.met) for g in goals(result.metrics, "standard", 30)]
    assert [met for _, met in verdicts] == [True, True, True, True, True, True]
    # Mean coverage 0.935 leaves the band; a recall 0.035 below the oracle misses it.
    recalls["oracle"] = [0.68, 0.69]
    result = _result(recalls, coverage=[0.93, 0.94], precision=[0.9, 0.89])
    met = [g.met for g in goals(result.metrics, "standard", 30)]
    assert met == [False, False, False, True, True, False]


def test_a_goal_shows_the_paired_difference_over_seeds_and_its_standard_error():
    recalls = {
        "holistic": [0.6, 0.7, 0.8],
        "raw": [0.5, 0.7, 0.6],
        "udir": [0.6, 0.5, 0.6],
        "oracle": [0.6] * 3,
    }
    result = _result(recalls, coverage=[0.9] * 3, precision=[1.0] * 3)
    # Seed by seed 0.1, 0.0, 0.2: mean 0.1, SD 0.1, standard error 0.1 / √3.
    assert paired_difference(result.metrics, "standard", "recall", "holistic", "raw") == pytest.approx(
        (0.1, 0.1 / math.sqrt(3))
    )
    recall_goal = next(g for g in goals(result.metrics, "standard", 30) if g.label.startswith("recall above"))
    assert recall_goal.measured({"holistic": "h", "raw": "r", "udir": "u", "oracle": "o"}).endswith(
        "; difference +0.100 ± 0.058 (r), +0.133 ± 0.067 (u)"
    )
    assert "forskjell +0,100 ± 0,058 (r)" in recall_goal.measured(
        {"holistic": "h", "raw": "r", "udir": "u", "oracle": "o"}, bokmal=True
    )


def test_clear_candidate_precision_is_pooled_over_seeds():
    # One seed with one kommune in the tier (right), one with four (two right): 3 of 5, not the mean
    # of 1.0 and 0.5; a seed with none in the tier does not count.
    result = _result({m: [0.6, 0.6, 0.6] for m in ("holistic", "raw", "udir", "oracle")},
                     coverage=[0.9] * 3, precision=[1.0, 0.5, None])  # fmt: skip
    metrics = result.metrics.with_columns(
        pl.when(pl.col("method") == "holistic")
        .then(pl.Series([1, 4, 0] * 4).cast(pl.Int64))
        .alias("clear_candidate_count")
    )
    found = summary(metrics).filter(
        (pl.col("method") == "holistic") & (pl.col("metric") == "clear_candidate_rate")
    )
    assert found["mean"].to_list() == pytest.approx([0.6])
    assert (found["min"][0], found["max"][0]) == (0.5, 1.0)


def test_report_shows_mean_and_range_and_calls_few_seeds_preliminary():
    recalls = {"holistic": [0.6, 0.7], "raw": [0.5, 0.6], "udir": [0.6, 0.5], "oracle": [0.7, 0.7]}
    text = report_markdown(_result(recalls, coverage=[0.8, 0.9], precision=[1.0, 0.8]))
    assert "| recall of the truly weakest 30 | 0.650 (0.600–0.700) | 0.550 (0.500–0.600) |" in text
    assert "| 0.700 |" in text  # the oracle's recall has no range: the same in both seeds
    assert "**Preliminary**: 2 seed(s)" in text
    assert "| 90–100 % | 0.950 / 0.900 (10) | – |" in text
    # Precision at each threshold, pooled over seeds; the configured klar kandidat threshold in bold.
    assert "| **0.95** | 0.950 (19 of 20) | – (0) |" in text
    assert "at least 0.92. On these seeds: 0.95; the configuration measured uses 0.95." in text
    assert "| 0.99 | 1.000 (4 of 4) | – (0) |" in text


def _sweep(rows: list[tuple[str, float, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(scenario, 1, "holistic", t, total, hits) for scenario, t, total, hits in rows],
        schema=THRESHOLD_SCHEMA,
        orient="row",
    )


def test_the_threshold_rule_takes_the_smallest_that_clears_the_goal_in_every_scenario():
    # At 0.95 scenario a is right 9 of 10 (0.90: the goal, not the goal plus the margin); at 0.97, 8 of 8;
    # b has none at 0.97, so none wrong.
    rows = [("a", 0.95, 10, 9), ("a", 0.97, 8, 8), ("b", 0.95, 5, 5), ("b", 0.97, 0, 0)]
    assert threshold_for_goal(_sweep(rows)) == 0.97
    assert threshold_for_goal(_sweep([*rows[:1], ("a", 0.97, 8, 7), *rows[2:]])) is None
    # Another method's figures do not count.
    assert threshold_for_goal(_sweep(rows), method="oracle") is None


def test_the_klar_kandidat_threshold_was_chosen_by_its_rule_on_other_seeds_than_the_validation(
    national_config,
):
    tuning, validation = load_validation(TUNING_DIR), load_validation(VALIDATION_DIR)
    assert tuning is not None and validation is not None
    assert not set(tuning.seeds) & set(validation.seeds)
    assert tuning.scenarios == validation.scenarios
    assert threshold_for_goal(tuning.thresholds) == national_config.holistic.candidate_probability
    assert (TUNING_DIR / "validation.md").read_text(encoding="utf-8") == report_markdown(tuning)


def test_readme_block_is_replaced_between_its_markers_only():
    readme = f"before\n{README_START}\nold\n{README_END}\nafter\n"
    assert with_readme_block(readme, f"{README_START}\nnew\n{README_END}") == (
        f"before\n{README_START}\nnew\n{README_END}\nafter\n"
    )
    with pytest.raises(ValueError, match="no block"):
        with_readme_block("no markers here", "x")


def test_committed_validation_is_what_the_readme_and_report_show():
    result = load_validation(VALIDATION_DIR)
    assert result is not None, "docs/validation.csv is missing: run `utvalg evaluate`"
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert with_readme_block(readme, readme_block(result)) == readme
    assert (VALIDATION_DIR / "validation.md").read_text(encoding="utf-8") == report_markdown(result)


def test_method_page_shows_validation_only_for_the_configuration_it_was_measured_with(national_config):
    recalls = {"holistic": [0.6, 0.7], "raw": [0.5, 0.6], "udir": [0.6, 0.5], "oracle": [0.66, 0.69]}
    result = _result(recalls, coverage=[0.86, 0.88], precision=[0.9, 0.9])
    result.provenance["configuration"]["configuration_sha256"] = configuration_fingerprint(national_config)
    shown = validation_section(result, national_config)
    assert "<td>0,650 (0,600–0,700)</td>" in shown and "mot 0,550 (sammensatt skår" in shown
    assert "Foreløpige tall: 2 kjøring(er)" in shown and "ikke nådd" not in shown
    # The school year does not matter (the samples have their own years); the method's settings do.
    assert validation_section(result, national_config.with_year("2024-25")) == shown
    other = replace(national_config, holistic=replace(national_config.holistic, top_n=25))
    hidden = validation_section(result, other)
    assert "annen konfigurasjon" in hidden and "0,650" not in hidden
    assert "Ingen validering" in validation_section(None, national_config)


def test_dashboard_method_page_shows_the_committed_validation(published, national_config):
    result = load_validation(VALIDATION_DIR)
    assert result is not None
    assert result.provenance["configuration"]["configuration_sha256"] == configuration_fingerprint(
        national_config
    ), "docs/validation.csv was measured with another utvalg.toml: run `utvalg evaluate` again"
    page = (published["dashboard"] / "metode.html").read_text(encoding="utf-8")
    assert "Validering på simulerte data" in page
    assert f"kodeversjon {result.provenance['code_version']}" in page
    # What the coverage is measured against, and why the truly weakest's falls short, the oracle's too.
    assert "den sanne plassen blant kommunene metoden rangerer" in page
    assert "og det gjør oraklet også" in page and "orakel (taket)" not in page
    holistic_recall = summary(result.metrics).filter(
        (pl.col("method") == "holistic") & (pl.col("metric") == "recall")
    )["mean"][0]
    assert f"{holistic_recall:.3f}".replace(".", ",") in page


# --- the command --------------------------------------------------------------------------------


def test_evaluate_fails_clearly_on_a_missing_scenario_file(tmp_path: Path, capsys):
    missing = tmp_path / "no_such_scenario.toml"
    code = main(["evaluate", "--scenario", str(missing), "--seeds", "1", "--out", str(tmp_path / "out")])
    assert code == 1
    assert f"scenario file {missing} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_scenarios_area_weights_and_estimand_are_the_policy_the_methods_run_with(national_config):
    """ulik_vekt weighs the areas 2 / 0.5 / 1 and counts a kommune's own effect only: the methods are
    told that policy (Udir's stated choice, not something to guess); the standard scenario runs the
    configuration unchanged."""
    path = PROJECT_ROOT / "data" / "scenarios" / "ulik_vekt.toml"
    unequal = EvaluationScenario("ulik_vekt", path, load_scenario(path))
    told = policy_config(national_config, unequal).holistic
    assert told.area_weights == {"laeringsresultater": 2.0, "laeringsmiljo": 0.5, "gjennomforing": 1.0}
    # Its truth counts the kommune's own effect only, and so is the method told to.
    assert (national_config.holistic.estimand, told.estimand) == ("kommune_and_schools", "kommune_only")
    assert policy_config(national_config, EvaluationScenario("standard", None)) == national_config
    standard = PROJECT_ROOT / "data" / "scenarios" / "standard.toml"
    assert policy_config(national_config, EvaluationScenario("s", standard, load_scenario(standard))) == (
        national_config
    )


def test_the_method_text_states_the_tiers_measured_precision_only_for_its_own_configuration(national_config):
    """The tier's threshold is chosen on the validation, and the method text (dashboard and workbooks)
    says how often it was right there: from the committed figures, and not for another configuration."""
    validation = load_validation(VALIDATION_DIR)
    precision = clear_candidate_precision(validation, national_config)
    assert precision is not None and set(precision) == set(validation.scenarios)
    expected = summary(validation.metrics).filter(
        (pl.col("method") == "holistic") & (pl.col("metric") == "clear_candidate_rate")
    )
    for scenario, mean in expected.select("scenario", "mean").iter_rows():
        assert precision[scenario] == pytest.approx(mean)
    tiers = dict(method_sections(national_config, precision=precision))["Nivå"]
    for scenario, share in precision.items():
        assert f"{round(share * 100):d} % ({scenario.replace('_', ' ')})" in tiers
    other = replace(national_config, holistic=replace(national_config.holistic, candidate_probability=0.85))
    assert clear_candidate_precision(validation, other) is None
    assert "fasiten er kjent" not in dict(method_sections(other, precision=None))["Nivå"]
