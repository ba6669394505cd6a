"""Did the support help? Three estimates of the effect of Oppfølgingsordningen on a cohort's area scores
(:mod:`pipelines.followup.outcomes`), each with an interval, per cohort, per area and pooled.

A cohort starting in school year ``c`` was listed on the figures of the ``pre_years`` before ``c``; its
change is the mean area score of the ``post_years`` from its gjennomføringsfase (``c + forfase_years``)
minus the mean of the pre-years. Every estimate compares such changes:

- **naive** (før og etter): the mean change of the kommuner in the scheme. Kommuner chosen for weak
  results improve on average even without support (regression to the mean), so this flatters the scheme:
  it is shown only to say so.
- **did** (difference-in-differences): each kommune's change minus the mean change of its ``matches``
  nearest comparison kommuner on the same list, by its pre-level in every area and size (log pupils),
  each standardised; with replacement, ties by kommune number. Kommuner chosen for weak results on every
  area regress as much as comparison kommuner alike on every area; matched on one area's pre-level
  alone, the comparison kommuner (weak there, not elsewhere) regress further up and bias it downwards.
  Each match is corrected for the distance left between it and the kommune in the scheme, by a fit of
  the comparison kommuners' change on every area's and every indicator's pre-mean and size
  (:func:`matched_cohort`): the kommuner in the scheme are the most extreme, their nearest matches
  less so, and the list was made indicator by indicator.
- **rd** (regression discontinuity): the changes of kommuner ranked on either side of the cut-off
  (``category_1_count``) on the list remade by the rule that selected them, a local linear fit on each
  side with a triangular kernel of ``bandwidth`` ranks, and the jump at the cut-off. Fuzzy: a list
  remade from today's harmonised figures is not the list the cohort was chosen from (rounding, reforms,
  figures published later), so some kommuner in the scheme rank below the cut-off and some others above
  it. Leaving them out would select on the outcome's noise; the fuzzy design divides the jump in change
  by the jump in the share in the scheme (:func:`discontinuity`).

Comparison kommuner are those on the cohort's list not in it and with no support from an earlier cohort
overlapping the cohort's span (pre-years to the last post-year). A kommune chosen in a later cohort is
one: a later list is made on this cohort's post-years, so leaving its kommuner out would keep only the
kommuner that improved (on a sample with no effect that put the discontinuity at −0.13); its post-years
end before its own gjennomføringsfase. Intervals, at ``confidence``: for naive a t interval over the
kommuner's (cluster) means, each kommune one unit (a kommune in two cohorts counts once when pooled); for
did the same mean, with the variance of that linear combination of independent kommuner' changes (the
correction included), which counts a comparison kommune matched to many as often as it is used
(:func:`matched_interval`); for rd the
CR2 (Bell–McCaffrey) cluster-robust standard error, by kommune, of the two-stage least squares estimate,
t with Bell and McCaffrey's degrees of freedom (:func:`cluster_robust_cr2`). With fewer than
``minimum_units`` kommuner (on either side) an estimate is ``for lite data``: no number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from pipelines.config import Config
from pipelines.selection.scheme import school_year_from, start_of, support_periods

NAIVE, DID, RD = "naive", "did", "rd"
POOLED = "alle"
OK, TOO_LITTLE = "ok", "for lite data"
# Below this jump in the share in the scheme at the cut-off, the remade list no longer tells who was
# selected: the discontinuity would divide by almost nothing.
MINIMUM_FIRST_STAGE = 0.5
ESTIMATE_SCHEMA = {
    "first_school_year": pl.String,
    "area": pl.String,
    "method": pl.String,
    "estimate": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "treated": pl.UInt32,
    "comparison": pl.UInt32,
    "wrong_side": pl.UInt32,
    "status": pl.String,
}


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile by the Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5; within 0.003 of
    the exact value from 3 degrees of freedom at the 0.95 quantile, 0.01 at 2). ``df`` may be fractional
    (a Satterthwaite approximation's)."""
    z = NormalDist().inv_cdf(p)
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (k + 1) for k, term in enumerate(terms))


OWN_SUPPORT = "own_support_from"


def followed(school_year: pl.Expr) -> pl.Expr:
    """Whether a panel row's kommune is followed in ``school_year`` for that row's cohort: not from its
    own support on (``own_support_from``, a later cohort's gjennomføringsfase). The estimates and the
    Oppfølging page's comparison lines take a kommune's scores by this one rule."""
    return (school_year < pl.col(OWN_SUPPORT)).fill_null(True)


def phase(config: Config) -> pl.Expr:
    """``pre`` for a row's ``school_year`` among the ``pre_years`` before its ``first_school_year``, ``post``
    among the ``post_years`` from the gjennomføringsfase on, else null."""
    followup, forfase = config.followup, config.scheme.forfase_years
    offset = start_of(pl.col("school_year")) - start_of(pl.col("first_school_year"))
    return (
        pl.when(offset.is_between(-followup.pre_years, -1))
        .then(pl.lit("pre"))
        .when(offset.is_between(forfase, forfase + followup.post_years - 1))
        .then(pl.lit("post"))
        .alias("phase")
    )


def panel(
    scores: pl.DataFrame, lists: pl.DataFrame, cohorts: pl.DataFrame, sizes: pl.DataFrame, config: Config
) -> pl.DataFrame:
    """One row per cohort list, kommune and area: ``treated`` (in that cohort), ``comparison`` (may be
    compared), rank and share of risk points on the list, pupils, ``own_support_from`` (:func:`followed`),
    the pre- and post-means of the area score over the years it is followed, their years and ``change``.

    ``scores``: area scores; ``lists``: each cohort's ranked list (``first_school_year``,
    ``municipality_code``, ``rank``, ``risk_share``); ``cohorts``: the scheme's cohorts
    (``municipality_code``, ``first_school_year``); ``sizes``: ``municipality_code``, ``pupils``."""
    followup, scheme = config.followup, config.scheme
    first = start_of(pl.col("first_school_year"))
    spans = (
        lists.select("first_school_year")
        .unique()
        .with_columns(
            school_year_from(first - followup.pre_years).alias("span_first"),
            school_year_from(first + scheme.forfase_years + followup.post_years - 1).alias("span_last"),
        )
    )
    periods = support_periods(cohorts.with_columns(pl.lit("").alias("origin")), scheme)
    others = spans.join(periods.rename({"first_school_year": "support_first"}), how="cross")
    overlapping = (
        others.filter(
            (pl.col("support_first") < pl.col("first_school_year"))
            & (pl.col("last_school_year") >= pl.col("span_first"))
        )
        .select("first_school_year", "municipality_code", pl.lit(True).alias("other_support"))
        .unique()
    )
    # A later cohort was chosen on this cohort's post-years: its kommuner stay in the comparison (left out,
    # only those that improved would be), followed until their own support acts.
    later = (
        others.filter(pl.col("support_first") > pl.col("first_school_year"))
        .group_by("first_school_year", "municipality_code")
        .agg(pl.col("gjennomforing_first_school_year").min().alias(OWN_SUPPORT))
    )
    members = (
        cohorts.select("first_school_year", "municipality_code", pl.lit(True).alias("treated"))
        .unique()
        .join(spans.select("first_school_year"), on="first_school_year", how="semi")
    )
    # A kommune in the scheme that the remade list does not rank (no figures for its old structure's
    # years, say) is still followed: without a rank, so only before and after and matched.
    units = (
        lists.join(members, on=["first_school_year", "municipality_code"], how="full", coalesce=True)
        .join(overlapping, on=["first_school_year", "municipality_code"], how="left")
        .join(sizes, on="municipality_code", how="left")
        .with_columns(pl.col("treated").fill_null(False))
        .with_columns((~pl.col("treated") & pl.col("other_support").is_null()).alias("comparison"))
        .drop("other_support")
        .join(later, on=["first_school_year", "municipality_code"], how="left")
    )
    timed = (
        units.join(scores.rename({"unit_code": "municipality_code"}), on="municipality_code")
        .with_columns(phase(config))
        .filter(pl.col("phase").is_not_null() & followed(pl.col("school_year")))
    )
    means = timed.group_by("first_school_year", "municipality_code", "area").agg(
        pl.col("score").filter(pl.col("phase") == "pre").mean().alias("pre"),
        pl.col("score").filter(pl.col("phase") == "post").mean().alias("post"),
        pl.col("school_year").filter(pl.col("phase") == "pre").sort().alias("pre_years"),
        pl.col("school_year").filter(pl.col("phase") == "post").sort().alias("post_years"),
    )
    return (
        units.join(means, on=["first_school_year", "municipality_code"])
        .with_columns((pl.col("post") - pl.col("pre")).alias("change"))
        .sort("first_school_year", "area", "municipality_code")
    )


def mean_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and t interval of independent values (NaN interval under two)."""
    mean = float(values.mean()) if values.size else math.nan
    if values.size < 2:
        return mean, math.nan, math.nan
    half = (
        t_quantile((1 + confidence) / 2, values.size - 1) * float(values.std(ddof=1)) / math.sqrt(values.size)
    )
    return mean, mean - half, mean + half


def naive_units(rows: pl.DataFrame) -> pl.DataFrame:
    """Per kommune in the scheme with a change: its change (``effect``)."""
    return rows.filter(pl.col("treated") & pl.col("change").is_not_null()).select(
        "first_school_year", "municipality_code", pl.col("change").alias("effect")
    )


BASELINE_SCHEMA = pl.Schema(
    {
        "first_school_year": pl.String,
        "municipality_code": pl.String,
        "area": pl.String,
        "indicator_id": pl.String,
        "pre": pl.Float64,
    }
)


def baselines(scores: pl.DataFrame, rows: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Per cohort list and kommune in :func:`panel` ``rows``, per indicator: the mean of its indicator score
    (:func:`pipelines.followup.outcomes.indicator_scores`) over the cohort's pre-years. What the list was
    made on, indicator by indicator: the did's regression adjustment takes it (:func:`matched_cohort`)."""
    pairs = rows.select("first_school_year", "municipality_code").unique()
    return (
        pairs.join(scores.rename({"unit_code": "municipality_code"}), on="municipality_code")
        .filter(phase(config) == "pre")
        .sort("first_school_year", "municipality_code", "indicator_id", "school_year")
        .group_by("first_school_year", "municipality_code", "area", "indicator_id", maintain_order=True)
        .agg(pl.col("score").mean().alias("pre"))
        .cast(BASELINE_SCHEMA)
        .select(list(BASELINE_SCHEMA))
    )


def with_area_levels(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with each kommune's pre-mean in every area (``pre_<area>``): what the matching compares."""
    keys = ["first_school_year", "municipality_code"]
    areas = rows.select(*keys, pl.format("pre_{}", "area").alias("key"), "pre").pivot(
        on="key", index=keys, values="pre", sort_columns=True
    )
    return rows.join(areas, on=keys, how="left")


def with_levels(rows: pl.DataFrame, baseline: pl.DataFrame) -> pl.DataFrame:
    """:func:`with_area_levels`, and each kommune's pre-mean in every indicator of ``baseline``
    (``baseline_<area>|<indicator>``; the area's pre-mean where the indicator has none): what the
    regression adjustment takes."""
    keys = ["first_school_year", "municipality_code"]
    out = with_area_levels(rows)
    if baseline.is_empty():
        return out
    indicators = baseline.select(
        *keys, pl.format("baseline_{}|{}", "area", "indicator_id").alias("key"), "pre"
    ).pivot(on="key", index=keys, values="pre", sort_columns=True)
    area_of = {name: f"pre_{name.removeprefix('baseline_').split('|')[0]}" for name in indicators.columns[2:]}
    filled = [pl.col(name).fill_null(pl.col(area)) for name, area in area_of.items() if area in out.columns]
    return out.join(indicators, on=keys, how="left").with_columns(filled)


def _present(rows: pl.DataFrame, prefix: str) -> list[str]:
    return sorted(
        c for c in rows.columns
        if c.startswith(prefix) and rows[c].dtype == pl.Float64 and rows[c].drop_nulls().len() > 0
    )  # fmt: skip


def nearest_matches(rows: pl.DataFrame, matches: int) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray] | None:
    """One cohort and area (``rows`` :func:`with_levels`): the kommuner in the scheme and the comparison
    kommuner with a change and every matching variable, and per kommune in the scheme the indices of its
    ``matches`` nearest comparison kommuner by its pre-level in every area and size (log pupils), each
    standardised; with replacement, ties by kommune number. None with no kommune in the scheme or too
    few to compare with."""
    covariates = [*_present(rows, "pre_"), "log_pupils"]
    usable = (
        rows.filter(pl.col("change").is_not_null() & (pl.col("pupils") > 0))
        .with_columns(pl.col("pupils").log().alias("log_pupils"))
        .drop_nulls(covariates)
    )
    treated = usable.filter("treated").sort("municipality_code")
    pool = usable.filter("comparison").sort("municipality_code")
    if treated.is_empty() or pool.height < matches:
        return None
    both = pl.concat([treated.select(covariates), pool.select(covariates)]).to_numpy()
    scale = both.std(axis=0, ddof=1)
    scale[scale == 0] = 1.0
    t, c = treated.select(covariates).to_numpy() / scale, pool.select(covariates).to_numpy() / scale
    distance = np.sqrt(((t[:, None, :] - c[None, :, :]) ** 2).sum(axis=2))
    return treated, pool, np.argsort(distance, axis=1, kind="stable")[:, :matches]


def matched_links(rows: pl.DataFrame, matches: int) -> pl.DataFrame:
    """Per kommune in the scheme (one cohort and area, ``rows`` :func:`with_levels`): its matches
    (``match_code``), as :func:`nearest_matches` finds them."""
    schema = {"first_school_year": pl.String, "municipality_code": pl.String, "match_code": pl.String}
    found = nearest_matches(rows, matches)
    if found is None:
        return pl.DataFrame(schema=schema)
    treated, pool, nearest = found
    return pl.DataFrame(
        {
            "first_school_year": treated["first_school_year"][0],
            "municipality_code": np.repeat(treated["municipality_code"].to_numpy(), matches),
            "match_code": pool["municipality_code"].to_numpy()[nearest.ravel()],
        },
        schema=schema,
    )


# Comparison kommuner per coefficient the regression adjustment needs, or it takes fewer variables.
PER_COEFFICIENT = 5


@dataclass(frozen=True)
class MatchedCohort:
    """One cohort and area's matched difference-in-differences, bias-corrected, as a linear combination
    of the kommuner's changes: kommune ``i`` in the scheme has ``effect[i] = change[i] − weights[i] ·
    comparison changes``."""

    treated: list[str]
    effects: np.ndarray
    # Each kommune in the scheme: its change minus the comparison fit at its own levels.
    own_residuals: np.ndarray
    comparison: list[str]
    weights: np.ndarray
    # Each comparison kommune: its residual from the fit, scaled by 1/√(1 − leverage) (HC2).
    residuals: np.ndarray
    matched: int


def matched_cohort(rows: pl.DataFrame, matches: int) -> MatchedCohort | None:
    """Each kommune in the scheme's change minus the mean change of its ``matches`` nearest comparison
    kommuner (:func:`nearest_matches`), each match corrected for how far it lies from the kommune in the
    scheme (Abadie and Imbens 2011, JBES 29(1)): by a least-squares fit of the comparison kommuners'
    change on the pre-level of every area, size and every indicator's pre-mean (``baseline_``).

    Why every indicator: the list was made indicator by indicator, so kommuner in the scheme are weak on
    the indicators that gave risk points, and regress up on those more than a comparison kommune with
    the same area means. Where the comparison kommuner are fewer than ``PER_COEFFICIENT`` per
    coefficient the fit takes the area pre-levels and size alone, and with fewer still it corrects
    nothing."""
    found = nearest_matches(rows, matches)
    if found is None:
        return None
    treated, pool, nearest = found
    levels = [*_present(rows, "pre_"), "log_pupils"]
    covariates = next(
        (
            c for c in ([*levels, *_present(rows, "baseline_")], levels)
            if pool.height >= PER_COEFFICIENT * (len(c) + 1)
            and not any(frame.select(c).null_count().sum_horizontal().item() for frame in (treated, pool))
        ),
        [],
    )  # fmt: skip
    x_pool, x_treated = (
        np.column_stack([np.ones(frame.height), *frame.select(covariates).to_numpy().T])
        for frame in (pool, treated)
    )
    change_pool, change_treated = pool["change"].to_numpy(), treated["change"].to_numpy()
    inverse = np.linalg.pinv(x_pool.T @ x_pool)
    beta = inverse @ x_pool.T @ change_pool
    chosen = np.zeros((treated.height, pool.height))
    np.put_along_axis(chosen, nearest, 1.0 / matches, axis=1)
    # The correction β̂′(x_i − x̄_matches) is itself linear in the comparison kommuners' changes.
    weights = chosen + (x_treated - chosen @ x_pool) @ inverse @ x_pool.T
    leverage = np.einsum("ij,jk,ik->i", x_pool, inverse, x_pool)
    residual = change_pool - x_pool @ beta
    # A comparison kommune the fit passes through (leverage 1) has no residual to tell its spread.
    room = 1 - leverage
    return MatchedCohort(
        treated=treated["municipality_code"].to_list(),
        effects=change_treated - weights @ change_pool,
        own_residuals=change_treated - x_treated @ beta,
        comparison=pool["municipality_code"].to_list(),
        weights=weights,
        residuals=np.where(room > 1e-9, residual / np.sqrt(np.where(room > 1e-9, room, 1.0)), 0.0),
        matched=len(np.unique(nearest)),
    )


def matched_interval(parts: list[MatchedCohort], confidence: float) -> tuple[float, float, float]:
    """The mean over kommuner in the scheme of their (cohort-mean) effects, and its t interval from the
    variance of that linear combination of independent kommuner' changes, clustered by kommune over
    cohorts (CR1): each kommune in the scheme enters with its weight times its residual from the
    comparison fit about its cohort's weighted mean (its own noise and how its effect differs), each
    comparison kommune with its weight times its residual, summed over every kommune in the scheme
    that used it (a match shared by many counts as much as it weighs)."""
    cohorts: dict[str, int] = {}
    for part in parts:
        for code in part.treated:
            cohorts[code] = cohorts.get(code, 0) + 1
    n = len(cohorts)
    if n == 0:
        return math.nan, math.nan, math.nan
    terms: dict[str, float] = {}
    mean = 0.0
    for part in parts:
        share = np.array([1 / (n * cohorts[code]) for code in part.treated])
        mean += float(share @ part.effects)
        centred = part.own_residuals - float(share @ part.own_residuals) / float(share.sum())
        for code, term in zip(part.treated, share * centred, strict=True):
            terms[code] = terms.get(code, 0.0) + float(term)
        for code, term in zip(part.comparison, -(share @ part.weights) * part.residuals, strict=True):
            terms[code] = terms.get(code, 0.0) + float(term)
    if n < 2:
        return mean, math.nan, math.nan
    # Kommuner in a fixed order: a float sum in the order they happen to come differs in its last bits.
    sums = np.array([terms[code] for code in sorted(terms)])
    g = sums.size
    half = t_quantile((1 + confidence) / 2, n - 1) * math.sqrt(g / (g - 1) * float((sums**2).sum()))
    return mean, mean - half, mean + half


def per_kommune(units: pl.DataFrame) -> np.ndarray:
    """One value per kommune (its mean over cohorts): the units of an interval."""
    return (
        units.group_by("municipality_code")
        .agg(pl.col("effect").mean())
        .sort("municipality_code")["effect"]
        .to_numpy()
    )


def discontinuity(rows: pl.DataFrame, cutoff: int, bandwidth: int) -> dict[str, float | int]:
    """The effect at the cut-off, fuzzy: the jump in ``change`` at the cut-off divided by the jump in the
    share in the scheme, from local linear fits (triangular kernel) on the rank on each side, on rows of
    one or several lists (a level per list); cluster-robust by kommune.

    As two-stage least squares: ``treated`` instrumented by being above the cut-off (rank ≤ cutoff),
    with the rank on each side as exogenous terms. Where every kommune is on its own side this is the
    sharp jump; where the remade list puts some on the wrong side (in the scheme from below the cut-off,
    or not in it from above), they are used, not left out, and weaken the first stage instead. Returns
    the effect, its standard error and degrees of freedom (:func:`cluster_robust_cr2`), the first
    stage's jump, clusters, kommuner on each side and those on the wrong side."""
    near = (
        rows.filter(
            pl.col("change").is_not_null()
            & pl.col("rank").is_not_null()
            & (pl.col("treated") | pl.col("comparison"))
        )
        .with_columns((pl.col("rank").cast(pl.Float64) - cutoff - 0.5).alias("x"))
        .filter(pl.col("x").abs() < bandwidth)
        .sort("first_school_year", "municipality_code")
    )
    wrong_side = near.filter(pl.col("treated") != (pl.col("x") < 0)).height
    inside, outside = near.filter(pl.col("x") < 0).height, near.filter(pl.col("x") > 0).height
    result: dict[str, float | int] = {"inside": inside, "outside": outside, "wrong_side": wrong_side}
    lists = sorted(set(near["first_school_year"].to_list()))
    if inside < 2 or outside < 2:
        return result | {"jump": math.nan, "se": math.nan, "df": math.nan, "first_stage": math.nan,
                         "clusters": 0}  # fmt: skip
    x = near["x"].to_numpy()
    d = (x < 0).astype(np.float64)
    treated = near["treated"].cast(pl.Float64).to_numpy()
    levels = [(near["first_school_year"] == name).cast(pl.Float64).to_numpy() for name in lists]
    # Weighted least squares as ordinary least squares on rows times the square root of their weight.
    root = np.sqrt(1 - np.abs(x) / bandwidth)
    instruments = np.column_stack([d, x, d * x, *levels]) * root[:, None]
    regressors = np.column_stack([treated, x, d * x, *levels]) * root[:, None]
    y = near["change"].to_numpy() * root
    first_stage = np.linalg.lstsq(instruments, treated * root)[0][0]
    if abs(first_stage) < MINIMUM_FIRST_STAGE:
        nothing = {"jump": math.nan, "se": math.nan, "df": math.nan, "clusters": 0}
        return result | nothing | {"first_stage": float(first_stage)}
    beta = np.linalg.pinv(instruments.T @ regressors) @ (instruments.T @ y)
    clusters = near["municipality_code"].to_numpy()
    se, df = cluster_robust_cr2(instruments, regressors, y - regressors @ beta, clusters)
    return result | {
        "jump": float(beta[0]),
        "se": se,
        "df": df,
        "first_stage": float(first_stage),
        "clusters": len(np.unique(clusters)),
    }


def _inverse_root(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (symmetric, positive semi-definite) to the power −1/2, on its non-null eigenvalues."""
    values, vectors = np.linalg.eigh(matrix)
    kept = values > 1e-12
    powered = np.zeros_like(values)
    powered[kept] = values[kept] ** -0.5
    return (vectors * powered) @ vectors.T


def cluster_robust_cr2(
    instruments: np.ndarray, regressors: np.ndarray, residuals: np.ndarray, clusters: np.ndarray
) -> tuple[float, float]:
    """The CR2 (Bell–McCaffrey) cluster-robust standard error of the first coefficient of a
    just-identified instrumental-variables fit, and its degrees of freedom; arrays already weighted (rows
    times the square root of their weight), ``residuals`` those of the structural equation.

    Each cluster's residuals are scaled by ``(I − H_gg)^(−1/2)``, ``H`` the hat matrix of the second
    stage (the projection on the instruments): with few clusters, and some of them far from the others
    in the regressors, CR1's residuals are too small where a cluster pulls the fit towards itself (Bell
    and McCaffrey 2002, Survey Methodology 28(2); Pustejovsky and Tipton 2018, JBES 36(4), whose R
    package clubSandwich likewise takes the second stage's hat matrix for ``ivreg``). The kernel weights
    enter through the weighted rows, so ``H`` is symmetric. The degrees of freedom are Bell and
    McCaffrey's Satterthwaite approximation for that coefficient under independent errors of equal
    variance in the weighted rows, as Imbens and Kolesár (2016, REStat 98(4), their K_BM) recommend:
    ``(Σλ)² / Σλ²``, ``λ`` the eigenvalues of ``G′G``, whose column ``g`` is ``(I − H)`` restricted to
    cluster ``g``'s columns times that cluster's adjusted weights. Fewer than the clusters, and fewest
    where a few clusters carry the coefficient, as the kommuner nearest the cut-off do under a
    triangular kernel."""
    bread = np.linalg.pinv(instruments.T @ regressors)
    hat = instruments @ np.linalg.pinv(instruments.T @ instruments) @ instruments.T
    residual_maker = np.eye(len(residuals)) - hat
    # The first coefficient's error is a linear combination of the rows' errors, with these weights.
    contrast = instruments @ bread[0]
    terms, columns = [], []
    for name in np.unique(clusters):
        rows = np.flatnonzero(clusters == name)
        adjusted = _inverse_root(residual_maker[np.ix_(rows, rows)]) @ contrast[rows]
        terms.append(float(adjusted @ residuals[rows]))
        columns.append(residual_maker[:, rows] @ adjusted)
    spread = np.column_stack(columns).T @ np.column_stack(columns)
    df = float(np.trace(spread) ** 2 / (spread**2).sum())
    return math.sqrt(float(np.square(terms).sum())), df


def _status(enough: bool) -> str:
    return OK if enough else TOO_LITTLE


def follow_up_estimates(rows: pl.DataFrame, baseline: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The three estimates per cohort and area, and pooled over cohorts (``first_school_year`` =
    ``alle``), from :func:`panel` rows and their indicators' pre-means (:func:`baselines`)."""
    followup = config.followup
    confidence, minimum = followup.confidence, followup.minimum_units
    rows = with_levels(rows, baseline)
    out = []
    groups = sorted(set(rows.select("first_school_year", "area").iter_rows()))
    matched = {
        (cohort, area): matched_cohort(
            rows.filter((pl.col("first_school_year") == cohort) & (pl.col("area") == area)), followup.matches
        )
        for cohort, area in groups
    }
    for area in sorted({a for _, a in groups}):
        cohorts = [c for c, a in groups if a == area]
        for cohort in [*cohorts, POOLED]:
            part = rows.filter(pl.col("area") == area)
            if cohort != POOLED:
                part = part.filter(pl.col("first_school_year") == cohort)
            naive = naive_units(part)
            parts = [m for c in (cohorts if cohort == POOLED else [cohort]) if (m := matched[c, area])]
            values = per_kommune(naive)
            enough = values.size >= minimum
            estimate, lower, upper = mean_interval(values, confidence) if enough else (None,) * 3
            out.append((cohort, area, NAIVE, estimate, lower, upper, values.size, 0, 0, _status(enough)))
            treated = len({code for m in parts for code in m.treated})
            used = sum(m.matched for m in parts)
            enough = treated >= minimum and used >= minimum
            estimate, lower, upper = matched_interval(parts, confidence) if enough else (None,) * 3
            out.append((cohort, area, DID, estimate, lower, upper, treated, used, 0, _status(enough)))
            jump = discontinuity(part, config.selection.category_1_count, followup.bandwidth)
            enough = min(jump["inside"], jump["outside"]) >= minimum and jump["clusters"] > 1
            if enough:
                half = t_quantile((1 + confidence) / 2, jump["df"]) * jump["se"]
                estimate, lower, upper = jump["jump"], jump["jump"] - half, jump["jump"] + half
            else:
                estimate = lower = upper = None
            counts = (int(jump["inside"]), int(jump["outside"]), int(jump["wrong_side"]))
            out.append((cohort, area, RD, estimate, lower, upper, *counts, _status(enough)))
    return pl.DataFrame(out, schema=ESTIMATE_SCHEMA, orient="row")
