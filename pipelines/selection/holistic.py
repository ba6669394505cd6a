"""A holistic statistical assessment beside Udir's rule, using all four sources.

1. Direction-aligned standardised scores: per indicator and school year,
   ``z = worse_sign · (value − national) / SD of kommune values``, so higher is weaker everywhere.
2. Uncertainty of each score from its standard error (Udir's ``Usikkerhet``, or from the pupil count).
3. Empirical-Bayes shrinkage toward the national level: with sampling variance ``s²`` and the
   between-kommune variance ``τ²`` (method of moments, per indicator and year), the posterior mean is
   ``(1 − B)·z`` with ``B = s² / (s² + τ²)`` and variance ``(1 − B)·s²``. A small kommune's noisy figure
   is pulled toward the national level instead of flagging it by chance.
4. Pooling over the window: an indicator's score is the mean of its years; the persistence measure is
   the probability that the kommune's yearly composite is worse than the national level in at least two
   of the window's years (independent normal posteriors per year).
5. A composite: indicators averaged within areas, areas weighted (equal by default) over the areas the
   kommune has.
6. Monte Carlo over the posterior (``draws`` draws): each kommune's probability of being among the N
   weakest, and a 90 % interval for its rank. Tiers: ``klar kandidat`` / ``grensetilfelle`` /
   ``klart ikke``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

import numpy as np
import polars as pl

from pipelines.selection.config import AREAS, Config

TIERS = ("klar kandidat", "grensetilfelle", "klart ikke")


@dataclass(frozen=True)
class HolisticResult:
    scores: pl.DataFrame  # one row per unit: composite, rank, p_top_n, rank interval, tier, persistence
    indicator_scores: pl.DataFrame  # one row per unit × indicator: pooled score and its variance
    yearly: pl.DataFrame  # one row per unit × indicator × year: z, shrunken score, variance


def standardise(values: pl.DataFrame, shrinkage: bool) -> pl.DataFrame:
    """Standardised, direction-aligned and (optionally) shrunken scores per unit × indicator × year."""
    usable = values.filter(
        pl.col("value").is_not_null() & pl.col("std_error").is_not_null() & pl.col("national").is_not_null()
    )
    group = ["indicator_id", "school_year"]
    frame = (
        usable.with_columns(pl.col("value").std().over(group).alias("_spread"))
        .filter(pl.col("_spread") > 0)
        .with_columns(
            (pl.col("worse_sign") * (pl.col("value") - pl.col("national")) / pl.col("_spread")).alias("z"),
            ((pl.col("std_error") / pl.col("_spread")) ** 2).alias("sampling_var"),
        )
        .with_columns(
            (pl.col("z").var().over(group) - pl.col("sampling_var").mean().over(group))
            .clip(lower_bound=1e-3)
            .alias("between_var")
        )
    )
    if shrinkage:
        factor = pl.col("sampling_var") / (pl.col("sampling_var") + pl.col("between_var"))
        frame = frame.with_columns(
            ((1 - factor) * pl.col("z")).alias("score"),
            ((1 - factor) * pl.col("sampling_var")).alias("score_var"),
        )
    else:
        frame = frame.with_columns(pl.col("z").alias("score"), pl.col("sampling_var").alias("score_var"))
    return frame.select(
        "unit_code",
        "indicator_id",
        "area",
        "school_year",
        "value",
        "national",
        "n",
        "z",
        "score",
        "score_var",
    )


def _composite(frame: pl.DataFrame, keys: list[str], weights: dict[str, float]) -> pl.DataFrame:
    """Indicator scores → area means → weighted composite, with variances (independent parts)."""
    areas = frame.group_by([*keys, "area"]).agg(
        pl.col("score").mean().alias("area_score"),
        (pl.col("score_var").sum() / pl.len() ** 2).alias("area_var"),
    )
    weight = pl.col("area").replace_strict(weights, return_dtype=pl.Float64)
    return (
        areas.with_columns(weight.alias("_w"))
        .filter(pl.col("_w") > 0)
        .group_by(keys)
        .agg(
            ((pl.col("_w") * pl.col("area_score")).sum() / pl.col("_w").sum()).alias("composite"),
            ((pl.col("_w") ** 2 * pl.col("area_var")).sum() / pl.col("_w").sum() ** 2).alias("composite_var"),
            pl.col("area").sort().str.join(", ").alias("areas"),
        )
    )


def _at_least_two(probabilities: list[float]) -> float:
    """P(at least two successes) for independent events with these probabilities."""
    distribution = np.zeros(len(probabilities) + 1)
    distribution[0] = 1.0
    for p in probabilities:
        distribution[1:] = distribution[1:] * (1 - p) + distribution[:-1] * p
        distribution[0] *= 1 - p
    return float(distribution[2:].sum())


def holistic_scores(values: pl.DataFrame, config: Config, shrinkage: bool | None = None) -> HolisticResult:
    """The holistic method on one owner's indicator values (kommune or fylkeskommune level)."""
    settings = config.holistic
    shrink = settings.shrinkage if shrinkage is None else shrinkage
    weights = {area: settings.area_weights.get(area, 1.0) for area in AREAS}
    yearly = standardise(values, shrink)
    pooled = yearly.group_by("unit_code", "indicator_id", "area").agg(
        pl.col("score").mean().alias("score"),
        (pl.col("score_var").sum() / pl.len() ** 2).alias("score_var"),
        pl.len().alias("years"),
        (pl.col("z") > 0).sum().alias("years_worse"),
    )
    composite = _composite(pooled, ["unit_code"], weights)

    by_year = _composite(yearly, ["unit_code", "school_year"], weights)
    standard_normal = NormalDist()
    p_worse = [
        standard_normal.cdf(mean / sqrt(var)) if var > 0 else float(mean > 0)
        for mean, var in by_year.select("composite", "composite_var").iter_rows()
    ]
    persistence = (
        by_year.with_columns(pl.Series("p_worse", p_worse, dtype=pl.Float64))
        .group_by("unit_code")
        .agg(pl.col("p_worse"))
        .with_columns(
            pl.col("p_worse")
            .map_elements(lambda p: _at_least_two(p.to_list()), return_dtype=pl.Float64)
            .alias("persistence")
        )
        .drop("p_worse")
    )

    scores = composite.join(persistence, on="unit_code", how="left").sort("unit_code")
    scores = _rank_uncertainty(scores, config)
    return HolisticResult(
        scores=scores, indicator_scores=pooled.sort("unit_code", "indicator_id"), yearly=yearly
    )


def _rank_uncertainty(scores: pl.DataFrame, config: Config) -> pl.DataFrame:
    settings = config.holistic
    top_n = min(settings.top_n, scores.height)
    if scores.is_empty():
        return scores.with_columns(
            pl.lit(None, pl.Int64).alias("holistic_rank"),
            pl.lit(None, pl.Float64).alias("p_top_n"),
            pl.lit(None, pl.Int64).alias("rank_low"),
            pl.lit(None, pl.Int64).alias("rank_high"),
            pl.lit(None, pl.String).alias("tier"),
        )
    rng = np.random.Generator(np.random.PCG64(settings.seed))
    mean = scores["composite"].to_numpy()
    sd = np.sqrt(scores["composite_var"].to_numpy())
    draws = rng.standard_normal((settings.draws, mean.size)) * sd + mean
    # Rank 1 is the weakest (highest composite) in each draw.
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(settings.draws)[:, None]
    ranks[rows, order] = np.arange(1, mean.size + 1)
    p_top = (ranks <= top_n).mean(axis=0)
    low, high = np.percentile(ranks, [5, 95], axis=0, method="lower")
    point_rank = np.empty(mean.size, dtype=np.int64)
    point_rank[np.lexsort((scores["unit_code"].to_numpy(), -mean))] = np.arange(1, mean.size + 1)
    tier = np.where(
        p_top >= settings.candidate_probability,
        TIERS[0],
        np.where(p_top < settings.not_candidate_probability, TIERS[2], TIERS[1]),
    )
    return scores.with_columns(
        pl.Series("holistic_rank", point_rank),
        pl.Series("p_top_n", p_top),
        pl.Series("rank_low", low.astype(np.int64)),
        pl.Series("rank_high", high.astype(np.int64)),
        pl.Series("tier", tier.astype(str)),
    ).sort("holistic_rank")
