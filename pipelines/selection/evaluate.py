"""Score selection methods against known truth (the synthetic sample's ``truth.csv``).

For each method: recall of the truly weakest N (by ``true_risk``), the share of small kommuner among
its false positives, and, for probabilities, the Brier score and a reliability table. The methods:
``raw`` (the composite ranked without shrinkage), ``udir`` (Udir's share of risk points) and
``holistic`` (the shrunken composite; its probabilities are ``p_top_n``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.config import Config
from pipelines.selection.holistic import holistic_scores


@dataclass(frozen=True)
class Evaluation:
    metrics: pl.DataFrame  # method, recall, false_positives, small_share_of_false_positives, brier
    reliability: pl.DataFrame  # bin, predicted, observed, kommuner


def cohort_sizes(municipal_values: pl.DataFrame) -> pl.DataFrame:
    """Mean pupil count per kommune over its indicator figures (a kommune's size)."""
    return municipal_values.group_by("unit_code").agg(pl.col("n").mean().alias("pupils"))


def evaluate(
    municipal_values: pl.DataFrame,
    school_values: pl.DataFrame,
    udir: pl.DataFrame,
    rank_uncertainty: pl.DataFrame,
    config: Config,
    truth: pl.DataFrame,
    top_n: int | None = None,
) -> Evaluation:
    """The three methods against ``truth``, from the tables the assets of one run write."""
    top_n = top_n or config.holistic.top_n
    truth = truth.select(
        pl.col("municipality_code").cast(pl.String).str.zfill(4).alias("unit_code"), "true_risk"
    ).with_columns((pl.col("true_risk").rank("ordinal", descending=True) <= top_n).alias("truly_weak"))
    sizes = cohort_sizes(municipal_values)
    small_limit = sizes["pupils"].quantile(1 / 3)
    raw = holistic_scores(municipal_values, config, shrinkage=False, school_values=school_values).scores
    selections = {
        "raw": raw.filter(pl.col("holistic_rank") <= top_n)["unit_code"],
        "udir": udir.filter(pl.col("udir_rank") <= top_n)["unit_code"],
        "holistic": rank_uncertainty.filter(pl.col("holistic_rank") <= top_n)["unit_code"],
    }
    weak = set(truth.filter(pl.col("truly_weak"))["unit_code"].to_list())
    small = set(sizes.filter(pl.col("pupils") <= small_limit)["unit_code"].to_list())
    rows = []
    for method, selected in selections.items():
        chosen = set(selected.to_list())
        false_positives = chosen - weak
        predictions = truth.with_columns(
            pl.col("unit_code").is_in(sorted(chosen)).cast(pl.Float64).alias("p")
        )
        if method == "holistic":
            predictions = truth.join(
                rank_uncertainty.select("unit_code", pl.col("p_top_n").alias("p")),
                on="unit_code",
                how="left",
            ).with_columns(pl.col("p").fill_null(0.0))
        brier = predictions.select(((pl.col("p") - pl.col("truly_weak").cast(pl.Float64)) ** 2).mean()).item()
        rows.append(
            {
                "method": method,
                "recall": len(chosen & weak) / len(weak),
                "selected": len(chosen),
                "false_positives": len(false_positives),
                "small_share_of_false_positives": (
                    len(false_positives & small) / len(false_positives) if false_positives else 0.0
                ),
                "brier": brier,
            }
        )
    probabilities = truth.join(rank_uncertainty.select("unit_code", "p_top_n"), on="unit_code", how="inner")
    reliability = (
        probabilities.with_columns((pl.col("p_top_n") * 10).floor().clip(0, 9).cast(pl.Int32).alias("bin"))
        .group_by("bin")
        .agg(
            pl.col("p_top_n").mean().alias("predicted"),
            pl.col("truly_weak").cast(pl.Float64).mean().alias("observed"),
            pl.len().alias("kommuner"),
        )
        .sort("bin")
        .with_columns(pl.format("{}–{} %", pl.col("bin") * 10, pl.col("bin") * 10 + 10).alias("bin"))
    )
    return Evaluation(pl.DataFrame(rows), reliability)
