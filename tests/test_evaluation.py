"""The methods scored against the sample's known truth (deterministic for the session's seed)."""

from __future__ import annotations

import polars as pl

from pipelines.selection.evaluate import evaluate


def test_holistic_method_beats_raw_ranking_and_udirs_rule(national_sample, national_run, national_config):
    truth = pl.read_csv(national_sample / "truth.csv", schema_overrides={"municipality_code": pl.String})
    ranks = national_run.table("rank_uncertainty")
    evaluation = evaluate(
        national_run.table("indicator_values"),
        national_run.table("school_indicator_values"),
        national_run.table("udir_risk_points"),
        ranks,
        national_config,
        truth,
    )
    metrics = {row["method"]: row for row in evaluation.metrics.iter_rows(named=True)}
    holistic, raw, udir = metrics["holistic"], metrics["raw"], metrics["udir"]
    assert holistic["selected"] == raw["selected"] == udir["selected"] == 30
    assert holistic["recall"] > raw["recall"] and holistic["recall"] > udir["recall"]
    assert holistic["brier"] < raw["brier"] and holistic["brier"] < udir["brier"]
    # Shrinkage keeps small kommuner from being flagged by chance.
    assert holistic["small_share_of_false_positives"] < raw["small_share_of_false_positives"]
    # Reliability: the kommuner given at least 90 % are mostly truly among the weakest 30.
    top_bin = evaluation.reliability.filter(pl.col("bin") == "90–100 %").row(0, named=True)
    assert top_bin["observed"] >= 0.7
    assert evaluation.reliability["kommuner"].sum() == ranks.height
