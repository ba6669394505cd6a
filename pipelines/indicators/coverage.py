"""Which figures the configuration finds in the data, and the configuration's checks against the data.

The configuration alone is checked when it is read (:mod:`pipelines.config`); what depends on the data
is checked here, after the indicators and before the selection writes anything:

- an indicator whose source has figures but none of them the indicator's (a misspelt ``indicator``,
  ``grade`` or ``subject``) is an error naming it: it would otherwise drop out of the selection unseen;
- a school year of the window without figures from a source stops the run, naming the source and years,
  unless the configuration allows missing data; the outputs then say what is missing (this table);
- a window reaching school years without any figure at all is refused in any case;
- ``top_n``, ``category_1_count`` and ``fylkeskommune_top_n`` must be at most the units scored.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config, Indicator
from pipelines.indicators.values import selector
from pipelines.vocabulary import SOURCE_LABELS

# The level an owner's figures are published at: a kommune's indicators at kommune level, a
# fylkeskommune's at fylke level.
OWNER_LEVEL = {"kommune": "municipality", "fylkeskommune": "county"}

COVERAGE_SCHEMA = pl.Schema(
    {
        "indicator_id": pl.String(),
        "owner": pl.String(),
        "source": pl.String(),
        "school_year": pl.String(),
        "rows": pl.Int64(),  # the indicator's figures at its owner's level in that year
        "missing": pl.Boolean(),
    }
)


def _figures(harmonised: pl.DataFrame, indicator: Indicator) -> pl.DataFrame:
    return harmonised.filter(
        selector(indicator) & (pl.col("level") == OWNER_LEVEL[indicator.owner]) & ~pl.col("is_pseudo")
    )


def data_coverage(harmonised: pl.DataFrame, config: Config) -> pl.DataFrame:
    """One row per configured indicator and school year of the window: how many figures there are."""
    rows = []
    for indicator in config.indicators:
        counts = dict(_figures(harmonised, indicator).group_by("school_year").len().iter_rows())
        for year in config.window():
            found = int(counts.get(year, 0))
            rows.append((indicator.id, indicator.owner, indicator.source, year, found, found == 0))
    return pl.DataFrame(rows, schema=COVERAGE_SCHEMA, orient="row")


def missing_data(coverage: pl.DataFrame) -> list[tuple[str, list[str], list[str]]]:
    """What the selection lacks: (source, school years, indicator ids) per source, in source order."""
    missing = coverage.filter(pl.col("missing"))
    return [
        (source, sorted(set(years)), sorted(set(ids)))
        for source, years, ids in missing.group_by("source", maintain_order=True)
        .agg("school_year", "indicator_id")
        .sort("source")
        .iter_rows()
    ]


def _span(years: list[str]) -> str:
    """``2019-20–2021-22`` for three or more school years, with any gap named; fewer one by one."""
    if len(years) < 3:
        return _years(years)
    starts = {int(year[:4]) for year in years}
    gaps = [f"{y}-{(y + 1) % 100:02d}" for y in range(min(starts), max(starts)) if y not in starts]
    return f"{years[0]}–{years[-1]}" + (f" (not {_years(gaps)})" if gaps else "")


def _years(years: list[str]) -> str:
    return ", ".join(years)


def problems_message(problems: list[str], file: str) -> str:
    """One message for the person running it: the problem, or the problems one per line."""
    if len(problems) == 1:
        return problems[0]
    return f"{file} does not fit the data:\n" + "\n".join(f"  - {problem}" for problem in problems)


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " og " + items[-1] if len(items) > 1 else "".join(items)


def missing_data_text(coverage: pl.DataFrame) -> str:
    """What is missing, in bokmål for a governor, for the outputs' "Laget av" line (empty when nothing
    is): ``uten tall for nasjonale prøver 2019-20 og 2020-21; utvalget bygger på tallene som finnes``."""
    parts = [
        f"{SOURCE_LABELS.get(source, source)} {_and(years)}" for source, years, _ in missing_data(coverage)
    ]
    if not parts:
        return ""
    return f"uten tall for {' og for '.join(parts)}; utvalget bygger på tallene som finnes"


def coverage_problems(
    harmonised: pl.DataFrame, coverage: pl.DataFrame, config: Config, file: str
) -> list[str]:
    """What in the configuration does not fit the data, as plain sentences (empty when all fits).

    Indicators that match nothing come first and alone: until they are fixed, what the window lacks
    says little.
    """
    mismatched = []
    sources_with_data = set(harmonised["source"].unique().to_list())
    years_with_data: set[str] = set()
    for indicator in config.indicators:
        figures = _figures(harmonised, indicator)
        years_with_data |= set(figures["school_year"].to_list())
        if indicator.source in sources_with_data and figures.is_empty():
            level = OWNER_LEVEL[indicator.owner]
            found = (
                harmonised.filter(
                    (pl.col("source") == indicator.source)
                    & (pl.col("level") == level)
                    & (pl.col("breakdown") == "")
                )
                .select(pl.format("{} {}", "indicator", "grade").unique().sort())
                .to_series()
                .to_list()
            )
            subject = f", subject {indicator.subject}" if indicator.subject else ""
            mismatched.append(
                f"{file} [[indicator]] '{indicator.id}': no figure in the data matches it (source "
                f"{indicator.source}, indicator {indicator.indicator}, grade {indicator.grade}{subject}, "
                f"{level} level); at that level {indicator.source} has "
                + (", ".join(found[:12]) if found else "no figures")
            )
    if mismatched:
        return mismatched
    window = config.window()
    empty = [year for year in window if year not in years_with_data]
    if empty:
        present = sorted(years_with_data)
        return [
            f"{file} [selection] window_years = {config.selection.window_years}: the window "
            f"{_span(window)} has school years without any figure for the configured indicators "
            f"({_span(empty)}); they have figures for " + (_span(present) if present else "no school year")
        ]
    if config.selection.allow_missing_data:
        return []
    problems = []
    for source, years, ids in missing_data(coverage):
        has = sorted(set(harmonised.filter(pl.col("source") == source)["school_year"].to_list()))
        problems.append(
            f"no figures from {source} for {_years(years)} (indicators {', '.join(ids)}; the window is "
            f"{_span(window)}, {source} has " + (_span(has) if has else "no files") + ")"
        )
    if problems:
        problems.append(
            "add the exports, choose another --year, or select on the data there is with --allow-missing "
            f"(allow_missing_data = true in {file}): the outputs then say what is missing"
        )
    return problems


def _scored(values: pl.DataFrame, ids: set[str], *, holistic: bool) -> int:
    """Units with at least one figure the method can use: a value beside the national level, and for the
    holistic method its standard error too."""
    usable = pl.col("indicator_id").is_in(list(ids)) & pl.col("value").is_not_null()
    usable &= pl.col("national").is_not_null()
    if holistic:
        usable &= pl.col("std_error").is_not_null()
    return values.filter(usable)["unit_code"].n_unique()


def count_problems(
    kommune_values: pl.DataFrame, county_values: pl.DataFrame, config: Config, file: str
) -> list[str]:
    """The counts of the configuration against the units there are figures to score.

    A fylkeskommune list with no unit to score is not refused: it says so for each fylkeskommune, and
    the kommune lists beside it stand.
    """
    kommune = {i.id for i in config.for_owner("kommune")}
    rule = {i.id for i in config.for_owner("kommune") if i.udir_rule}
    county = {i.id for i in config.for_owner("fylkeskommune")}
    checks = [
        (
            "[holistic] top_n",
            config.holistic.top_n,
            _scored(kommune_values, kommune, holistic=True),
            "kommuner",
        ),
        (
            "[selection] category_1_count",
            config.selection.category_1_count,
            _scored(kommune_values, rule, holistic=False) if rule else None,
            "kommuner (Udir's rule)",
        ),
        (
            "[holistic] fylkeskommune_top_n",
            config.holistic.fylkeskommune_top_n,
            _scored(county_values, county, holistic=True) or None,
            "fylkeskommuner",
        ),
    ]
    return [
        f"{file} {name} = {count}: only {scored} {units} have figures to score; expected 1–{scored}"
        if scored
        else f"{file} {name} = {count}: no {units} have figures to score in the window"
        for name, count, scored, units in checks
        if scored is not None and count > scored
    ]
