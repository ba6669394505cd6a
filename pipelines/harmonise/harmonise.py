"""Map every observation to one target kommune structure, without counting any figure twice.

For each published kommune (or fylke) row, the structure its code belongs to is the one the school
year nominally uses when the code is valid there, else the nearest structure where it is valid (Udir
back-fills 1-to-1 recodes under newer codes, and some files mix old and new codes). The mapping then
gives its target(s) and how:

``unchanged`` / ``recode``
    the published figure, renamed.
``merge``
    the parts of one structure combined: pupil-weighted means and shares, summed counts, and the
    standard error of a weighted mean. Suppressed parts are left out and named in ``lineage_note``;
    the merged row is suppressed only when every part is. Parts without pupil counts cannot be
    weighted: the row then has no value and says why.
``rebuilt_from_schools``
    a split kommune (1507 Ålesund → 1508 + 1580, 1850 Tysfjord, 5012 Snillfjord) rebuilt from the
    schools whose kommune in the target structure is known (from the newest file that lists them);
    the note gives the share of the old kommune's pupils covered.
``inherited``
    a split kommune's figure copied to each successor when no school rows rebuild it; the pupil count
    is apportioned by the mapping's nominal weight so that no pupil is counted twice.

When the same target figure can be had several ways (a figure published under both the old and the
new code), the first of unchanged → recode → merge → rebuilt → inherited wins, newer structures and
newer files first; the others are named in ``lineage_note`` and not counted.
A quarantined kommune or fylke row never changes a published figure silently: where it would have been
a part of a merge, or is the unit's own row that a split's inherited figure now stands in for, the
figure is withheld (no value, count or error) and ``lineage_note`` names the quarantined row and why;
where a figure is still the unit's own or rebuilt from schools, the note names it. A quarantined school
row withholds the split unit's figure rebuilt from schools that it would have been part of (its
successor known from the school's other rows; every successor of its split unit where not).
Pseudo-units (2100 Svalbard, 2599 Utlandet, 9999 Uoppgitt) keep their codes and ``is_pseudo`` is set
so that kommune comparisons leave them out.

The mappings and the target's names come from the reference stage (``kommune_mapping``,
``fylke_mapping``, ``kommune_register``; see :class:`Target`), so harmonising does not rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.reference.registers import (
    PSEUDO_COUNTIES,
    PSEUDO_MUNICIPALITIES,
    nominal_structure_of,
)
from pipelines.tables import (
    FIGURE_KEY,
    FIGURE_SEPARATOR,
    HARMONISED_KEY,
    HARMONISED_SCHEMA,
    LINEAGE_KINDS,
    QUARANTINED_FIGURE,
    quarantine_rows,
)

PRIORITY = {kind: rank for rank, kind in enumerate(LINEAGE_KINDS)}
# Figures that a quarantined part changes: a merge without one of its parts, an inherited figure in
# place of the unit's own quarantined row.
WITHHELD_WHEN_QUARANTINED = ("merge", "inherited")
# A split unit rebuilt from its schools: a quarantined school row would have been one of them.
REBUILT = "rebuilt_from_schools"
# What a quarantined row and a harmonised figure share, besides the unit.
QUARANTINE_MATCH = QUARANTINED_FIGURE[2:]


@dataclass(frozen=True)
class Target:
    """The target structure, the mappings into it and the names of its units."""

    structure: int
    municipality_links: pl.DataFrame  # source_structure, source_code, target_code, kind, weight
    county_links: pl.DataFrame
    municipality_names: dict[str, str]
    county_names: dict[str, str]

    @classmethod
    def from_tables(
        cls,
        structure: int,
        kommune_mapping: pl.DataFrame,
        fylke_mapping: pl.DataFrame,
        kommune_register: pl.DataFrame,
    ) -> Target:
        """The target from the reference stage's tables, so that harmonising does not rebuild them.

        ``kommune_register`` is :func:`~pipelines.reference.registers.municipality_register` of
        ``structure``; its fylker are the target's fylker.
        """
        counties = kommune_register.select("county_code", "county_name").unique().sort("county_code")
        return cls(
            structure=structure,
            municipality_links=kommune_mapping,
            county_links=fylke_mapping,
            municipality_names=dict(
                kommune_register.select("municipality_code", "municipality_name").iter_rows()
            ),
            county_names=dict(counties.iter_rows()),
        )


def resolve_structure(frame: pl.DataFrame, code_column: str, links: pl.DataFrame) -> pl.DataFrame:
    """Add ``structure``: the structure of ``code_column`` for each row (see the module docstring)."""
    valid = links.select(
        pl.col("source_structure").alias("structure"), pl.col("source_code").alias(code_column)
    ).unique()
    indexed = frame.with_row_index("_row").with_columns(
        nominal_structure_of(pl.col("school_year")).alias("_nominal")
    )
    candidates = (
        indexed.select("_row", code_column, "_nominal")
        .join(valid, on=code_column, how="inner")
        .with_columns((pl.col("structure") - pl.col("_nominal")).abs().alias("_distance"))
        .sort(["_row", "_distance", "structure"], descending=[False, False, True])
        .group_by("_row", maintain_order=True)
        .first()
        .select("_row", "structure")
    )
    return indexed.join(candidates, on="_row", how="left").drop("_row", "_nominal")


def _row_reference() -> pl.Expr:
    """A published row as ``file:line``: lineage names the rows a figure comes from."""
    return pl.format("{}:{}", "source_file", "source_line")


def _combine(parts: pl.DataFrame, group: list[str], kind: str, label: str) -> pl.DataFrame:
    """Pupil-weighted combination of parts (published ones only), with lineage."""
    # Sorted parts and ordered groups keep the float sums identical between runs.
    return (
        parts.sort(*group, "source_file", "source_line", nulls_last=True)
        .group_by(group, maintain_order=True)
        .agg(*_part_totals())
        .with_columns(*_combined_figures(kind, label))
    )


def _part_totals() -> list[pl.Expr]:
    """Per group: the weighted sums and the parts left out, which the combined figure is made from."""
    published = pl.col("value").is_not_null()
    weight = pl.col("n").cast(pl.Float64)

    def codes(where: pl.Expr) -> pl.Expr:
        """The parts' codes where ``where`` holds, for the note."""
        return pl.col("_code").filter(where).unique().sort().str.join(", ")

    return [
        (pl.col("value") * weight).filter(published).sum().alias("_weighted_sum"),
        weight.filter(published).sum().alias("_total"),
        (published & pl.col("n").is_null()).sum().alias("_missing_counts"),
        published.sum().alias("_published"),
        pl.col("std_error").filter(published).is_null().sum().alias("_missing_se"),
        ((weight * pl.col("std_error")) ** 2).filter(published).sum().alias("_se_sum"),
        pl.col("n").filter(published).sum().alias("n"),
        pl.col("suppressed").all().alias("suppressed"),
        pl.col("break_note").drop_nulls().unique().sort().str.join(" | ").alias("break_note"),
        pl.col("_code").unique().sort().str.join(", ").alias("lineage_sources"),
        codes(pl.col("suppressed")).alias("_suppressed_parts"),
        codes(published & pl.col("n").is_null()).alias("_uncounted"),
        _row_reference().sort().str.join("; ").alias("lineage_rows"),
        pl.col("structure").max().alias("_structure"),
        pl.col("source_file").max().alias("_file"),
    ]


def _combined_figures(kind: str, label: str) -> list[pl.Expr]:
    """The combined value, standard error and count, withheld where a part lacks what they need."""
    counted = (pl.col("_missing_counts") == 0) & (pl.col("_total") > 0)
    return [
        pl.when(counted).then(pl.col("_weighted_sum") / pl.col("_total")).otherwise(None).alias("value"),
        pl.when(counted & (pl.col("_missing_se") == 0))
        .then(pl.col("_se_sum").sqrt() / pl.col("_total"))
        .otherwise(None)
        .alias("std_error"),
        pl.when(pl.col("_published") == 0).then(None).otherwise(pl.col("n")).alias("n"),
        pl.lit(kind).alias("lineage"),
        pl.concat_str(
            pl.format("{} {} ({} codes); pupil-weighted", pl.lit(label), "lineage_sources", "_structure"),
            pl.when(pl.col("_suppressed_parts") != "")
            .then(pl.format("; suppressed parts left out: {}", "_suppressed_parts"))
            .otherwise(pl.lit("")),
            pl.when(pl.col("_uncounted") != "")
            .then(pl.format("; no value: pupil counts missing for {}", "_uncounted"))
            .otherwise(pl.lit("")),
        ).alias("lineage_note"),
    ]


OUTPUT_COLUMNS = [
    "value",
    "std_error",
    "n",
    "suppressed",
    "break_note",
    "lineage",
    "lineage_sources",
    "lineage_rows",
    "lineage_note",
]


def _finish_candidates(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Candidate rows in one shape, whatever way they were made, with the unit in ``unit_code``."""
    return frame.select(
        pl.col(unit).alias("unit_code"), *FIGURE_KEY, *OUTPUT_COLUMNS, "_structure", "_file"
    ).cast({"value": pl.Float64, "std_error": pl.Float64, "n": pl.Int64, "_structure": pl.Int32})


def _as_candidates(
    frame: pl.DataFrame, unit: str, *, lineage: pl.Expr, sources: pl.Expr, note: pl.Expr, structure: pl.Expr
) -> pl.DataFrame:
    """Published rows as candidates, each its own lineage: the figure is used as published."""
    return _finish_candidates(
        frame.with_columns(
            lineage.alias("lineage"),
            sources.alias("lineage_sources"),
            _row_reference().alias("lineage_rows"),
            note.alias("lineage_note"),
            structure.alias("_structure"),
            pl.col("source_file").alias("_file"),
        ),
        unit,
    )


@dataclass(frozen=True)
class _AreaLevel:
    """What harmonising kommuner and harmonising fylker differ in."""

    code_column: str  # the published code
    links: pl.DataFrame  # the mapping to the target structure
    school_column: str  # the school's unit in the target structure (school_directory)
    noun: str  # for lineage notes


def _harmonise_areas(
    rows: pl.DataFrame, schools: pl.DataFrame, level: _AreaLevel, quarantined: pl.DataFrame
) -> pl.DataFrame:
    """Kommune or fylke rows mapped to target units, one row per target unit × key."""
    linked = (
        resolve_structure(rows, level.code_column, level.links)
        .join(_links_by_code(level), on=["structure", level.code_column], how="inner")
        .with_columns(pl.col(level.code_column).alias("_code"))
    )
    split_rows = linked.filter(pl.col("kind") == "split")
    candidates = [
        _direct_candidates(linked, level.noun),
        _merged_candidates(linked.filter(pl.col("kind") == "merge"), level),
        _rebuilt_candidates(split_rows, schools, level),
        _inherited_candidates(split_rows, level.noun),
    ]
    chosen = _choose(pl.concat([frame for frame in candidates if frame is not None]))
    chosen = _mark_quarantined(chosen, _quarantined_targets(quarantined, level))
    # A school row only feeds a figure rebuilt from schools; other figures of its unit do not use it.
    return _mark_quarantined(
        chosen,
        _quarantined_school_targets(quarantined, schools, level),
        withheld_kinds=(REBUILT,),
        note_others=False,
    )


def _quarantined_targets(quarantined: pl.DataFrame, level: _AreaLevel) -> pl.DataFrame:
    """The target units and figures quarantined rows of this level would have fed, with the rows."""
    code = level.code_column
    rows = quarantined.filter(pl.col("level") == ("county" if code == "county_code" else "municipality"))
    linked = resolve_structure(rows.rename({"unit_code": code}), code, level.links).join(
        _links_by_code(level), on=["structure", code], how="inner"
    )
    return _by_target(linked)


def _quarantined_school_targets(
    quarantined: pl.DataFrame, schools: pl.DataFrame, level: _AreaLevel
) -> pl.DataFrame:
    """The split units' successors that quarantined school rows would have been rebuilt into.

    A quarantined figure names its school but not its kommune: that comes from the school's other rows
    (its other figures, other years). Where the school's successor is known (school_directory), that
    successor's figure rebuilt from schools lacked it; where it is not, any successor of a split
    kommune it was listed in might have, so all of them are named (withholding a figure too many rather
    than publishing one silently changed). Only figures rebuilt from schools are affected, so a school
    of a kommune that was not split changes nothing.
    """
    code = level.code_column
    rows = quarantined.filter(pl.col("level") == "school")
    if not (rows.height and schools.height):
        return pl.DataFrame(schema={"unit_code": pl.String, **dict.fromkeys(QUARANTINE_MATCH, pl.String)})
    # The school's successor is one per school (school_directory); its kommune codes, from any year.
    where = schools.select("unit_code", code, level.school_column).unique()
    located = rows.join(where, on="unit_code", how="inner")
    known = located.filter(pl.col(level.school_column).is_not_null()).with_columns(
        pl.col(level.school_column).alias("target_code")
    )
    unknown = resolve_structure(
        located.filter(pl.col(level.school_column).is_null() & pl.col(code).is_not_null()), code, level.links
    ).join(_links_by_code(level, "split"), on=["structure", code], how="inner")
    linked = pl.concat(
        [
            frame.select("target_code", *QUARANTINE_MATCH, "source_file", "source_line", "reason")
            for frame in (known, unknown)
        ]
    )
    return _by_target(linked)


def _by_target(linked: pl.DataFrame) -> pl.DataFrame:
    """One row per target figure, naming every quarantined row (file:line and reason) that fed it."""
    return linked.group_by(pl.col("target_code").alias("unit_code"), *QUARANTINE_MATCH).agg(
        pl.format("{}:{} ({})", "source_file", "source_line", "reason")
        .unique()
        .sort()
        .str.join("; ")
        .alias("_quarantined")
    )


def _match_key() -> pl.Expr:
    return pl.concat_str([pl.col(c).fill_null("") for c in ("unit_code", *QUARANTINE_MATCH)], separator="|")


def _mark_quarantined(
    chosen: pl.DataFrame,
    targets: pl.DataFrame,
    withheld_kinds: tuple[str, ...] = WITHHELD_WHEN_QUARANTINED,
    note_others: bool = True,
) -> pl.DataFrame:
    """Withhold or annotate the figures a quarantined row would have fed (see the module docstring)."""
    if targets.is_empty():
        return chosen
    keyed = chosen.with_columns(_match_key().alias("_match")).join(
        targets.select(_match_key().alias("_match"), "_quarantined"), on="_match", how="left"
    )
    hit = pl.col("_quarantined").is_not_null()
    withheld = hit & pl.col("lineage").is_in(list(withheld_kinds))
    separator = pl.when(pl.col("lineage_note") != "").then(pl.lit("; ")).otherwise(pl.lit(""))
    return keyed.with_columns(
        *[
            pl.when(withheld).then(None).otherwise(pl.col(name)).alias(name)
            for name in ("value", "std_error", "n")
        ],
        pl.when(withheld)
        .then(
            pl.format(
                "{}{}withheld: a row it is made from or stands in for was quarantined: {}",
                "lineage_note",
                separator,
                "_quarantined",
            )
        )
        .when(hit & note_others)
        .then(
            pl.format(
                "{}{}a quarantined row also maps here, not used: {}",
                "lineage_note",
                separator,
                "_quarantined",
            )
        )
        .otherwise(pl.col("lineage_note"))
        .alias("lineage_note"),
    ).drop("_match", "_quarantined")


def quarantined_figures(quarantine: pl.DataFrame | None) -> pl.DataFrame:
    """The quarantined rows that were figures, their figure split into its parts."""
    schema = {name: pl.String for name in ("source_file", "reason", *QUARANTINED_FIGURE)}
    if quarantine is None or "figure" not in quarantine.columns:
        return pl.DataFrame(schema={**schema, "source_line": pl.Int64})
    parts = pl.col("figure").str.split(FIGURE_SEPARATOR)
    return quarantine.filter(pl.col("figure").is_not_null()).select(
        "source_file",
        "source_line",
        "reason",
        *[parts.list.get(i).replace("", None).alias(name) for i, name in enumerate(QUARANTINED_FIGURE)],
    )


def _links_by_code(level: _AreaLevel, kind: str | None = None) -> pl.DataFrame:
    """The mapping (or its links of one kind) keyed as the rows are: ``structure`` and the code column."""
    links = level.links if kind is None else level.links.filter(pl.col("kind") == kind)
    return links.rename({"source_structure": "structure", "source_code": level.code_column})


def _direct_candidates(linked: pl.DataFrame, noun: str) -> pl.DataFrame:
    """Rows whose code is unchanged or recoded: the published figure, under the target code."""
    return _as_candidates(
        linked.filter(pl.col("kind").is_in(["unchanged", "recode"])),
        "target_code",
        lineage=pl.col("kind"),
        sources=pl.col("_code"),
        note=pl.when(pl.col("kind") == "recode")
        .then(pl.format("{} {} ({} codes) recoded", pl.lit(noun), "_code", "structure"))
        .otherwise(pl.lit("")),
        structure=pl.col("structure"),
    )


def _merged_candidates(parts: pl.DataFrame, level: _AreaLevel) -> pl.DataFrame | None:
    """Merged units combined from their parts, naming the parts the data lack."""
    if not parts.height:
        return None
    merged = _combine(parts, ["target_code", *FIGURE_KEY, "structure"], "merge", f"merge of {level.noun}r")
    expected = (
        level.links.filter(pl.col("kind") == "merge")
        .group_by("source_structure", "target_code")
        .agg(pl.col("source_code").sort().alias("_expected"))
        .rename({"source_structure": "structure"})
    )
    absent = (
        pl.col("_expected")
        .list.set_difference(pl.col("lineage_sources").str.split(", "))
        .list.sort()
        .list.join(", ")
    )
    merged = (
        merged.join(expected, on=["structure", "target_code"], how="left")
        .with_columns(absent.alias("_absent"))
        .with_columns(
            pl.when(pl.col("_absent") != "")
            .then(pl.format("{}; parts not in the data (left out): {}", "lineage_note", "_absent"))
            .otherwise(pl.col("lineage_note"))
            .alias("lineage_note")
        )
    )
    return _finish_candidates(merged, "target_code")


def _rebuilt_candidates(
    split_rows: pl.DataFrame, schools: pl.DataFrame, level: _AreaLevel
) -> pl.DataFrame | None:
    """Split units rebuilt from the schools now in each successor, with the share of pupils covered."""
    code = level.code_column
    split_links = _links_by_code(level, "split")
    if not (split_links.height and schools.height):
        return None
    school_parts = (
        resolve_structure(schools.filter(pl.col(code).is_not_null()), code, level.links)
        .join(split_links, on=["structure", code], how="inner")
        .filter(pl.col("target_code") == pl.col(level.school_column))
        .with_columns(pl.col("unit_code").alias("_code"))
    )
    if not school_parts.height:
        return None
    group = ["target_code", *FIGURE_KEY, code]
    rebuilt = _combine(school_parts, [*group, "structure"], "rebuilt_from_schools", "rebuilt from schools")
    whole = split_rows.select(*group, pl.col("n").alias("_whole_n"))
    rebuilt = rebuilt.join(whole, on=group, how="left", nulls_equal=True).with_columns(
        _rebuilt_note(level).alias("lineage_note"),
        pl.format("{} (schools: {})", pl.col(code), "lineage_sources").alias("lineage_sources"),
    )
    return _finish_candidates(rebuilt, "target_code")


def _rebuilt_note(level: _AreaLevel) -> pl.Expr:
    """Which unit was rebuilt and, where its own count is published, how much of it the schools cover."""
    coverage = ((pl.col("n") / pl.col("_whole_n")) * 100).round(0).cast(pl.Int64)
    return pl.format(
        "{} {} split; rebuilt from its schools now in this {}{}",
        pl.lit(level.noun),
        pl.col(level.code_column),
        pl.lit(level.noun),
        pl.when(pl.col("_whole_n") > 0)
        .then(pl.format(" (covering {} % of its pupils)", coverage))
        .otherwise(pl.lit("")),
    )


def _inherited_candidates(split_rows: pl.DataFrame, noun: str) -> pl.DataFrame | None:
    """A split unit's figure for each successor, its pupils apportioned so that none count twice."""
    if not split_rows.height:
        return None
    return _as_candidates(
        split_rows.with_columns((pl.col("n") * pl.col("weight")).round(0).cast(pl.Int64).alias("n")),
        "target_code",
        lineage=pl.lit("inherited"),
        sources=pl.col("_code"),
        note=pl.format(
            "{} {} split and no school rows rebuild it: the whole {}'s figure is inherited; "
            "pupil count apportioned by nominal share {}",
            pl.lit(noun),
            "_code",
            pl.lit(noun),
            pl.col("weight").round(3),
        ),
        structure=pl.col("structure"),
    )


def _choose(candidates: pl.DataFrame) -> pl.DataFrame:
    """One row per target unit × key: the best candidate, naming the ones not counted."""
    group = ["unit_code", *FIGURE_KEY]
    ranked = candidates.with_columns(
        pl.col("lineage").replace_strict(PRIORITY, return_dtype=pl.Int32).alias("_priority")
    ).sort(["_priority", "_structure", "_file", "lineage_rows"], descending=[False, True, True, False])
    ranked = ranked.with_columns(pl.int_range(pl.len()).over(group).alias("_rank"))
    others = (
        ranked.filter(pl.col("_rank") > 0)
        .group_by(group)
        .agg(pl.format("{} ({})", "lineage_sources", "lineage").str.join(", ").alias("_others"))
    )
    best = ranked.filter(pl.col("_rank") == 0).join(others, on=group, how="left", nulls_equal=True)
    return best.with_columns(
        pl.concat_str(
            "lineage_note",
            pl.when(pl.col("_others").is_not_null())
            .then(
                pl.format(
                    "{}also published as {}; not counted twice",
                    pl.when(pl.col("lineage_note") != "").then(pl.lit("; ")).otherwise(pl.lit("")),
                    "_others",
                )
            )
            .otherwise(pl.lit("")),
        ).alias("lineage_note")
    ).drop("_priority", "_rank", "_others", "_structure", "_file")


def _newest_per_school(frame: pl.DataFrame) -> pl.DataFrame:
    """Each school's row from the newest school year and file: the newest export says where it is now."""
    return (
        frame.sort("school_year", "source_file", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
    )


def school_directory(schools: pl.DataFrame, target: Target) -> pl.DataFrame:
    """Each school's kommune and fylke in the target structure, where known.

    Known from the newest row that lists the school under a code valid in the target structure, else
    from the mapping of its kommune when that is not a split.
    """
    with_municipality = resolve_structure(
        schools.filter(pl.col("municipality_code").is_not_null()),
        "municipality_code",
        target.municipality_links,
    )
    return (
        schools.select("unit_code")
        .unique()
        .join(_listed_in_target(with_municipality, target), on="unit_code", how="left")
        .join(_mapped_to_target(with_municipality, target), on="unit_code", how="left")
        .join(_county_listed_in_target(schools, target), on="unit_code", how="left")
        .with_columns(pl.coalesce("target_municipality", "_mapped").alias("target_municipality"))
        .with_columns(
            pl.coalesce(pl.col("target_municipality").str.slice(0, 2), "_county_direct").alias(
                "target_county"
            )
        )
        .select("unit_code", "target_municipality", "target_county")
    )


def _listed_in_target(with_municipality: pl.DataFrame, target: Target) -> pl.DataFrame:
    """The kommune a school was last listed under in the target structure's own codes."""
    listed = with_municipality.filter(
        (pl.col("structure") == target.structure)
        & pl.col("municipality_code").is_in(list(target.municipality_names))
    )
    return _newest_per_school(listed).select(
        "unit_code", pl.col("municipality_code").alias("target_municipality")
    )


def _mapped_to_target(with_municipality: pl.DataFrame, target: Target) -> pl.DataFrame:
    """The target kommune of a school's newest kommune, where that kommune was not split."""
    single = target.municipality_links.filter(pl.col("kind") != "split").select(
        pl.col("source_structure").alias("structure"),
        pl.col("source_code").alias("municipality_code"),
        pl.col("target_code").alias("_mapped"),
    )
    mapped = with_municipality.join(single, on=["structure", "municipality_code"], how="inner")
    return _newest_per_school(mapped).select("unit_code", "_mapped")


def _county_listed_in_target(schools: pl.DataFrame, target: Target) -> pl.DataFrame:
    """The fylke a school was last listed under in a year of the target structure, if no kommune places it."""
    listed = schools.filter(pl.col("county_code").is_in(list(target.county_names))).filter(
        nominal_structure_of(pl.col("school_year")) == target.structure
    )
    return _newest_per_school(listed).select("unit_code", pl.col("county_code").alias("_county_direct"))


def harmonise(
    observations: pl.DataFrame, target: Target, quarantine: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``harmonised_observations`` and the rows that could not be placed (with the reason).

    ``quarantine`` (the validated stage's) says which kommune and fylke rows were set aside.
    """
    schools = _place_schools(observations, target)
    quarantined = quarantined_figures(quarantine)
    harmonised = _assemble(
        _national_rows(observations),
        _county_rows(observations, schools, target, quarantined),
        _municipality_rows(observations, schools, target, quarantined),
        _school_rows(schools),
    )
    return harmonised, _unplaced_rows(observations, target)


def _place_schools(observations: pl.DataFrame, target: Target) -> pl.DataFrame:
    """School rows with their unit in the target structure: they rebuild split kommuner and fylker."""
    schools = observations.filter((pl.col("level") == "school") & pl.col("unit_code").is_not_null())
    return schools.join(school_directory(schools, target), on="unit_code", how="left")


def _municipality_rows(
    observations: pl.DataFrame, schools: pl.DataFrame, target: Target, quarantined: pl.DataFrame
) -> pl.DataFrame:
    """Kommune figures in the target kommuner, named and flagged as the target register has them."""
    level = _AreaLevel("municipality_code", target.municipality_links, "target_municipality", "kommune")
    return _harmonise_areas(
        observations.filter(pl.col("level") == "municipality"), schools, level, quarantined
    ).with_columns(
        pl.lit("municipality").alias("level"),
        pl.col("unit_code").alias("municipality_code"),
        pl.col("unit_code").str.slice(0, 2).alias("county_code"),
        pl.col("unit_code").is_in(list(PSEUDO_MUNICIPALITIES)).alias("is_pseudo"),
        pl.col("unit_code").replace_strict(target.municipality_names, default=None).alias("unit_name"),
    )


def _county_rows(
    observations: pl.DataFrame, schools: pl.DataFrame, target: Target, quarantined: pl.DataFrame
) -> pl.DataFrame:
    """Fylke figures in the target fylker, named and flagged as the target register has them."""
    level = _AreaLevel("county_code", target.county_links, "target_county", "fylke")
    areas = _harmonise_areas(observations.filter(pl.col("level") == "county"), schools, level, quarantined)
    return areas.with_columns(
        pl.lit("county").alias("level"),
        pl.lit(None, pl.String).alias("municipality_code"),
        pl.col("unit_code").alias("county_code"),
        pl.col("unit_code").is_in(list(PSEUDO_COUNTIES)).alias("is_pseudo"),
        pl.col("unit_code").replace_strict(target.county_names, default=None).alias("unit_name"),
    )


def _school_rows(schools: pl.DataFrame) -> pl.DataFrame:
    """Schools keep their figures; they take their newest name and their kommune in the target."""
    known = pl.col("target_municipality").is_not_null()
    unchanged = (pl.col("municipality_code") == pl.col("target_municipality")) | (
        pl.col("municipality_code").is_null() & (pl.col("county_code") == pl.col("target_county"))
    )
    candidates = _as_candidates(
        schools,
        "unit_code",
        lineage=pl.when(unchanged).then(pl.lit("unchanged")).otherwise(pl.lit("recode")),
        sources=pl.coalesce("municipality_code", "county_code"),
        note=pl.when(~known & pl.col("municipality_code").is_not_null())
        .then(pl.lit("the school's kommune in the target structure is unknown (kommune split)"))
        .otherwise(pl.lit("")),
        structure=pl.lit(0, pl.Int32),
    )
    newest = _newest_per_school(schools).select(
        "unit_code", "unit_name", "target_municipality", "target_county"
    )
    pseudo = (
        pl.col("unit_code").str.starts_with("U")
        | pl.col("target_municipality").is_in(list(PSEUDO_MUNICIPALITIES))
        | pl.col("target_county").is_in(list(PSEUDO_COUNTIES))
    )
    return (
        _choose(candidates)
        .join(newest, on="unit_code", how="left")
        .with_columns(
            pl.lit("school").alias("level"),
            pl.col("target_municipality").alias("municipality_code"),
            pl.col("target_county").alias("county_code"),
            pseudo.fill_null(False).alias("is_pseudo"),
        )
    )


def _national_rows(observations: pl.DataFrame) -> pl.DataFrame:
    """National figures as published: the nation has no structure to map."""
    candidates = _as_candidates(
        observations.filter(pl.col("level") == "national"),
        "unit_code",
        lineage=pl.lit("unchanged"),
        sources=pl.col("unit_code"),
        note=pl.lit(""),
        structure=pl.lit(0, pl.Int32),
    )
    nation = pl.col("unit_code") == "I"
    return _choose(candidates).with_columns(
        pl.lit("national").alias("level"),
        pl.lit(None, pl.String).alias("municipality_code"),
        pl.lit(None, pl.String).alias("county_code"),
        (~nation).alias("is_pseudo"),
        pl.when(nation).then(pl.lit("Hele landet")).otherwise(pl.lit("Utlandet")).alias("unit_name"),
    )


def _assemble(*levels: pl.DataFrame) -> pl.DataFrame:
    """Every level in the harmonised table's shape and order; an empty note is no note."""
    return (
        pl.concat([frame.select(list(HARMONISED_SCHEMA)).cast(HARMONISED_SCHEMA) for frame in levels])
        .with_columns(pl.col("lineage_note").replace("", None))
        .sort(list(HARMONISED_KEY), nulls_last=True)
    )


def _unplaced_rows(observations: pl.DataFrame, target: Target) -> pl.DataFrame:
    """Rows the target cannot hold, as quarantine rows with the reason: they stay in the observations."""
    mapped_municipalities = target.municipality_links["source_code"].unique().to_list()
    mapped_counties = target.county_links["source_code"].unique().to_list()
    level = pl.col("level")
    reason = (
        pl.when((level == "school") & pl.col("unit_code").is_null())
        .then(pl.lit("school named without an organisation number: kept in observations, not harmonised"))
        .when((level == "municipality") & ~pl.col("municipality_code").is_in(mapped_municipalities))
        .then(
            pl.format(
                "kommune {} has no mapping to the {} structure", "municipality_code", pl.lit(target.structure)
            )
        )
        .when((level == "county") & ~pl.col("county_code").is_in(mapped_counties))
        .then(
            pl.format("fylke {} has no mapping to the {} structure", "county_code", pl.lit(target.structure))
        )
    )
    unplaced = observations.with_columns(reason.alias("reason")).filter(pl.col("reason").is_not_null())
    return quarantine_rows(unplaced, pl.col("reason"))


def newest_school_names(harmonised: pl.DataFrame) -> pl.DataFrame:
    """Each school's newest name."""
    return (
        harmonised.filter(pl.col("level") == "school")
        .sort("school_year", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", "unit_name")
    )
