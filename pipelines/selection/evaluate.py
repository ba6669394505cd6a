"""Score selection methods against known truth (a synthetic sample's ``truth.csv``).

The truth: ``true_risk`` per kommune, higher is weaker; the true rank 1 is the weakest, and the truly
weakest N (N = ``holistic.top_n``) are what every method tries to find. The methods:

- ``holistic``: the run's ``rank_uncertainty`` table (point rank, ``p_top_n``, 90 % rank interval, tier
  and, when the model gives them, the joint set statements ``sure_candidate`` / ``sure_not_candidate``);
- ``raw``: the composite without shrinkage, listed by its value (a point ranking: its probabilities are
  0 or 1);
- ``udir``: Udir's rule, ranked by the share of risk points (0 or 1 as well);
- ``oracle``: a reference with hyperparameters from the truth (not a ceiling), :func:`oracle_predictions`.

Every method is brought to one frame (:data:`PREDICTION_SCHEMA`), joined to the truth, and scored by
the plain functions below: recall of the truly weakest N, Brier score of P(among the N weakest), a
reliability table, the observed rate of truly weakest per tier, coverage of the true rank by the rank
interval (over the kommuner the method gives one), the share of small kommuner among false positives,
whether the joint set statements hold, and how many of the truly weakest the method does not assess at
all (no figures: they count as missed in the recall).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.config import Config
from pipelines.selection.holistic import holistic_scores
from pipelines.vocabulary import BORDERLINE, CLEAR_CANDIDATE, CLEARLY_NOT, TIERS

METHODS = ("holistic", "raw", "udir", "oracle")
PROBABILISTIC_METHODS = ("holistic", "oracle")  # the others give 1 for their N weakest and 0 otherwise
RELIABILITY_BINS = 10
# Where the validation measures how often P(among the N weakest) ≥ t was right: the evidence the
# *klar kandidat* threshold (``candidate_probability``) is chosen on.
PRECISION_THRESHOLDS = (0.90, 0.95, 0.96, 0.97, 0.98, 0.99)

# One row per kommune a method scores; the columns a method does not give are null.
PREDICTION_SCHEMA = {
    "unit_code": pl.String(),
    "rank": pl.Int64(),  # point rank, 1 = weakest
    "p": pl.Float64(),  # P(among the N weakest)
    "rank_low": pl.Int64(),
    "rank_high": pl.Int64(),
    "tier": pl.String(),
    "sure_candidate": pl.Boolean(),
    "sure_not_candidate": pl.Boolean(),
}
# The tiers' metric names, in the vocabulary's order (strongest first).
TIER_METRICS = dict(zip(TIERS, ("clear_candidate", "borderline", "clearly_not"), strict=True))


@dataclass(frozen=True)
class Evaluation:
    metrics: pl.DataFrame  # one row per method: see :func:`method_metrics`
    reliability: pl.DataFrame  # method, bin, predicted, observed, kommuner
    thresholds: pl.DataFrame  # method, threshold, kommuner, truly_weak (the probabilistic methods)


def cohort_sizes(municipal_values: pl.DataFrame) -> pl.DataFrame:
    """Mean pupil count per kommune over its indicator figures (a kommune's size)."""
    return municipal_values.group_by("unit_code").agg(pl.col("n").mean().alias("pupils"))


def small_kommuner(municipal_values: pl.DataFrame) -> set[str]:
    """The smallest third of kommuner by :func:`cohort_sizes`."""
    sizes = cohort_sizes(municipal_values)
    limit = sizes["pupils"].quantile(1 / 3)
    return set(sizes.filter(pl.col("pupils") <= limit)["unit_code"].to_list())


def truth_ranks(truth: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """``truth.csv`` as unit_code, true_risk, true_rank (1 = weakest) and truly_weak (true_rank ≤ N)."""
    return (
        truth.select(
            pl.col("municipality_code").cast(pl.String).str.zfill(4).alias("unit_code"),
            pl.col("true_risk").cast(pl.Float64),
        )
        .sort("unit_code")
        .with_columns(pl.col("true_risk").rank("ordinal", descending=True).cast(pl.Int64).alias("true_rank"))
        .with_columns((pl.col("true_rank") <= top_n).alias("truly_weak"))
    )


def predictions(frame: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """A method's output in :data:`PREDICTION_SCHEMA`: ``frame`` needs unit_code and rank; a method
    without ``p`` gets 1 for its N highest-ranked kommuner and 0 for the rest."""
    if "p" not in frame.columns:
        frame = frame.with_columns((pl.col("rank") <= top_n).cast(pl.Float64).alias("p"))
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in PREDICTION_SCHEMA.items()
    )


def scored_against_truth(prediction: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Every kommune of the truth with the method's prediction (none: rank null, p 0)."""
    return (
        truth.join(prediction, on="unit_code", how="left")
        .with_columns(pl.col("p").fill_null(0.0))
        .sort("unit_code")
    )


def recall(scored: pl.DataFrame, top_n: int) -> float:
    """Share of the truly weakest N that the method ranks among its N weakest."""
    weak = scored.filter(pl.col("truly_weak"))
    return weak.filter(pl.col("rank") <= top_n).height / weak.height if weak.height else float("nan")


def brier(scored: pl.DataFrame) -> float:
    """Mean squared difference between P(among the N weakest) and the truth (1 or 0)."""
    return float(scored.select(((pl.col("p") - pl.col("truly_weak").cast(pl.Float64)) ** 2).mean()).item())


def reliability(scored: pl.DataFrame, bins: int = RELIABILITY_BINS) -> pl.DataFrame:
    """Kommuner grouped by predicted probability into ``bins`` equal bins ([0, 0.1), …, [0.9, 1]):
    mean predicted, observed share truly among the N weakest, and count. Empty bins are left out."""
    return (
        scored.with_columns((pl.col("p") * bins).floor().clip(0, bins - 1).cast(pl.Int64).alias("bin"))
        .group_by("bin")
        .agg(
            pl.col("p").mean().alias("predicted"),
            pl.col("truly_weak").cast(pl.Float64).mean().alias("observed"),
            pl.len().cast(pl.Int64).alias("kommuner"),
        )
        .sort("bin")
    )


def precision_at_thresholds(
    scored: pl.DataFrame, thresholds: tuple[float, ...] = PRECISION_THRESHOLDS
) -> pl.DataFrame:
    """Per threshold t: the kommuner with P(among the N weakest) ≥ t (as the tiers compare) and how many
    of them truly are among the N weakest."""
    return pl.DataFrame(
        [
            {
                "threshold": threshold,
                "kommuner": scored.filter(pl.col("p") >= threshold).height,
                "truly_weak": scored.filter((pl.col("p") >= threshold) & pl.col("truly_weak")).height,
            }
            for threshold in thresholds
        ],
        schema={"threshold": pl.Float64(), "kommuner": pl.Int64(), "truly_weak": pl.Int64()},
    )


def tier_rates(scored: pl.DataFrame) -> dict[str, tuple[int, float | None]]:
    """Per tier: kommuner in it and the share of them truly among the N weakest (None when empty).
    For *klar kandidat* that share is the tier's precision."""
    rates: dict[str, tuple[int, float | None]] = {}
    for tier in TIERS:
        members = scored.filter(pl.col("tier") == tier)
        share = members["truly_weak"].cast(pl.Float64).mean() if members.height else None
        rates[tier] = (members.height, float(share) if share is not None else None)  # type: ignore[arg-type]
    return rates


def rank_coverage(scored: pl.DataFrame) -> tuple[float | None, float | None]:
    """Share of kommuner whose TRUE rank lies in their rank interval (bounds included): for every
    kommune with an interval, and for the truly weakest N among them. None without intervals.

    The true rank is taken among the kommuner the method ranks, as its interval is: a kommune without
    figures has no place on the method's list, and counting it would move every true rank behind it
    (ulik_vekt's suppression at 15 leaves 28 of 357 kommuner without figures). The truly weakest N, and
    the recall, stay those of every kommune."""
    with_interval = scored.filter(
        pl.col("rank_low").is_not_null() & pl.col("rank_high").is_not_null()
    ).with_columns(
        pl.col("true_risk").rank("ordinal", descending=True).cast(pl.Int64).alias("rank_among_ranked")
    )
    covered = pl.col("rank_among_ranked").is_between(pl.col("rank_low"), pl.col("rank_high"), closed="both")

    def share(frame: pl.DataFrame) -> float | None:
        return float(frame.select(covered.cast(pl.Float64).mean()).item()) if frame.height else None

    return share(with_interval), share(with_interval.filter(pl.col("truly_weak")))


def small_share_of_false_positives(scored: pl.DataFrame, small: set[str], top_n: int) -> float:
    """Among the kommuner the method ranks in its N weakest but are not truly there: the share that are
    small (0 when it has no false positives)."""
    false_positives = scored.filter((pl.col("rank") <= top_n) & ~pl.col("truly_weak"))["unit_code"]
    if false_positives.is_empty():
        return 0.0
    return float(false_positives.is_in(sorted(small)).mean())  # type: ignore[arg-type]


def set_statements(scored: pl.DataFrame) -> tuple[bool | None, bool | None]:
    """Whether every kommune flagged ``sure_candidate`` is truly among the N weakest, and whether no
    kommune flagged ``sure_not_candidate`` is. None where the method makes no such statement."""

    def holds(flag: str, truly_weak: bool) -> bool | None:
        if scored[flag].null_count() == scored.height:
            return None
        flagged = scored.filter(pl.col(flag).fill_null(False))
        return bool((flagged["truly_weak"] == truly_weak).all())

    return holds("sure_candidate", True), holds("sure_not_candidate", False)


def method_metrics(scored: pl.DataFrame, small: set[str], top_n: int) -> dict[str, object]:
    """Every metric of one method, as one row."""
    coverage_all, coverage_weakest = rank_coverage(scored)
    all_sure, none_sure_not = set_statements(scored)
    selected = scored.filter(pl.col("rank") <= top_n)
    row: dict[str, object] = {
        "selected": selected.height,
        "unassessed_weakest": scored.filter(pl.col("truly_weak") & pl.col("rank").is_null()).height,
        "recall": recall(scored, top_n),
        "false_positives": selected.filter(~pl.col("truly_weak")).height,
        "small_share_of_false_positives": small_share_of_false_positives(scored, small, top_n),
        "brier": brier(scored),
        "coverage_all": coverage_all,
        "coverage_weakest": coverage_weakest,
    }
    for tier, (count, share) in tier_rates(scored).items():
        name = TIER_METRICS[tier]
        row[f"{name}_count"] = count if scored["tier"].null_count() < scored.height else None
        row[f"{name}_rate"] = share
    row["sure_candidate_count"] = scored["sure_candidate"].sum() if all_sure is not None else None
    row["sure_candidates_all_weak"] = all_sure
    row["sure_not_candidate_count"] = (
        scored["sure_not_candidate"].sum() if none_sure_not is not None else None
    )
    row["sure_not_candidates_none_weak"] = none_sure_not
    return row


METRIC_SCHEMA = {
    "method": pl.String(),
    "selected": pl.Int64(),
    "unassessed_weakest": pl.Int64(),  # truly among the N weakest, but without a rank from the method
    "recall": pl.Float64(),
    "false_positives": pl.Int64(),
    "small_share_of_false_positives": pl.Float64(),
    "brier": pl.Float64(),
    "coverage_all": pl.Float64(),
    "coverage_weakest": pl.Float64(),
    "clear_candidate_count": pl.Int64(),
    "clear_candidate_rate": pl.Float64(),
    "borderline_count": pl.Int64(),
    "borderline_rate": pl.Float64(),
    "clearly_not_count": pl.Int64(),
    "clearly_not_rate": pl.Float64(),
    "sure_candidate_count": pl.Int64(),
    "sure_candidates_all_weak": pl.Boolean(),
    "sure_not_candidate_count": pl.Int64(),
    "sure_not_candidates_none_weak": pl.Boolean(),
}


# --- the oracle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleFit:
    """The truth-calibrated hyperparameters: x = intercept + slope·c + e, Var(e) = alpha + beta·v,
    c ~ N(prior_mean, prior_var)."""

    intercept: float
    slope: float
    alpha: float
    beta: float
    prior_mean: float
    prior_var: float


def _nonnegative_line(v: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least squares y ≈ alpha + beta·v with alpha, beta ≥ 0 (two parameters: the unconstrained fit, or
    the best fit on the boundary alpha = 0 or beta = 0)."""
    design = np.column_stack([np.ones_like(v), v])
    (alpha, beta), *_ = np.linalg.lstsq(design, y, rcond=None)
    if alpha >= 0 and beta >= 0:
        return float(alpha), float(beta)
    through_origin = max(float(v @ y / (v @ v)), 0.0) if v @ v > 0 else 0.0
    candidates = [(0.0, through_origin), (max(float(y.mean()), 0.0), 0.0)]
    return min(candidates, key=lambda ab: float(((y - ab[0] - ab[1] * v) ** 2).sum()))


def oracle_fit(composite: np.ndarray, composite_var: np.ndarray, true_risk: np.ndarray) -> OracleFit:
    """Fit the oracle's hyperparameters from the truth (what no real method can know)."""
    design = np.column_stack([np.ones_like(true_risk), true_risk])
    (intercept, slope), *_ = np.linalg.lstsq(design, composite, rcond=None)
    residuals = composite - intercept - slope * true_risk
    alpha, beta = _nonnegative_line(composite_var, residuals**2)
    return OracleFit(
        float(intercept), float(slope), alpha, beta, float(true_risk.mean()), float(true_risk.var())
    )


def oracle_posterior(
    fit: OracleFit, composite: np.ndarray, composite_var: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The exact normal posterior of each c_j given x_j: mean and variance."""
    error_var = np.maximum(fit.alpha + fit.beta * composite_var, 1e-12)
    precision = 1 / fit.prior_var + fit.slope**2 / error_var
    mean = (fit.prior_mean / fit.prior_var + fit.slope * (composite - fit.intercept) / error_var) / precision
    return mean, 1 / precision


def draw_ranks(
    mean: np.ndarray, sd: np.ndarray, draws: int, seed: int, top_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(among the ``top_n`` highest) and the 5–95 % rank interval (rank 1 = highest) from normal draws."""
    rng = np.random.Generator(np.random.PCG64(seed))
    sample = rng.standard_normal((draws, mean.size)) * sd + mean
    order = np.argsort(-sample, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(draws)[:, None], order] = np.arange(1, mean.size + 1)
    low, high = np.percentile(ranks, [5, 95], axis=0, method="lower")
    return (ranks <= top_n).mean(axis=0), low.astype(np.int64), high.astype(np.int64)


def oracle_predictions(
    raw_scores: pl.DataFrame, truth: pl.DataFrame, config: Config, top_n: int
) -> pl.DataFrame:
    """A composite-level oracle: normal posterior with hyperparameters from the truth.

    On the unshrunk composite x_j (the raw method's ``composite``) and its error variance v_j
    (``composite_var``): x_j = a + b·c_j + e_j fitted by least squares on the true c_j (``true_risk``),
    Var(e_j) = α + β·v_j (α, β ≥ 0) fitted to the squared residuals, and the prior c_j ~ N(mean c,
    var c) taken from the truth (variance with divisor n). The exact normal posterior of c_j given x_j
    is drawn ``holistic.draws`` times with ``holistic.seed``: P(among the N weakest), the point rank by
    posterior mean and the 5–95 % rank interval, tiers at the configured thresholds. It knows the
    hyperparameters no real method can know, but not more than the composite carries (it is not the
    posterior under the full generating model, which would also use the indicators' separate
    information): a ceiling for methods that rank this composite.
    """
    frame = (
        raw_scores.select("unit_code", "composite", "composite_var")
        .join(truth.select("unit_code", "true_risk"), on="unit_code", how="inner")
        .drop_nulls()
        .sort("unit_code")
    )
    x, v = frame["composite"].to_numpy(), frame["composite_var"].to_numpy()
    fit = oracle_fit(x, v, frame["true_risk"].to_numpy())
    mean, var = oracle_posterior(fit, x, v)
    settings = config.holistic
    p, low, high = draw_ranks(mean, np.sqrt(var), settings.draws, settings.seed, top_n)
    point = np.empty(mean.size, dtype=np.int64)
    point[np.lexsort((frame["unit_code"].to_numpy(), -mean))] = np.arange(1, mean.size + 1)
    tier = np.where(
        p >= settings.candidate_probability,
        CLEAR_CANDIDATE,
        np.where(p < settings.not_candidate_probability, CLEARLY_NOT, BORDERLINE),
    )
    return predictions(
        frame.select("unit_code").with_columns(
            pl.Series("rank", point),
            pl.Series("p", p),
            pl.Series("rank_low", low),
            pl.Series("rank_high", high),
            pl.Series("tier", tier.astype(str)),
        ),
        top_n,
    )


# --- one run ------------------------------------------------------------------------------------


def evaluate(
    municipal_values: pl.DataFrame,
    school_values: pl.DataFrame,
    udir: pl.DataFrame,
    rank_uncertainty: pl.DataFrame,
    config: Config,
    truth: pl.DataFrame,
    top_n: int | None = None,
) -> Evaluation:
    """The four methods against ``truth``, from the tables the assets of one run write."""
    top_n = top_n or config.holistic.top_n
    truth = truth_ranks(truth, top_n)
    raw = holistic_scores(municipal_values, config, shrinkage=False, school_values=school_values).scores
    holistic = rank_uncertainty.rename({"holistic_rank": "rank", "p_top_n": "p"})
    methods = {
        "holistic": predictions(holistic, top_n),
        "raw": predictions(raw.select("unit_code", pl.col("holistic_rank").alias("rank")), top_n),
        "udir": predictions(
            udir.filter(pl.col("udir_rank").is_not_null()).select(
                "unit_code", pl.col("udir_rank").alias("rank")
            ),
            top_n,
        ),
        "oracle": oracle_predictions(raw, truth, config, top_n),
    }
    small = small_kommuner(municipal_values)
    rows, tables, sweeps = [], [], []
    for method, prediction in methods.items():
        scored = scored_against_truth(prediction, truth)
        rows.append({"method": method, **method_metrics(scored, small, top_n)})
        tables.append(reliability(scored).select(pl.lit(method).alias("method"), pl.all()))
        if method in PROBABILISTIC_METHODS:
            sweeps.append(precision_at_thresholds(scored).select(pl.lit(method).alias("method"), pl.all()))
    return Evaluation(pl.DataFrame(rows, schema=METRIC_SCHEMA), pl.concat(tables), pl.concat(sweeps))
