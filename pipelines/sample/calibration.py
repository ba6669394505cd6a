"""How much of a kommune's national-test result carries over from one school year to the next.

Plain functions over parsed observations (the columns of ``parse_folder(...).observations``), so that
the same statistics run on the synthetic sample and on real multi-year exports. They use kommune rows of
the national tests' scale points in reading and numeracy, 5th and 8th grade, that are not suppressed.
A kommune is followed by its code: a kommune whose code changed between two years drops out of that pair.

- ``carry_over``: for each test and pair of consecutive school years, across the kommuner with both
  figures, cov(y_t, y_t+1) / (var(y_t) − mean(se_t²)): the share of one year's between-kommune variance
  (net of the pupils' sampling variance, from the ``std_error`` column, a standard error) that is still
  there the next year; the mean over tests and pairs. Without the sampling variance netted out the
  statistic would mostly measure how small the kommuner are.
- ``size_band_correlations``: a kommune's four-test mean (all four present) correlated with the next
  year's, per size band of pupils per grade (the mean count of the four tests over the two years), per
  pair of consecutive years; the mean over pairs.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

TESTS = (("5", "lesing"), ("5", "regning"), ("8", "lesing"), ("8", "regning"))
# Pupils per grade: lower bound inclusive, upper bound exclusive (None: no upper bound).
SIZE_BANDS = (("under 30", 0, 30), ("30-149", 30, 150), ("150 or more", 150, None))


def kommune_scale_points(observations: pl.DataFrame) -> pl.DataFrame:
    """One row per kommune, school year and test: ``value`` (scale points) and ``n``."""
    grade_subject = pl.concat_str("grade", "subject", separator="/")
    return (
        observations.filter(
            (pl.col("source") == "nasjonale_prover")
            & (pl.col("level") == "municipality")
            & (pl.col("indicator") == "skalapoeng")
            & pl.col("breakdown").fill_null("").eq("")
            & grade_subject.is_in([f"{g}/{s}" for g, s in TESTS])
            & ~pl.col("suppressed")
            & pl.col("value").is_not_null()
        )
        .select("school_year", "unit_code", "grade", "subject", "value", "std_error", "n")
        .unique(["school_year", "unit_code", "grade", "subject"], keep="first")
        .sort("school_year", "unit_code", "grade", "subject")
    )


def _consecutive_pairs(years: list[str]) -> list[tuple[str, str]]:
    ordered = sorted(set(years))
    return [(a, b) for a, b in itertools.pairwise(ordered) if int(b[:4]) == int(a[:4]) + 1]


def carry_over_by_pair(observations: pl.DataFrame) -> pl.DataFrame:
    """cov(y_t, y_t+1) / (var(y_t) − mean se_t²) across kommuner, per test and pair of consecutive
    school years."""
    scores = kommune_scale_points(observations)
    rows = []
    for year, following in _consecutive_pairs(scores["school_year"].to_list()):
        for grade, subject in TESTS:
            test = (pl.col("grade") == grade) & (pl.col("subject") == subject)
            pair = (
                scores.filter(test & (pl.col("school_year") == year))
                .select("unit_code", pl.col("value").alias("now"), "std_error")
                .join(
                    scores.filter(test & (pl.col("school_year") == following)).select(
                        "unit_code", pl.col("value").alias("next")
                    ),
                    on="unit_code",
                )
            )
            if pair.height < 2:
                continue
            if pair["std_error"].null_count():
                raise ValueError(
                    f"{grade}th grade {subject} {year}: a kommune figure without a standard error"
                )
            now, later = pair["now"].to_numpy(), pair["next"].to_numpy()
            signal = np.var(now, ddof=1) - float(np.mean(pair["std_error"].to_numpy() ** 2))
            ratio = float(np.cov(now, later, ddof=1)[0, 1] / signal)
            rows.append((grade, subject, year, following, pair.height, ratio))
    return pl.DataFrame(
        rows,
        schema={
            "grade": pl.String,
            "subject": pl.String,
            "school_year": pl.String,
            "next_school_year": pl.String,
            "kommuner": pl.Int64,
            "carry_over": pl.Float64,
        },
        orient="row",
    )


def carry_over(observations: pl.DataFrame) -> float:
    """The mean share of between-kommune variance carried over to the next year (see the module)."""
    table = carry_over_by_pair(observations)
    if table.is_empty():
        raise ValueError("no kommune has national-test scale points in two consecutive school years")
    return float(table["carry_over"].mean())  # type: ignore[arg-type]


def four_test_means(observations: pl.DataFrame) -> pl.DataFrame:
    """Per kommune and school year with all four tests: their mean and the mean pupil count."""
    return (
        kommune_scale_points(observations)
        .group_by("school_year", "unit_code")
        .agg(pl.len().alias("tests"), pl.col("value").mean(), pl.col("n").mean())
        .filter(pl.col("tests") == len(TESTS))
        .drop("tests")
    )


def size_band_correlations(observations: pl.DataFrame) -> pl.DataFrame:
    """Year-to-year correlation of the four-test mean, per size band (see the module)."""
    means = four_test_means(observations)
    rows = []
    for band, low, high in SIZE_BANDS:
        correlations, counts = [], []
        for year, following in _consecutive_pairs(means["school_year"].to_list()):
            pair = (
                means.filter(pl.col("school_year") == year)
                .join(means.filter(pl.col("school_year") == following), on="unit_code", suffix="_next")
                .with_columns(((pl.col("n") + pl.col("n_next")) / 2).alias("pupils"))
                .filter((pl.col("pupils") >= low) & (pl.col("pupils") < (high or np.inf)))
            )
            if pair.height < 3:
                continue
            correlations.append(float(np.corrcoef(pair["value"], pair["value_next"])[0, 1]))
            counts.append(pair.height)
        rows.append((band, len(correlations), sum(counts), float(np.mean(correlations)) if counts else None))
    return pl.DataFrame(
        rows,
        schema={"band": pl.String, "pairs": pl.Int64, "kommuner": pl.Int64, "correlation": pl.Float64},
        orient="row",
    )
