"""A holistic statistical assessment beside Udir's rule, using all four sources.

1. Direction-aligned standardised scores: per indicator and school year,
   ``z = worse_sign · (value − national) / SD of kommune values``, so higher is weaker everywhere.
2. The uncertainty of each score: the pupils' sampling error (Udir's ``Usikkerhet``, or from the pupil
   count) plus the part of a kommune's figure that is down to which schools it happens to have. The
   school component is estimated per indicator and year from the school rows (variance of schools
   around their kommune, less their own sampling error) and weighs more in a kommune with few
   schools (it scales with Σ(nᵢ/N)² over the kommune's schools).
3. Pooling over the window: an indicator's score is the mean of its years.
4. A composite: indicators averaged within areas, areas weighted (equal by default) over the areas the
   kommune has; its error variance from the parts.
5. Empirical-Bayes shrinkage of the composite toward the national level: with error variance ``v`` and
   the between-kommune variance ``τ²`` (method of moments over all kommuner), the posterior mean is
   ``(1 − B)·Z`` with ``B = v / (v + τ²)`` and variance ``(1 − B)·v``. A small kommune's noisy figure
   is pulled toward the national level instead of flagging it by chance.
6. Persistence: the probability that the kommune's (shrunken) yearly composite is worse than the
   national level in at least two of the window's years.
7. Monte Carlo over the posterior (``draws`` draws): each kommune's probability of being among the N
   weakest, and a 90 % interval for its rank. Tiers: ``klar kandidat`` / ``grensetilfelle`` /
   ``klart ikke``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

import numpy as np
import polars as pl

from pipelines.config import Config
from pipelines.vocabulary import AREAS, BORDERLINE, CLEAR_CANDIDATE, CLEARLY_NOT

MINIMUM_SIGNAL = 1e-3


@dataclass(frozen=True)
class HolisticResult:
    scores: pl.DataFrame  # one row per unit: composite, rank, p_top_n, rank interval, tier, persistence
    indicator_scores: pl.DataFrame  # one row per unit × indicator: pooled score and its variance
    yearly: pl.DataFrame  # one row per unit × indicator × year: z and its error variance


def standardise(values: pl.DataFrame, school_values: pl.DataFrame | None = None) -> pl.DataFrame:
    """Standardised, direction-aligned scores per unit × indicator × year, with error variances."""
    usable = values.filter(
        pl.col("value").is_not_null() & pl.col("std_error").is_not_null() & pl.col("national").is_not_null()
    )
    group = ["indicator_id", "school_year"]
    frame = (
        usable.with_columns(pl.col("value").std().over(group).alias("spread"))
        .filter(pl.col("spread") > 0)
        .with_columns(
            (pl.col("worse_sign") * (pl.col("value") - pl.col("national")) / pl.col("spread")).alias("z"),
            ((pl.col("std_error") / pl.col("spread")) ** 2).alias("sampling_var"),
        )
    )
    school_part = _school_variance(frame, school_values) if school_values is not None else None
    if school_part is not None and school_part.height:
        frame = frame.join(school_part, on=["unit_code", "indicator_id", "school_year"], how="left")
        frame = frame.with_columns(pl.col("school_var").fill_null(0.0))
    else:
        frame = frame.with_columns(pl.lit(0.0).alias("school_var"))
    # A fixed row order keeps every sum below identical between runs (byte-identical outputs).
    return (
        frame.sort("unit_code", "indicator_id", "school_year")
        .with_columns((pl.col("sampling_var") + pl.col("school_var")).alias("error_var"))
        .select(
            "unit_code",
            "indicator_id",
            "area",
            "school_year",
            "value",
            "national",
            "n",
            "z",
            "sampling_var",
            "school_var",
            "error_var",
        )
    )


def _school_variance(kommuner: pl.DataFrame, schools: pl.DataFrame) -> pl.DataFrame:
    """Per kommune × indicator × year: the school component's variance in the kommune's z.

    σ²_school (per indicator and year) = mean squared deviation of schools from their kommune, less the
    schools' own sampling variance; the kommune's share of it is σ²_school · Σ(nᵢ/N)², where the pupils
    of schools without a published count form one more school.
    """
    keys = ["indicator_id", "school_year"]
    scale = kommuner.select(*keys, "spread").unique(keys)
    scored = (
        schools.filter(pl.col("value").is_not_null() & pl.col("std_error").is_not_null())
        .join(scale, on=keys, how="inner")
        .join(
            kommuner.select(
                pl.col("unit_code").alias("municipality_code"), *keys, pl.col("value").alias("kommune")
            ),
            on=["municipality_code", *keys],
            how="inner",
        )
        .with_columns(
            (((pl.col("value") - pl.col("kommune")) / pl.col("spread")) ** 2).alias("deviation"),
            ((pl.col("std_error") / pl.col("spread")) ** 2).alias("own"),
        )
    )
    component = (
        scored.sort(*keys, "municipality_code", "unit_code")
        .group_by(keys, maintain_order=True)
        .agg((pl.col("deviation").mean() - pl.col("own").mean()).clip(lower_bound=0).alias("component"))
    )
    known = schools.filter(pl.col("n").is_not_null() & (pl.col("n") > 0)).select(
        "municipality_code", *keys, "n"
    )
    totals = kommuner.select(
        pl.col("unit_code").alias("municipality_code"), *keys, pl.col("n").alias("total")
    )
    herfindahl = (
        known.join(totals, on=["municipality_code", *keys], how="right")
        .sort("municipality_code", *keys, "n", nulls_last=True)
        .group_by("municipality_code", *keys, maintain_order=True)
        .agg(
            ((pl.col("n") / pl.col("total")) ** 2).sum().alias("known_share"),
            (1 - (pl.col("n") / pl.col("total")).sum()).clip(0, 1).alias("rest"),
        )
        .with_columns((pl.col("known_share") + pl.col("rest") ** 2).clip(0, 1).alias("herfindahl"))
    )
    return herfindahl.join(component, on=keys, how="inner").select(
        pl.col("municipality_code").alias("unit_code"),
        *keys,
        (pl.col("component") * pl.col("herfindahl")).alias("school_var"),
    )


def _composite(frame: pl.DataFrame, keys: list[str], weights: dict[str, float]) -> pl.DataFrame:
    """Indicator scores → area means → weighted composite, with error variances (independent parts)."""
    areas = (
        frame.sort(*keys, "area", "indicator_id")
        .group_by([*keys, "area"], maintain_order=True)
        .agg(
            pl.col("score").mean().alias("area_score"),
            (pl.col("score_var").sum() / pl.len() ** 2).alias("area_var"),
        )
    )
    weight = pl.col("area").replace_strict(weights, return_dtype=pl.Float64)
    return (
        areas.with_columns(weight.alias("_w"))
        .filter(pl.col("_w") > 0)
        .group_by(keys, maintain_order=True)
        .agg(
            ((pl.col("_w") * pl.col("area_score")).sum() / pl.col("_w").sum()).alias("raw_composite"),
            ((pl.col("_w") ** 2 * pl.col("area_var")).sum() / pl.col("_w").sum() ** 2).alias("error_var"),
            pl.col("area").sort().str.join(", ").alias("areas"),
        )
    )


def _shrunken(frame: pl.DataFrame, signal: float, shrink: bool) -> pl.DataFrame:
    if not shrink:
        return frame.with_columns(
            pl.col("raw_composite").alias("composite"), pl.col("error_var").alias("composite_var")
        )
    factor = pl.col("error_var") / (pl.col("error_var") + signal)
    return frame.with_columns(
        ((1 - factor) * pl.col("raw_composite")).alias("composite"),
        ((1 - factor) * pl.col("error_var")).alias("composite_var"),
        (1 - factor).alias("reliability"),
    )


def _at_least_two(probabilities: list[float]) -> float:
    """P(at least two successes) for independent events with these probabilities."""
    distribution = np.zeros(len(probabilities) + 1)
    distribution[0] = 1.0
    for p in probabilities:
        distribution[1:] = distribution[1:] * (1 - p) + distribution[:-1] * p
        distribution[0] *= 1 - p
    return float(distribution[2:].sum())


def holistic_scores(
    values: pl.DataFrame,
    config: Config,
    shrinkage: bool | None = None,
    school_values: pl.DataFrame | None = None,
) -> HolisticResult:
    """The holistic method on one owner's indicator values (kommune or fylkeskommune level)."""
    settings = config.holistic
    shrink = settings.shrinkage if shrinkage is None else shrinkage
    weights = {area: settings.area_weights.get(area, 1.0) for area in AREAS}
    yearly = standardise(values, school_values).with_columns(
        pl.col("z").alias("score"), pl.col("error_var").alias("score_var")
    )
    pooled = yearly.group_by("unit_code", "indicator_id", "area", maintain_order=True).agg(
        pl.col("z").mean().alias("score"),
        (pl.col("error_var").sum() / pl.len() ** 2).alias("score_var"),
        pl.len().alias("years"),
        (pl.col("z") > 0).sum().alias("years_worse"),
    )
    composite = _composite(pooled, ["unit_code"], weights).sort("unit_code")
    spread = composite.select(
        pl.col("raw_composite").var().fill_null(0.0) - pl.col("error_var").mean().fill_null(0.0)
    ).item()
    signal = max(float(spread), MINIMUM_SIGNAL)
    composite = _shrunken(composite, signal, shrink)
    if shrink:
        pooled = pooled.join(composite.select("unit_code", "reliability"), on="unit_code").with_columns(
            (pl.col("score") * pl.col("reliability")).alias("score")
        )

    by_year = _shrunken(_composite(yearly, ["unit_code", "school_year"], weights), signal, shrink)
    standard_normal = NormalDist()
    p_worse = [
        standard_normal.cdf(mean / sqrt(var)) if var > 0 else float(mean > 0)
        for mean, var in by_year.select("composite", "composite_var").iter_rows()
    ]
    persistence = (
        by_year.with_columns(pl.Series("p_worse", p_worse, dtype=pl.Float64))
        .group_by("unit_code", maintain_order=True)
        .agg(pl.col("p_worse"))
        .with_columns(
            pl.col("p_worse")
            .map_elements(lambda p: _at_least_two(p.to_list()), return_dtype=pl.Float64)
            .alias("persistence")
        )
        .drop("p_worse")
    )

    scores = (
        composite.select("unit_code", "composite", "composite_var", "raw_composite", "areas")
        .join(persistence, on="unit_code", how="left")
        .sort("unit_code")
    )
    scores = _rank_uncertainty(scores, config)
    return HolisticResult(
        scores=scores,
        indicator_scores=pooled.select(
            "unit_code", "indicator_id", "area", "score", "score_var", "years", "years_worse"
        ).sort("unit_code", "indicator_id"),
        yearly=yearly,
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
        CLEAR_CANDIDATE,
        np.where(p_top < settings.not_candidate_probability, CLEARLY_NOT, BORDERLINE),
    )
    return scores.with_columns(
        pl.Series("holistic_rank", point_rank),
        pl.Series("p_top_n", p_top),
        pl.Series("rank_low", low.astype(np.int64)),
        pl.Series("rank_high", high.astype(np.int64)),
        pl.Series("tier", tier.astype(str)),
    ).sort("holistic_rank")
