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
did the same mean, with the variance of that linear combination of independent kommuner' changes, which
counts a comparison kommune matched to many as often as it is used (:func:`matched_interval`); for rd the
CR2 (Bell–McCaffrey) cluster-robust standard error, by kommune, of the two-stage least squares estimate,
t with Bell and McCaffrey's degrees of freedom (:func:`cluster_robust_cr2`). With fewer than
``minimum_units`` kommuner (on either side) an estimate is ``for lite data``: no number.
"""

from __future__ import annotations

import math
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
    offset = (start_of(pl.col("school_year")) - start_of(pl.col("first_school_year"))).alias("offset")
    timed = (
        units.join(scores.rename({"unit_code": "municipality_code"}), on="municipality_code")
        .with_columns(offset)
        .with_columns(
            pl.when(pl.col("offset").is_between(-followup.pre_years, -1))
            .then(pl.lit("pre"))
            .when(
                pl.col("offset").is_between(
                    scheme.forfase_years, scheme.forfase_years + followup.post_years - 1
                )
            )
            .then(pl.lit("post"))
            .alias("phase")
        )
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


def pre_levels(rows: pl.DataFrame) -> pl.DataFrame:
    """Per cohort list and kommune its pre-mean in every area (``pre_<area>``): what the matching compares."""
    return (
        rows.select("first_school_year", "municipality_code", pl.format("pre_{}", "area").alias("key"), "pre")
        .pivot(on="key", index=["first_school_year", "municipality_code"], values="pre", sort_columns=True)
        .sort("first_school_year", "municipality_code")
    )


def matched_units(rows: pl.DataFrame, matches: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per kommune in the scheme (one cohort, one area; ``rows`` joined with :func:`pre_levels`): its
    change minus the mean change of its ``matches`` nearest comparison kommuner (``effect``); and the
    links from each to its matches, with the match's ``residual``: its change minus the mean change of
    every match in the sets it belongs to (what :func:`matched_interval` needs)."""
    levels = sorted(c for c in rows.columns if c.startswith("pre_") and rows[c].dtype == pl.Float64)
    covariates = [c for c in levels if rows[c].drop_nulls().len() > 0] + ["log_pupils"]
    usable = (
        rows.filter(pl.col("change").is_not_null() & (pl.col("pupils") > 0))
        .with_columns(pl.col("pupils").log().alias("log_pupils"))
        .drop_nulls(covariates)
    )
    treated = usable.filter("treated").sort("municipality_code")
    pool = usable.filter("comparison").sort("municipality_code")
    effects = pl.DataFrame(schema={"first_school_year": pl.String, "municipality_code": pl.String,
                                   "effect": pl.Float64})  # fmt: skip
    links = pl.DataFrame(schema={"first_school_year": pl.String, "municipality_code": pl.String,
                                 "match_code": pl.String, "residual": pl.Float64})  # fmt: skip
    if treated.is_empty() or pool.height < matches:
        return effects, links
    both = pl.concat([treated.select(covariates), pool.select(covariates)]).to_numpy()
    scale = both.std(axis=0, ddof=1)
    scale[scale == 0] = 1.0
    t, c = treated.select(covariates).to_numpy() / scale, pool.select(covariates).to_numpy() / scale
    distance = np.sqrt(((t[:, None, :] - c[None, :, :]) ** 2).sum(axis=2))
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :matches]
    pool_change = pool["change"].to_numpy()
    local_mean = np.zeros(pool.height)
    for j in np.unique(nearest):
        local_mean[j] = pool_change[nearest[(nearest == j).any(axis=1)]].mean()
    cohort = treated["first_school_year"][0]
    return (
        treated.select("first_school_year", "municipality_code").with_columns(
            pl.Series("effect", treated["change"].to_numpy() - pool_change[nearest].mean(axis=1))
        ),
        pl.DataFrame(
            {
                "first_school_year": cohort,
                "municipality_code": np.repeat(treated["municipality_code"].to_numpy(), matches),
                "match_code": pool["municipality_code"].to_numpy()[nearest.ravel()],
                "residual": (pool_change - local_mean)[nearest.ravel()],
            },
            schema=links.schema,
        ),
    )


def matched_interval(
    effects: pl.DataFrame, links: pl.DataFrame, confidence: float
) -> tuple[float, float, float]:
    """The mean over kommuner of their (cohort-mean) effects, and its t interval from the variance of that
    linear combination of independent kommuner' changes: each kommune in the scheme enters with its
    deviation from the mean, each comparison kommune with its residual times the weight it got, summed
    over every time it was matched (a match shared by many kommuner counts as much as it weighs), CR1."""
    # Groups in a fixed order: a float sum in the order groups happen to come differs in its last bits.
    per = (
        effects.group_by("municipality_code")
        .agg(pl.col("effect").mean(), pl.len().alias("cohorts"))
        .sort("municipality_code")
    )
    n, values = per.height, per["effect"].to_numpy()
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    weight = 1 / (n * pl.col("cohorts") * pl.len().over("first_school_year", "municipality_code"))
    terms = pl.concat(
        [
            per.select("municipality_code", ((pl.col("effect") - mean) / n).alias("term")),
            links.join(per.select("municipality_code", "cohorts"), on="municipality_code").select(
                pl.col("match_code").alias("municipality_code"), (-weight * pl.col("residual")).alias("term")
            ),
        ]
    )
    sums = (
        terms.group_by("municipality_code", maintain_order=True)
        .agg(pl.col("term").sum())
        .sort("municipality_code")["term"]
        .to_numpy()
    )
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


def follow_up_estimates(rows: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The three estimates per cohort and area, and pooled over cohorts (``first_school_year`` =
    ``alle``), from :func:`panel` rows."""
    followup = config.followup
    confidence, minimum = followup.confidence, followup.minimum_units
    rows = rows.join(pre_levels(rows), on=["first_school_year", "municipality_code"], how="left")
    out = []
    groups = sorted(set(rows.select("first_school_year", "area").iter_rows()))
    for area in sorted({a for _, a in groups}):
        cohorts = [c for c, a in groups if a == area]
        for cohort in [*cohorts, POOLED]:
            part = rows.filter(pl.col("area") == area)
            if cohort != POOLED:
                part = part.filter(pl.col("first_school_year") == cohort)
            naive = naive_units(part)
            matched = [matched_units(part.filter(pl.col("first_school_year") == c), followup.matches)
                       for c in sorted(set(part["first_school_year"].to_list()))]  # fmt: skip
            effects = pl.concat([m for m, _ in matched]) if matched else naive.clear()
            links = pl.concat([k for _, k in matched]) if matched else pl.DataFrame()
            used = sum(k.select("match_code").n_unique() for _, k in matched if not k.is_empty())
            values = per_kommune(naive)
            enough = values.size >= minimum
            estimate, lower, upper = mean_interval(values, confidence) if enough else (None,) * 3
            out.append((cohort, area, NAIVE, estimate, lower, upper, values.size, 0, 0, _status(enough)))
            treated = effects["municipality_code"].n_unique()
            enough = treated >= minimum and used >= minimum
            estimate, lower, upper = matched_interval(effects, links, confidence) if enough else (None,) * 3
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
