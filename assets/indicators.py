"""Stage 5, indicators: the configured indicators over the window, per level, beside the national level.

A figure from fewer pupils than ``minimum_pupils``, or suppressed, counts as missing in all of them.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import MAY_BE_EMPTY, TABLE_KINDS, table
from pipelines.config import ConfigError
from pipelines.indicators import coverage
from pipelines.indicators.values import indicator_values as values_of
from pipelines.resources import UtvalgSettings
from pipelines.vocabulary import OWNERS

GROUP = "indicators"


def _coverage(values: pl.DataFrame) -> pl.DataFrame:
    """Units and missing values per indicator and year: what the UI shows first."""
    return (
        values.group_by("indicator_id", "school_year")
        .agg(pl.len().alias("units"), pl.col("value").null_count().alias("missing"))
        .sort("indicator_id", "school_year")
    )


def _values(
    utvalg: UtvalgSettings, harmonised: pl.DataFrame, owners: tuple[str, ...], level: str
) -> dg.MaterializeResult:
    frame = pl.concat([values_of(harmonised, utvalg.config, owner, (level,)) for owner in owners])
    return table(frame, preview=_coverage(frame), window=", ".join(utvalg.config.window()), rows=frame.height)


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def indicator_values(utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame) -> dg.MaterializeResult:
    """Kommune indicator values per school year of the window beside the national level, with standard
    errors (figures from fewer than minimum_pupils count as missing)."""
    return _values(utvalg, harmonised_observations, ("kommune",), "municipality")


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def school_indicator_values(
    utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame
) -> dg.MaterializeResult:
    """The kommune indicators for each school: Udir's category 2 and the school sheets."""
    return _values(utvalg, harmonised_observations, ("kommune",), "school")


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def fylke_comparison_values(
    utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame
) -> dg.MaterializeResult:
    """The kommune indicators at fylke level: the fylke line on each kommune's profile."""
    return _values(utvalg, harmonised_observations, ("kommune",), "county")


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def national_indicator_values(
    utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame
) -> dg.MaterializeResult:
    """The kommune and fylkeskommune indicators for the whole country, with pupil counts: the national
    line every output shows, and the top of the table that privacy protection links the kommuner and
    fylker to."""
    return _values(utvalg, harmonised_observations, OWNERS, "national")


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def fylke_indicator_values(
    utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame
) -> dg.MaterializeResult:
    """Fylkeskommune indicators: gjennomføring and the Vg1 survey."""
    return _values(utvalg, harmonised_observations, ("fylkeskommune",), "county")


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def data_coverage(
    utvalg: UtvalgSettings,
    raw_files: pl.DataFrame,
    harmonised_observations: pl.DataFrame,
    indicator_values: pl.DataFrame,
    fylke_indicator_values: pl.DataFrame,
) -> dg.MaterializeResult:
    """The configuration checked against the data before the selection: per indicator and school year
    of the window, how many figures there are, and how many files of its source the raw folder holds.
    A source without any file is selected without (its areas missing); otherwise stops the run, naming
    what to fix, when an indicator matches no figure, a source lacks a year of the window (unless
    missing data are allowed), or a count exceeds the units scored. The outputs say what is missing
    from this table."""
    config = utvalg.config
    file = Path(utvalg.config_file).name
    frame = coverage.data_coverage(harmonised_observations, config, raw_files)
    absent = coverage.absent_sources(frame)
    # The counts are checked once the data fit the indicators and the window: before, they say little.
    problems = coverage.coverage_problems(harmonised_observations, frame, config, file) or (
        coverage.count_problems(indicator_values, fylke_indicator_values, config, file, absent)
    )
    if problems:
        raise ConfigError(coverage.problems_message(problems, file))
    short = coverage.data_gaps(frame).short_sources
    return table(
        frame,
        preview=frame.filter(pl.col("missing")),
        window=", ".join(config.window()),
        no_files=", ".join(absent),
        missing="; ".join(f"{source} {', '.join(years)}" for source, years in short),
        allow_missing_data=config.selection.allow_missing_data,
    )
