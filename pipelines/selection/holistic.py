"""A holistic statistical assessment beside Udir's rule, using every source the raw folder holds.

1. Direction-aligned standardised scores per indicator and school year,
   ``z = worse_sign · (value − national) / SD of kommune values``, so higher is weaker everywhere, with
   the sampling variance ``(standard error / SD)²``.
2. A multivariate Fay–Herriot model over indicators and years (``pipelines/selection/model.py``): each
   kommune's persistent level per indicator, borrowing strength across kommuner and across indicators, net
   of a transient kommune-year component and the pupils' sampling error, all estimated from the data; a
   parametric bootstrap carries the uncertainty of the estimated parameters into the draws.
3. The estimand, the composite: each area's indicators on the scale of their between-kommune SD,
   averaged, each area scaled to unit between-kommune SD, and the areas weighted by ``area_weights``. The
   weights are the same for every kommune, so a suppressed indicator changes the uncertainty of the
   composite, not what it estimates (the model fills it from the others). Areas for which the raw folder
   has no source are left out for everyone, and said so.
   An area's quality is the average of its indicators' persistent levels: grade 5's barneskoler and
   grade 8's ungdomsskoler are both the kommune's, and what one indicator shows and the others do not is
   part of the area, not uncertainty (the README has the one-factor alternative measured, and why it
   went). The schools' persistent effects (:func:`school_persistent_covariance`,
   :func:`pair_concentration`) widen a kommune's prior by default and are error of its level under
   ``estimand = "kommune_only"``.
4. Draws of the composite from the posterior mixture over the bootstrap → P(among the N weakest), the
   list order, a 90 % rank interval that contains the point rank, the sets that jointly are (or surely
   are not) among the N weakest (``pipelines/selection/ranks.py``), and tiers from the probability.

``shrinkage = False`` gives the raw composite instead (the window mean of the scores the kommune has,
areas averaged over what it has, with its error variance and no prior): the baseline and a sensitivity
variant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from pipelines.config import Config
from pipelines.selection.model import (
    MIN_UNITS_FOR_COVARIANCE,
    Fit,
    Panel,
    bootstrap_fits,
    fit,
    fit_noise,
    nearest_psd,
    posterior,
    window_error,
)
from pipelines.selection.ranks import rank_statements
from pipelines.vocabulary import AREAS, BORDERLINE, CLEAR_CANDIDATE, CLEARLY_NOT

SCORE_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String(),
        "composite": pl.Float64(),
        "composite_var": pl.Float64(),
        "raw_composite": pl.Float64(),
        "areas": pl.String(),
        "holistic_rank": pl.Int64(),
        "p_top_n": pl.Float64(),
        "expected_rank": pl.Float64(),
        "rank_low": pl.Int64(),
        "rank_high": pl.Int64(),
        "sure_candidate": pl.Boolean(),
        "sure_not_candidate": pl.Boolean(),
        "tier": pl.String(),
    }
)
INDICATOR_SCORE_SCHEMA = pl.Schema(
    {
        "unit_code": pl.String(),
        "indicator_id": pl.String(),
        "area": pl.String(),
        "score": pl.Float64(),
        "score_var": pl.Float64(),
        "years": pl.Int64(),
        "years_worse": pl.Int64(),
    }
)


@dataclass(frozen=True)
class HolisticResult:
    scores: pl.DataFrame  # one row per unit: composite, rank, p_top_n, rank interval, joint sets, tier
    indicator_scores: pl.DataFrame  # one row per unit × indicator it has: posterior score and variance
    model: pl.DataFrame  # one row per indicator: the fitted parameters, for the method's readers
    intervals_widened: int  # rank intervals widened to contain their point rank


def _usable(values: pl.DataFrame) -> pl.DataFrame:
    return values.filter(
        pl.col("value").is_not_null() & pl.col("std_error").is_not_null() & pl.col("national").is_not_null()
    )


def standardise(values: pl.DataFrame) -> pl.DataFrame:
    """Standardised, direction-aligned scores per unit × indicator × year, with sampling variances."""
    group = ["indicator_id", "school_year"]
    # A fixed row order keeps every sum below identical between runs (byte-identical outputs).
    return (
        _usable(values)
        .with_columns(pl.col("value").std().over(group).alias("spread"))
        .filter(pl.col("spread") > 0)
        .with_columns(
            (pl.col("worse_sign") * (pl.col("value") - pl.col("national")) / pl.col("spread")).alias("z"),
            ((pl.col("std_error") / pl.col("spread")) ** 2).alias("sampling_var"),
        )
        .sort("unit_code", "indicator_id", "school_year")
        .select(
            "unit_code", "indicator_id", "area", "school_year", "value", "national", "n", "z", "sampling_var"
        )
    )


def school_concentration(kommuner: pl.DataFrame, schools: pl.DataFrame | None) -> pl.DataFrame:
    """Per kommune: Σ (school's share of the kommune's pupils)², averaged over its indicator-years; the
    pupils of schools without a published count count as one more school. 1 for a one-school kommune."""
    if schools is None or schools.is_empty():
        return pl.DataFrame(schema={"unit_code": pl.String, "concentration": pl.Float64})
    keys = ["indicator_id", "school_year"]
    known = schools.filter(pl.col("n").is_not_null() & (pl.col("n") > 0)).select(
        pl.col("municipality_code").alias("unit_code"), *keys, "n"
    )
    totals = kommuner.filter(pl.col("n") > 0).select("unit_code", *keys, pl.col("n").alias("total"))
    return (
        known.join(totals, on=["unit_code", *keys], how="right")
        .sort("unit_code", *keys, "n", nulls_last=True)
        .group_by("unit_code", *keys, maintain_order=True)
        .agg(
            ((pl.col("n") / pl.col("total")) ** 2).sum().alias("known_share"),
            (1 - (pl.col("n") / pl.col("total")).sum()).clip(0, 1).alias("rest"),
        )
        .with_columns((pl.col("known_share") + pl.col("rest") ** 2).clip(0, 1).alias("concentration"))
        .group_by("unit_code", maintain_order=True)
        .agg(pl.col("concentration").mean())
        .sort("unit_code")
    )


def school_persistent_covariance(
    kommuner: pl.DataFrame, schools: pl.DataFrame, indicators: list[str]
) -> np.ndarray:
    """S [K, K]: the covariance of a school's persistent effects between indicators, in the kommune
    scores' units (SD of kommune values), from the schools' figures within their kommuner.

    A school's score less the plain mean of its kommune's schools in the same year, ``d``, is free of
    everything the kommune's schools share (the kommune's level, trend and year). Of two such deviations
    of one school in DIFFERENT years only the persistent effects are correlated (the school-year effect
    and the pupils' sampling error are fresh each year), so no noise model is needed: for a school in
    both sets, of ``m`` and ``m'`` schools with ``o`` in common, E[d d'] = S·(1 − 1/m − 1/m' + o/(m m')).
    S is the ratio of the summed products to the summed factors, projected onto the PSD cone.
    """
    spreads = (
        _usable(kommuner)
        .sort("indicator_id", "school_year", "unit_code")
        .group_by("indicator_id", "school_year", maintain_order=True)
        .agg(pl.col("value").std().alias("spread"))
        .filter(pl.col("spread") > 0)
    )
    keys = ["municipality_code", "indicator_id", "school_year"]
    # Sums in numpy over sorted rows (np.bincount adds in row order): identical between runs, where a
    # multi-threaded group-by's float sums may differ in the last bit (byte-identical outputs).
    scores = (
        schools.filter(pl.col("value").is_not_null() & pl.col("national").is_not_null())
        .join(spreads, on=["indicator_id", "school_year"], how="inner")
        .select(
            *keys,
            "unit_code",
            (pl.col("worse_sign") * (pl.col("value") - pl.col("national")) / pl.col("spread")).alias("z"),
        )
        .sort(*keys, "unit_code")
        .with_columns(pl.struct(keys).rle_id().alias("group"))
    )
    group = scores["group"].to_numpy()
    count = np.bincount(group).astype(np.float64)
    z = scores["z"].to_numpy()
    deviations = (
        scores.with_columns(
            pl.Series("d", z - (np.bincount(group, weights=z) / count)[group]), pl.Series("m", count[group])
        )
        .filter(pl.col("m") >= 2)
        .drop("z", "group")
    )
    pairs = (
        deviations.join(deviations, on=["municipality_code", "unit_code"], suffix="_2")
        .filter(pl.col("school_year") != pl.col("school_year_2"))
        .sort(*keys, "indicator_id_2", "school_year_2", "unit_code")
        .with_columns(pl.struct(*keys, "indicator_id_2", "school_year_2").rle_id().alias("pair"))
    )
    at = {k: i for i, k in enumerate(indicators)}
    size = len(indicators)
    pair = pairs["pair"].to_numpy()
    products = np.bincount(pair, weights=pairs["d"].to_numpy() * pairs["d_2"].to_numpy())
    common = np.bincount(pair).astype(np.float64)
    first_row = np.searchsorted(pair, np.arange(pair.max() + 1)) if pair.size else np.zeros(0, dtype=np.int64)
    m, m_2 = pairs["m"].to_numpy()[first_row], pairs["m_2"].to_numpy()[first_row]
    factor = common * (1 - 1 / m - 1 / m_2 + common / (m * m_2))
    first = np.array([at.get(k, size) for k in pairs["indicator_id"].to_numpy()[first_row]], dtype=np.int64)
    second = np.array(
        [at.get(k, size) for k in pairs["indicator_id_2"].to_numpy()[first_row]], dtype=np.int64
    )
    cell = first * (size + 1) + second
    cells = (size + 1) ** 2
    summed = np.bincount(cell, weights=products, minlength=cells).reshape(size + 1, size + 1)[:size, :size]
    factors = np.bincount(cell, weights=factor, minlength=cells).reshape(size + 1, size + 1)[:size, :size]
    covariance = np.divide(summed, factors, out=np.zeros_like(summed), where=factors > 0)
    return nearest_psd(covariance)


def pair_concentration(
    kommuner: pl.DataFrame, schools: pl.DataFrame, units: list[str], indicators: list[str]
) -> np.ndarray:
    """H [J, K, K]: Σ over a kommune's schools of (share in indicator k) × (share in indicator l), the
    shares of its pupils averaged over the window's years; the pupils of schools without a published
    count count as one more school in both (the conservative guess). The persistent school effects then
    add H ∘ S to the error of the kommune's persistent level (:func:`school_persistent_covariance`)."""
    keys = ["unit_code", "indicator_id"]
    totals = kommuner.filter(pl.col("n") > 0).select(*keys, "school_year", pl.col("n").alias("total"))
    years = totals.group_by(keys).agg(pl.len().alias("years"))
    shares = (
        schools.filter(pl.col("n").is_not_null() & (pl.col("n") > 0))
        .select(
            pl.col("municipality_code").alias("unit_code"),
            "indicator_id",
            "school_year",
            "n",
            pl.col("unit_code").alias("school"),
        )
        .join(totals, on=[*keys, "school_year"], how="inner")
        .join(years, on=keys, how="inner")
        # Fixed row orders before every sum keep them identical between runs (byte-identical outputs).
        .sort(*keys, "school", "school_year")
        .group_by(*keys, "school", maintain_order=True)
        .agg((pl.col("n") / pl.col("total") / pl.col("years")).sum().alias("share"))
    )
    known = shares.group_by(keys, maintain_order=True).agg(pl.col("share").sum().alias("known"))
    rest = years.join(known, on=keys, how="left").select(
        *keys, pl.lit("").alias("school"), (1 - pl.col("known").fill_null(0.0)).clip(0, 1).alias("share")
    )
    everyone = pl.concat([shares, rest]).filter(pl.col("share") > 0)
    products = (
        everyone.join(everyone, on=["unit_code", "school"], suffix="_2")
        .sort("unit_code", "indicator_id", "indicator_id_2", "school")
        .group_by("unit_code", "indicator_id", "indicator_id_2", maintain_order=True)
        .agg((pl.col("share") * pl.col("share_2")).sum().alias("h"))
    )
    unit_at = {u: i for i, u in enumerate(units)}
    at = {k: i for i, k in enumerate(indicators)}
    concentration = np.zeros((len(units), len(indicators), len(indicators)))
    for unit, first, second, h in products.iter_rows():
        if unit in unit_at and first in at and second in at:
            concentration[unit_at[unit], at[first], at[second]] = h
    return concentration


def with_unmeasured_schools(
    panel: Panel,
    same_pupils: dict[int, int],
    concentration: np.ndarray,
    covariance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """H and S (:func:`pair_concentration`, :func:`school_persistent_covariance`) with a part for each
    indicator whose schools publish nothing (fullført is published per kommune only), where both would
    otherwise say its level owes nothing to the kommune's schools.

    ``same_pupils`` maps such an indicator to the published one measured on the same pupils (the
    configuration's ``same_pupils_as``: fullført's pupils are the tenth graders grunnskolepoeng is
    measured on), whose concentration it takes. Its school variance cannot be measured within kommuner,
    so it is taken from between them: across kommuner the spread of its window mean, less the noise,
    grows with the concentration, E[(ȳ_j − ȳ)² − e_j] = Σ_kk + H_j S_kk, and the least-squares slope (at
    least 0) is S_kk. Its covariances with other indicators' school parts are not measurable and stay 0.
    An unpublished indicator without such a peer is left as it is."""
    concentration, covariance = concentration.copy(), covariance.copy()
    if not same_pupils or len(panel.z) < MIN_UNITS_FOR_COVARIANCE:
        return concentration, covariance
    # The noise model alone: the prior fit() would also estimate is not needed here.
    noise = window_error(panel, fit_noise(panel, full_covariance=True))
    for k, peer in sorted(same_pupils.items()):
        concentration[:, k, :] = concentration[:, :, k] = 0.0
        concentration[:, k, k] = concentration[:, peer, peer]
        have = panel.years_observed[:, k] > 0
        shares = concentration[have, k, k]
        if shares.std() <= 0:
            continue
        level = panel.window_mean[have, k]
        spread = (level - level.mean()) ** 2 - noise[have, k, k]
        slope = np.linalg.lstsq(np.column_stack([np.ones(shares.size), shares]), spread)[0][1]
        covariance[k, :] = covariance[:, k] = 0.0
        covariance[k, k] = max(float(slope), 0.0)
    return concentration, covariance


def same_pupils(config: Config, indicators: list[str], school_values: pl.DataFrame) -> dict[int, int]:
    """Per indicator no school publishes (by position in ``indicators``): the published indicator its
    configuration says is measured on the same pupils (``same_pupils_as``), where the data have both."""
    published = set(school_values.filter(pl.col("value").is_not_null())["indicator_id"].unique().to_list())
    at = {k: i for i, k in enumerate(indicators)}
    return {
        at[i.id]: at[i.same_pupils_as]
        for i in config.indicators
        if i.id in at and i.id not in published and i.same_pupils_as in published and i.same_pupils_as in at
    }


@dataclass(frozen=True)
class _Arrays:
    panel: Panel
    units: list[str]
    indicators: list[str]
    areas: list[str]  # per indicator


def _arrays(yearly: pl.DataFrame, concentration: pl.DataFrame) -> _Arrays:
    units = sorted(yearly["unit_code"].unique().to_list())
    catalogue = yearly.select("indicator_id", "area").unique().sort("indicator_id")
    indicators, areas = catalogue["indicator_id"].to_list(), catalogue["area"].to_list()
    years = sorted(yearly["school_year"].unique().to_list())
    shape = (len(units), len(indicators), len(years))
    z = np.full(shape, np.nan)
    sd = np.full(shape, np.nan)
    unit_at = {u: i for i, u in enumerate(units)}
    indicator_at = {k: i for i, k in enumerate(indicators)}
    year_at = {t: i for i, t in enumerate(years)}
    for unit, indicator, year, score, variance in yearly.select(
        "unit_code", "indicator_id", "school_year", "z", "sampling_var"
    ).iter_rows():
        position = unit_at[unit], indicator_at[indicator], year_at[year]
        z[position] = score
        sd[position] = np.sqrt(variance)
    shares = dict(concentration.iter_rows())
    concentrations = np.array([shares.get(u, 0.0) or 0.0 for u in units])
    return _Arrays(Panel(z, sd, concentrations), units, indicators, areas)


def composite_weights(areas: list[str], covariance: np.ndarray, area_weights: dict[str, float]) -> np.ndarray:
    """Weights w with composite = wᵀη: indicators on their between-kommune SD, averaged within an area,
    each area scaled to unit between-kommune SD, areas weighted; an area without signal gets 0."""
    indicator_sd = np.sqrt(np.clip(np.diag(covariance), 1e-12, None))
    weights = np.zeros(len(areas))
    total = 0.0
    for area in AREAS:
        members = np.array([a == area for a in areas])
        if not members.any() or area_weights.get(area, 0.0) <= 0:
            continue
        within = np.where(members, 1 / (members.sum() * indicator_sd), 0.0)
        spread = float(np.sqrt(within @ covariance @ within))
        if spread <= 1e-9:
            continue
        weights += area_weights[area] * within / spread
        total += area_weights[area]
    return weights / total if total else weights


def _raw_composite(
    arrays: _Arrays, error: np.ndarray, area_weights: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: indicators averaged within the areas it has, areas weighted over those; error variance."""
    has = arrays.panel.years_observed > 0
    weights = np.zeros(has.shape)
    for area in AREAS:
        members = np.array([a == area for a in arrays.areas])[None, :] & has
        count = members.sum(axis=1, keepdims=True)
        weights += np.where(members, area_weights.get(area, 0.0) / np.maximum(count, 1), 0.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    observed_error = np.where(has[:, :, None] & has[:, None, :], error, 0.0)
    mean = (weights * arrays.panel.window_mean).sum(axis=1)
    variance = np.einsum("jk,jkl,jl->j", weights, observed_error, weights)
    return mean, variance


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if b < total % parts else 0) for b in range(parts)]


@dataclass(frozen=True)
class FittedPosterior:
    """The model fitted to one window of scores: what every choice of area weights shares. The
    sensitivity's weight variants score from it instead of fitting and bootstrapping again."""

    arrays: _Arrays
    yearly: pl.DataFrame
    fitted: Fit
    error: np.ndarray  # [unit, indicator, indicator] the window mean's error covariance
    replicates: list[tuple[np.ndarray, np.ndarray]]  # per bootstrap fit: posterior mean [J,K], cov [J,K,K]


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent random streams for the bootstrap and for the draws, so that scoring the same fitted
    posterior twice (the baseline and a weight variant) uses the same draws."""
    bootstrap, draws = np.random.SeedSequence(seed).spawn(2)
    return np.random.Generator(np.random.PCG64(bootstrap)), np.random.Generator(np.random.PCG64(draws))


def fit_posterior(
    values: pl.DataFrame, config: Config, school_values: pl.DataFrame | None = None, bootstrap: bool = True
) -> FittedPosterior | None:
    """Standardise one owner's values, fit the model and, with ``bootstrap``, the posterior under each
    bootstrap re-estimate. None when there are no usable scores."""
    yearly = standardise(values)
    if yearly.is_empty():
        return None
    arrays = _arrays(yearly, school_concentration(values, school_values))
    if school_values is not None and not school_values.is_empty():
        # The schools' persistent effects vary a kommune's level by H_j ∘ S: more where few schools hold
        # its pupils. Part of its quality by default, and then of its prior's spread (a one-school kommune
        # can be far from the others, a city hardly); error of its level under "kommune_only".
        as_error = config.holistic.estimand == "kommune_only"
        concentration = pair_concentration(values, school_values, arrays.units, arrays.indicators)
        covariance = school_persistent_covariance(values, school_values, arrays.indicators)
        if as_error:
            # Only as error: there a school variance taken too large makes a kommune less sure, where in
            # the prior it would shrink few-school kommuner less (the README has both measured).
            concentration, covariance = with_unmeasured_schools(
                arrays.panel, same_pupils(config, arrays.indicators, school_values), concentration, covariance
            )
        part = "persistent_error" if as_error else "persistent_prior"
        arrays = replace(arrays, panel=replace(arrays.panel, **{part: concentration * covariance}))
    panel = arrays.panel
    fitted = fit(panel)
    replicates = []
    if bootstrap:
        rng, _ = _streams(config.holistic.seed)
        fits = bootstrap_fits(panel, fitted, config.holistic.bootstraps, rng)
        replicates = [posterior(panel.window_mean, window_error(panel, f.noise), f.prior) for f in fits]
    return FittedPosterior(arrays, yearly, fitted, window_error(panel, fitted.noise), replicates)


def holistic_scores(
    values: pl.DataFrame,
    config: Config,
    shrinkage: bool | None = None,
    school_values: pl.DataFrame | None = None,
) -> HolisticResult:
    """The holistic method on one owner's indicator values (kommune or fylkeskommune level)."""
    shrink = config.holistic.shrinkage if shrinkage is None else shrinkage
    fitted = fit_posterior(values, config, school_values, bootstrap=shrink)
    return scores_from(fitted, config, shrink)


def scores_from(fitted_posterior: FittedPosterior | None, config: Config, shrinkage: bool) -> HolisticResult:
    """Scores, ranks and tiers from a fitted posterior, with the configuration's area weights and tiers."""
    if fitted_posterior is None:
        return HolisticResult(
            pl.DataFrame(schema=SCORE_SCHEMA),
            pl.DataFrame(schema=INDICATOR_SCORE_SCHEMA),
            pl.DataFrame(),
            0,
        )
    settings = config.holistic
    arrays, error = fitted_posterior.arrays, fitted_posterior.error
    panel = arrays.panel
    _, rng = _streams(settings.seed)
    prior = fitted_posterior.fitted.prior
    weights = composite_weights(arrays.areas, prior.between, settings.area_weights)
    raw, raw_var = _raw_composite(arrays, error, settings.area_weights)

    if shrinkage:
        if not fitted_posterior.replicates:
            raise ValueError("shrinkage needs a posterior fitted with its bootstrap")
        counts = _split(settings.draws, len(fitted_posterior.replicates))
        centres, spreads, draws = [], [], []
        for (mean, covariance), count in zip(fitted_posterior.replicates, counts, strict=True):
            # Around the prior mean (the average kommune): the same shift for every kommune.
            centre = (mean - prior.mean) @ weights
            spread = np.sqrt(np.clip(np.einsum("k,jkl,l->j", weights, covariance, weights), 0, None))
            draws.append(centre + spread * rng.standard_normal((count, centre.size)))
            centres.append(centre)
            spreads.append(spread)
        all_draws = np.vstack(draws)
        # The mixture's moments, exactly (not from the draws), weighted by each replicate's draws.
        share = np.array(counts, dtype=np.float64)[:, None] / settings.draws
        composite = (share * np.array(centres)).sum(axis=0)
        composite_var = (share * (np.array(spreads) ** 2 + np.array(centres) ** 2)).sum(axis=0) - composite**2
        means = np.array([mean for mean, _ in fitted_posterior.replicates])
        variances = np.array([np.diagonal(cov, axis1=1, axis2=2) for _, cov in fitted_posterior.replicates])
        indicator_mean = np.einsum("b,bjk->jk", share[:, 0], means)
        indicator_var = np.einsum("b,bjk->jk", share[:, 0], variances + means**2) - indicator_mean**2
    else:
        all_draws = raw + np.sqrt(raw_var) * rng.standard_normal((settings.draws, raw.size))
        composite, composite_var = raw, raw_var
        indicator_mean = panel.window_mean
        indicator_var = np.diagonal(error, axis1=1, axis2=2)

    top_n = min(settings.top_n, len(arrays.units))
    statements = rank_statements(all_draws, arrays.units, top_n, estimate=None if shrinkage else raw)
    has = panel.years_observed > 0
    tier = np.where(
        statements.p_top_n >= settings.candidate_probability,
        CLEAR_CANDIDATE,
        np.where(statements.p_top_n < settings.not_candidate_probability, CLEARLY_NOT, BORDERLINE),
    )
    area_names = np.array(arrays.areas)
    scores = pl.DataFrame(
        {
            "unit_code": arrays.units,
            "composite": composite,
            "composite_var": composite_var,
            "raw_composite": raw,
            "areas": [", ".join(sorted(set(area_names[row]))) for row in has],
            "holistic_rank": statements.point_rank,
            "p_top_n": statements.p_top_n,
            "expected_rank": statements.expected_rank,
            "rank_low": statements.rank_low,
            "rank_high": statements.rank_high,
            "sure_candidate": statements.sure_candidate,
            "sure_not_candidate": statements.sure_not_candidate,
            "tier": tier.astype(str),
        },
        schema=SCORE_SCHEMA,
    ).sort("holistic_rank")
    return HolisticResult(
        scores=scores,
        indicator_scores=_indicator_scores(arrays, fitted_posterior.yearly, indicator_mean, indicator_var),
        model=_model_table(arrays, fitted_posterior.fitted, weights),
        intervals_widened=statements.widened,
    )


def _indicator_scores(
    arrays: _Arrays, yearly: pl.DataFrame, mean: np.ndarray, variance: np.ndarray
) -> pl.DataFrame:
    """Per unit and indicator it has figures for: the posterior score (its own shrinkage) and the years."""
    counts = yearly.group_by("unit_code", "indicator_id").agg(
        pl.len().cast(pl.Int64).alias("years"), (pl.col("z") > 0).sum().cast(pl.Int64).alias("years_worse")
    )
    units, indicators = np.nonzero(arrays.panel.years_observed > 0)
    frame = pl.DataFrame(
        {
            "unit_code": [arrays.units[u] for u in units],
            "indicator_id": [arrays.indicators[k] for k in indicators],
            "area": [arrays.areas[k] for k in indicators],
            "score": mean[units, indicators],
            "score_var": variance[units, indicators],
        }
    )
    return (
        frame.join(counts, on=["unit_code", "indicator_id"], how="left")
        .select(list(INDICATOR_SCORE_SCHEMA))
        .cast(INDICATOR_SCORE_SCHEMA)
        .sort("unit_code", "indicator_id")
    )


def _model_table(arrays: _Arrays, fitted: Fit, weights: np.ndarray) -> pl.DataFrame:
    """The fitted parameters per indicator, in score units (SD of kommune values)."""
    noise, prior = fitted.noise, fitted.prior
    between = np.diag(prior.between)
    transient = np.diag(noise.transient)
    return pl.DataFrame(
        {
            "indicator_id": arrays.indicators,
            "area": arrays.areas,
            "prior_mean": prior.mean,
            "between_sd": np.sqrt(between),
            "transient_sd": np.sqrt(transient),
            "school_year_sd": np.sqrt(np.diag(noise.school_year)),
            # Persistent against kommune-wide transient variance (school-year and sampling noise aside).
            "persistent_share": between / np.maximum(between + transient, 1e-12),
            "composite_weight": weights,
        }
    )
