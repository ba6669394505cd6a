"""Sensitivity: rerun the selection over plausible alternative choices, one at a time from the
configured baseline, and report per unit how often it is selected and which choice decides it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from pipelines.config import Config
from pipelines.indicators.values import kommune_and_school_values
from pipelines.selection.holistic import FittedPosterior, fit_posterior, scores_from
from pipelines.selection.udir_rule import udir_selection
from pipelines.vocabulary import AREA_LABELS, AREAS

HOLISTIC = "holistisk"
UDIR = "udir"
# The variants Udir's rule is rerun under, besides its own limits: weights and shrinkage are not its.
UDIR_CHOICES = ("grunnvalg", "vindu")


@dataclass(frozen=True)
class Variant:
    name: str  # shown to analysts, Norwegian
    choice: str  # the dimension varied: vekter, grenser, vindu, krymping
    config: Config
    shrinkage: bool


def variants(config: Config) -> list[Variant]:
    baseline_shrinkage = config.holistic.shrinkage
    found = [Variant("grunnvalg", "grunnvalg", config, baseline_shrinkage)]
    for area in AREAS:
        weights = dict(config.holistic.area_weights)
        weights[area] = weights[area] * 2
        found.append(
            Variant(
                f"dobbel vekt på {AREA_LABELS[area]}",
                "vekter",
                replace(config, holistic=replace(config.holistic, area_weights=weights)),
                baseline_shrinkage,
            )
        )
    for years in sorted({2, 3} - {config.selection.window_years}):
        found.append(
            Variant(
                f"{years} års vindu",
                "vindu",
                replace(config, selection=replace(config.selection, window_years=years)),
                baseline_shrinkage,
            )
        )
    found.append(
        Variant(
            "uten krymping" if baseline_shrinkage else "med krymping",
            "krymping",
            config,
            not baseline_shrinkage,
        )
    )
    return found


def limit_variants(config: Config, relative: float = 0.05) -> list[tuple[str, dict[str, float]]]:
    """Udir's absolute limits moved 5 % toward and away from the national level."""
    found = []
    for label, factor in (("strengere grenser", 1 - relative), ("mildere grenser", 1 + relative)):
        limits = {}
        for indicator in config.indicators:
            if indicator.udir_rule and indicator.absolute_limit is not None:
                # For "higher is better" a stricter (harder to miss) limit is higher.
                direction = factor if not indicator.higher_is_better else 2 - factor
                limits[indicator.id] = indicator.absolute_limit * direction
        found.append((label, limits))
    return found


ValuesFor = Callable[[Config], tuple[pl.DataFrame, pl.DataFrame]]


def sensitivity(
    municipal_values: pl.DataFrame, school_values: pl.DataFrame, config: Config, values_for: ValuesFor
) -> pl.DataFrame:
    """One row per unit × variant × method: selected or not.

    ``values_for(config)`` returns (kommune values, school values) for a configuration whose window
    differs from the baseline's (it changes which school years are read).
    """
    rows: list[pl.DataFrame] = []
    top_n = config.holistic.top_n
    # The model is fitted once per window: area weights and shrinkage only change how a fitted posterior
    # is scored, so those variants reuse the baseline's fit (and its draws).
    fits: dict[int, tuple[pl.DataFrame, pl.DataFrame, FittedPosterior | None]] = {}
    for variant in variants(config):
        window = variant.config.selection.window_years
        if window not in fits:
            municipal, schools = (
                (municipal_values, school_values)
                if window == config.selection.window_years
                else values_for(variant.config)
            )
            fits[window] = municipal, schools, fit_posterior(municipal, variant.config, schools)
        municipal, schools, fitted = fits[window]
        result = scores_from(fitted, variant.config, variant.shrinkage)
        rows.append(
            result.scores.select(
                "unit_code",
                pl.lit(HOLISTIC).alias("method"),
                pl.lit(variant.name).alias("variant"),
                pl.lit(variant.choice).alias("choice"),
                (pl.col("holistic_rank") <= top_n).alias("selected"),
            )
        )
        if variant.choice in UDIR_CHOICES:
            udir = udir_selection(municipal, schools, variant.config)
            rows.append(_udir_rows(udir, variant.name, variant.choice))
    for name, limits in limit_variants(config):
        udir = udir_selection(municipal_values, school_values, config, limits)
        rows.append(_udir_rows(udir, name, "grenser"))
    return pl.concat(rows).sort("method", "unit_code", "variant")


def _udir_rows(udir: pl.DataFrame, name: str, choice: str) -> pl.DataFrame:
    return udir.select(
        "unit_code",
        pl.lit(UDIR).alias("method"),
        pl.lit(name).alias("variant"),
        pl.lit(choice).alias("choice"),
        pl.col("udir_category").is_not_null().alias("selected"),
    )


def summarise(runs: pl.DataFrame) -> pl.DataFrame:
    """Per unit and method: share of variants selecting it, and the choices that flip the baseline."""
    baseline = runs.filter(pl.col("choice") == "grunnvalg").select(
        "unit_code", "method", pl.col("selected").alias("baseline")
    )
    joined = runs.join(baseline, on=["unit_code", "method"], how="left").with_columns(
        pl.col("baseline").fill_null(False)
    )
    return (
        joined.group_by("unit_code", "method")
        .agg(
            pl.col("selected").mean().alias("selected_share"),
            pl.col("baseline").first(),
            pl.col("variant")
            .filter(pl.col("selected") != pl.col("baseline"))
            .sort()
            .str.join("; ")
            .alias("deciding_choices"),
        )
        .with_columns(pl.col("deciding_choices").replace("", None))
        .sort("method", "unit_code")
    )


def variant_names(config: Config) -> dict[str, list[str]]:
    """The variants each method is rerun under, baseline first, in the order :func:`sensitivity` runs
    them."""
    found = variants(config)
    return {
        HOLISTIC: [v.name for v in found],
        UDIR: [v.name for v in found if v.choice in UDIR_CHOICES]
        + [name for name, _ in limit_variants(config)],
    }


def outcomes(summary: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The summary back to one row per unit × method × variant (``selected``): a variant selects a unit
    when the baseline does and the variant is not among its deciding choices, or the other way round."""
    rows = []
    names = variant_names(config)
    for unit, method, baseline, deciding in summary.select(
        "unit_code", "method", "baseline", "deciding_choices"
    ).iter_rows():
        flipped = set(deciding.split("; ")) if deciding else set()
        rows += [(unit, method, name, baseline != (name in flipped)) for name in names[method]]
    return pl.DataFrame(
        rows,
        schema={"unit_code": pl.String, "method": pl.String, "variant": pl.String, "selected": pl.Boolean},
        orient="row",
    )


def sensitivity_table(
    harmonised: pl.DataFrame, municipal_values: pl.DataFrame, school_values: pl.DataFrame, config: Config
) -> pl.DataFrame:
    """The summary per unit and method; window variants read their years from ``harmonised``."""
    runs = sensitivity(
        municipal_values,
        school_values,
        config,
        lambda variant: kommune_and_school_values(harmonised, variant),
    )
    return summarise(runs)
