"""Indicator values per unit and school year, beside the national level, from harmonised observations.

A suppressed figure counts as missing, and so does an exported figure from fewer pupils than
``minimum_pupils``: the rule and the holistic method score a unit on what it has. A figure computed
from pupil-level data (``pipelines/pupils``) is kept whatever its pupils, for the holistic method: it
is never published as it is (``published_figures`` hides it), and its standard error says how little a
few pupils show. Udir's rule leaves it out (:func:`too_few_pupils`), as it would a suppressed export. The
standard error of a mean is Udir's ``Usikkerhet`` (as a standard error) or the pupils' own where
known, else ``pupil_sd / √n``; of a share, the binomial one at the national share.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config, Indicator
from pipelines.pupils.read import from_pupil_data

INDICATOR_VALUES_SCHEMA = pl.Schema(
    {
        "level": pl.String(),
        "unit_code": pl.String(),
        "municipality_code": pl.String(),
        "county_code": pl.String(),
        "indicator_id": pl.String(),
        "area": pl.String(),
        "school_year": pl.String(),
        "value": pl.Float64(),
        "std_error": pl.Float64(),
        "n": pl.Int64(),
        "national": pl.Float64(),
        "worse_sign": pl.Float64(),
        "break_note": pl.String(),
    }
)


def too_few_pupils(config: Config) -> pl.Expr:
    """True for a figure from fewer pupils than ``minimum_pupils``: one that is never published. A
    figure without a count is not known to be (on the exports path, Udir published it)."""
    return (pl.col("n") < config.selection.minimum_pupils).fill_null(False)


def selector(indicator: Indicator) -> pl.Expr:
    """The harmonised rows of one configured indicator (every level and year), without breakdowns."""
    subject = (
        pl.col("subject").is_null() if indicator.subject is None else pl.col("subject") == indicator.subject
    )
    return (
        (pl.col("source") == indicator.source)
        & (pl.col("indicator") == indicator.indicator)
        & (pl.col("grade") == indicator.grade)
        & subject
        & (pl.col("breakdown") == "")
    )


def indicator_measure(indicator: Indicator) -> str:
    """What an indicator's figures measure (a key of ``MEASURE_RANGES``), from its configuration alone:
    for outputs that hold the figures without the harmonised ``measure`` column."""
    if indicator.source == "grunnskolepoeng":
        return "points"
    if indicator.source == "nasjonale_prover" and indicator.indicator == "skalapoeng":
        return "scale_points"
    return "index" if indicator.pupil_sd is not None else "percent"


def sampling_error(indicator: Indicator, national: pl.Expr, measure: pl.Expr, n: pl.Expr) -> pl.Expr:
    """The standard error of a figure from ``n`` pupils without Udir's ``Usikkerhet``: the configured
    ``pupil_sd`` over √n, else the binomial one of a percent share at the ``national`` share of the
    same indicator and school year (clipped to 0.5–99.5), else null."""
    if indicator.pupil_sd is not None:
        return pl.lit(indicator.pupil_sd) / n.sqrt()
    # At the observed share a small unit's 0 % (or 100 %) would count as exact and escape shrinkage;
    # the national share is what the unit's share would be without a difference of its own.
    share = national.clip(0.5, 99.5)
    return pl.when(measure == "percent").then((share * (100 - share) / n).sqrt())


def pupil_sd(indicator: Indicator, national_value: float) -> float | None:
    """One pupil's standard deviation at ``national_value`` (the error of a figure from one pupil), for
    the funnel plots' control limits."""
    one_pupil = sampling_error(
        indicator, pl.lit(national_value), pl.lit(indicator_measure(indicator)), pl.lit(1.0)
    )
    sd = pl.select(one_pupil).item()
    return None if sd is None else float(sd)


def _standard_error(indicator: Indicator) -> pl.Expr:
    n = pl.col("n").cast(pl.Float64)
    # A share's own binomial error is 0 at 0 % or 100 %: the national share keeps a small unit's
    # extreme share from counting as exact (pupil-level data gives shares an error of their own).
    own = pl.when(pl.col("measure") != "percent").then(pl.col("std_error"))
    return pl.coalesce(own, sampling_error(indicator, pl.col("national"), pl.col("measure"), n))


def indicator_values(
    harmonised: pl.DataFrame, config: Config, owner: str, levels: tuple[str, ...]
) -> pl.DataFrame:
    """Long table of indicator values for ``owner``'s indicators in the window, at ``levels``."""
    window = config.window()
    frames = []
    scope = harmonised.filter(pl.col("school_year").is_in(window) & ~pl.col("is_pseudo"))
    for indicator in config.for_owner(owner):
        rows = scope.filter(selector(indicator))
        national = rows.filter(pl.col("level") == "national").select(
            "school_year", pl.col("value").alias("national")
        )
        units = (
            rows.filter(pl.col("level").is_in(levels))
            .join(national, on="school_year", how="left")
            .with_columns(
                pl.when(
                    pl.col("suppressed") | (too_few_pupils(config) & ~from_pupil_data(pl.col("lineage_rows")))
                )
                .then(None)
                .otherwise(pl.col("value"))
                .alias("value"),
            )
            .with_columns(
                _standard_error(indicator).alias("std_error"),
                pl.lit(indicator.id).alias("indicator_id"),
                pl.lit(indicator.area).alias("area"),
                pl.lit(-1.0 if indicator.higher_is_better else 1.0).alias("worse_sign"),
            )
        )
        frames.append(units.select(list(INDICATOR_VALUES_SCHEMA)).cast(INDICATOR_VALUES_SCHEMA))
    if not frames:
        return pl.DataFrame(schema=INDICATOR_VALUES_SCHEMA)
    return pl.concat(frames).sort("level", "unit_code", "indicator_id", "school_year")


def kommune_and_school_values(harmonised: pl.DataFrame, config: Config) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kommune indicators at kommune and at school level (Udir's rule needs both)."""
    return (
        indicator_values(harmonised, config, "kommune", ("municipality",)),
        indicator_values(harmonised, config, "kommune", ("school",)),
    )
