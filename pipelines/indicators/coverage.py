"""Which figures the configuration finds in the data, and the configuration's checks against the data.

The configuration alone is checked when it is read (:mod:`pipelines.config`); what depends on the data
is checked here, after the indicators and before the selection writes anything:

- an indicator whose source has figures but none of them the indicator's (a misspelt ``indicator``,
  ``grade`` or ``subject``) is an error naming it: it would otherwise drop out of the selection unseen;
- a source with no file at all in the raw folder is not an error: the selection runs on the sources
  there are, without the areas and indicators they feed, and every output says so (:func:`data_gaps`);
- a school year of the window without figures from a source that has files stops the run, naming the
  source and years (it looks like a truncated delivery), unless the configuration allows missing data;
  the outputs then say what is missing (this table);
- a window reaching school years without any figure at all is refused in any case;
- ``top_n``, ``category_1_count`` and ``fylkeskommune_top_n`` must be at most the units scored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from pipelines.config import Config, Indicator
from pipelines.indicators.values import selector
from pipelines.vocabulary import AREA_LABELS, AREAS, OWNERS, SOURCE_LABELS, SOURCES

# The level an owner's figures are published at: a kommune's indicators at kommune level, a
# fylkeskommune's at fylke level.
OWNER_LEVEL = {"kommune": "municipality", "fylkeskommune": "county"}

COVERAGE_SCHEMA = pl.Schema(
    {
        "indicator_id": pl.String(),
        "owner": pl.String(),
        "source": pl.String(),
        "area": pl.String(),
        "udir_rule": pl.Boolean(),
        "source_files": pl.Int64(),  # the raw folder's files of the indicator's source (0: none at all)
        "school_year": pl.String(),
        "rows": pl.Int64(),  # the indicator's figures at its owner's level in that year
        "missing": pl.Boolean(),
    }
)


def _figures(harmonised: pl.DataFrame, indicator: Indicator) -> pl.DataFrame:
    return harmonised.filter(
        selector(indicator) & (pl.col("level") == OWNER_LEVEL[indicator.owner]) & ~pl.col("is_pseudo")
    )


def data_coverage(harmonised: pl.DataFrame, config: Config, raw_files: pl.DataFrame) -> pl.DataFrame:
    """One row per configured indicator and school year of the window: how many figures there are, and
    how many files of its source the raw folder holds (``raw_files``, one row per file with its
    ``source``)."""
    files = dict(raw_files.group_by("source").len().iter_rows())
    rows = []
    for indicator in config.indicators:
        counts = dict(_figures(harmonised, indicator).group_by("school_year").len().iter_rows())
        for year in config.window():
            found = int(counts.get(year, 0))
            rows.append(
                (
                    indicator.id,
                    indicator.owner,
                    indicator.source,
                    indicator.area,
                    indicator.udir_rule,
                    int(files.get(indicator.source, 0)),
                    year,
                    found,
                    found == 0,
                )
            )
    return pl.DataFrame(rows, schema=COVERAGE_SCHEMA, orient="row")


def absent_sources(coverage: pl.DataFrame) -> list[str]:
    """The configured sources the raw folder has no file of, in the vocabulary's order."""
    absent = set(coverage.filter(pl.col("source_files") == 0)["source"].to_list())
    return [source for source in SOURCES if source in absent]


@dataclass(frozen=True)
class DataGaps:
    """What a selection lacks, read from ``data_coverage``: the one answer every output renders (in
    bokmål, :mod:`pipelines.outputs.method_text`) to say which sources, areas and indicators are missing.
    """

    absent_sources: tuple[str, ...]  # configured sources without any file in the raw folder
    # Sources with files but without figures for school years of the window (allow_missing_data).
    short_sources: tuple[tuple[str, tuple[str, ...]], ...]
    areas: dict[str, tuple[str, ...]]  # owner → the configured areas with figures in the window
    missing_areas: dict[str, tuple[str, ...]]  # owner → the configured areas without any figure
    # owner → indicators without any figure in the window (their whole area may still be there)
    missing_indicators: dict[str, tuple[str, ...]]
    # Udir's indicators lacking figures for some or all years of the window: id → those school years
    missing_rule_years: dict[str, tuple[str, ...]]

    @property
    def complete(self) -> bool:
        return not (self.absent_sources or self.short_sources)


def data_gaps(coverage: pl.DataFrame) -> DataGaps:
    """The sources, areas and indicators the selection lacks (see :class:`DataGaps`)."""
    absent = absent_sources(coverage)
    short = tuple(
        (source, tuple(years)) for source, years, _ in missing_data(coverage) if source not in absent
    )
    found = coverage.group_by("owner", "area", "indicator_id").agg(pl.col("rows").sum().alias("rows"))
    areas: dict[str, tuple[str, ...]] = {}
    missing_areas: dict[str, tuple[str, ...]] = {}
    missing_indicators: dict[str, tuple[str, ...]] = {}
    for owner in OWNERS:
        mine = found.filter(pl.col("owner") == owner)
        with_figures = set(mine.filter(pl.col("rows") > 0)["area"].to_list())
        configured = set(mine["area"].to_list())
        areas[owner] = tuple(a for a in AREAS if a in with_figures)
        missing_areas[owner] = tuple(a for a in AREAS if a in configured - with_figures)
        missing_indicators[owner] = tuple(sorted(mine.filter(pl.col("rows") == 0)["indicator_id"].to_list()))
    rule = coverage.filter(pl.col("udir_rule") & (pl.col("owner") == "kommune") & pl.col("missing"))
    missing_rule_years = {
        ident: tuple(sorted(years))
        for ident, years in rule.group_by("indicator_id").agg("school_year").sort("indicator_id").iter_rows()
    }
    return DataGaps(tuple(absent), short, areas, missing_areas, missing_indicators, missing_rule_years)


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


def _or(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " eller " + items[-1] if len(items) > 1 else "".join(items)


def missing_data_text(coverage: pl.DataFrame) -> str:
    """What is missing, in bokmål for a governor, for the outputs' "Laget av" line (empty when nothing
    is): ``ingen filer fra gjennomføring; uten tall for nasjonale prøver 2019-20 og 2020-21; utvalget
    bygger på tallene som finnes``."""
    gaps = data_gaps(coverage)
    parts = []
    if gaps.absent_sources:
        parts.append(f"ingen filer fra {_or([SOURCE_LABELS[s] for s in gaps.absent_sources])}")
    if gaps.short_sources:
        years = [f"{SOURCE_LABELS.get(source, source)} {_and(list(y))}" for source, y in gaps.short_sources]
        parts.append(f"uten tall for {' og for '.join(years)}")
    if not parts:
        return ""
    return "; ".join(parts) + "; utvalget bygger på tallene som finnes"


def _why(sources: set[str], gaps: DataGaps) -> str:
    """Why figures of ``sources`` are missing: no file in the folder, or years without figures."""
    absent = [SOURCE_LABELS[s] for s in gaps.absent_sources if s in sources]
    parts = [f"mappen har ingen filer fra {_or(absent)}"] if absent else []
    parts += [
        f"{SOURCE_LABELS[source]} har ingen tall for {_and(list(years))}"
        for source, years in gaps.short_sources
        if source in sources
    ]
    return "; ".join(parts)


_OWNER_WORDS = {"kommune": "kommunene", "fylkeskommune": "fylkeskommunene"}


def ranking_note(gaps: DataGaps, config: Config, owner: str) -> str:
    """In bokmål: what the holistic ranking of ``owner``'s units is without, and why (empty when it has
    every configured area and indicator): ``Rangeringen av kommunene bygger bare på læringsresultater:
    mappen har ingen filer fra Elevundersøkelsen, grunnskolepoeng eller gjennomføring.``"""
    lost = set(gaps.missing_indicators[owner])
    if not lost:
        return ""
    indicators = [i for i in config.for_owner(owner) if i.id in lost]
    why = _why({i.source for i in indicators}, gaps)
    units = _OWNER_WORDS[owner]
    if not gaps.areas[owner]:
        return f"{units.capitalize()} er ikke rangert: {why}."
    if gaps.missing_areas[owner]:
        kept = _and([AREA_LABELS[a] for a in gaps.areas[owner]])
        return f"Rangeringen av {units} bygger bare på {kept}: {why}."
    return f"Rangeringen av {units} er uten {_and([f'«{i.label}»' for i in indicators])}: {why}."


def rule_note(gaps: DataGaps, config: Config) -> str:
    """In bokmål: that the rule computed is not Udir's full rule, naming the indicators (and years) it
    lacks and why (empty when it has them all)."""
    if not gaps.missing_rule_years:
        return ""
    window = config.window()
    rule = [i for i in config.for_owner("kommune") if i.udir_rule]
    lacking = [i for i in rule if i.id in gaps.missing_rule_years]
    named = [
        f"«{i.label}»"
        if len(gaps.missing_rule_years[i.id]) == len(window)
        else f"«{i.label}» ({_and(list(gaps.missing_rule_years[i.id]))})"
        for i in lacking
    ]
    why = _why({i.source for i in lacking}, gaps)
    whole = all(len(gaps.missing_rule_years.get(i.id, ())) == len(window) for i in rule)
    if whole:
        return f"Udirs regel kan ikke regnes: {why}."
    return (
        f"Udirs kategorier bygger ikke på Udirs fulle regel: de er uten {_and(named)}, fordi {why}. "
        "Andelen risikopoeng er regnet av de tallene som finnes."
    )


def list_note(gaps: DataGaps, config: Config, owner: str) -> str:
    """What ``owner``'s list lacks, in bokmål: its holistic ranking and, for the kommuner, Udir's rule
    (empty when nothing is missing)."""
    notes = [ranking_note(gaps, config, owner)] + ([rule_note(gaps, config)] if owner == "kommune" else [])
    return " ".join(note for note in notes if note)


def gap_notes(gaps: DataGaps, config: Config) -> list[str]:
    """Every list's note on what the selection lacks (empty when nothing is missing)."""
    return [note for note in (list_note(gaps, config, owner) for owner in OWNERS) if note]


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
    absent = set(absent_sources(coverage))
    for source, years, ids in missing_data(coverage):
        if source in absent:
            continue  # no file of it at all: selected without it, and every output says so
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
    kommune_values: pl.DataFrame,
    county_values: pl.DataFrame,
    config: Config,
    file: str,
    absent: Collection[str] = (),
) -> list[str]:
    """The counts of the configuration against the units there are figures to score.

    A fylkeskommune list with no unit to score is not refused: it says so for each fylkeskommune, and
    the kommune lists beside it stand. Nor is a list whose every indicator comes from a source the raw
    folder has no file of (``absent``): the outputs say that it could not be made.
    """
    present = [i for i in config.indicators if i.source not in absent]
    kommune = {i.id for i in present if i.owner == "kommune"}
    rule = {i.id for i in present if i.owner == "kommune" and i.udir_rule}
    county = {i.id for i in present if i.owner == "fylkeskommune"}
    checks = [
        (
            "[holistic] top_n",
            config.holistic.top_n,
            _scored(kommune_values, kommune, holistic=True) if kommune else None,
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
