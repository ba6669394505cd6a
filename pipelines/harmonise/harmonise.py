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
Pseudo-units (2100 Svalbard, 2599 Utlandet, 9999 Uoppgitt) keep their codes and ``is_pseudo`` is set
so that kommune comparisons leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.reference.mapping import Change, target_mappings
from pipelines.reference.registers import (
    PSEUDO_COUNTIES,
    PSEUDO_MUNICIPALITIES,
    Registers,
    municipality_register,
    nominal_structure_of,
)
from pipelines.tables import FIGURE_KEY, HARMONISED_KEY, HARMONISED_SCHEMA, LINEAGE_KINDS, quarantine_rows

PRIORITY = {kind: rank for rank, kind in enumerate(LINEAGE_KINDS)}


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
    return pl.format("{}:{}", "source_file", "source_line")


def _combine(parts: pl.DataFrame, group: list[str], kind: str, label: str) -> pl.DataFrame:
    """Pupil-weighted combination of parts (published ones only), with lineage."""
    published = pl.col("value").is_not_null()
    weight = pl.col("n").cast(pl.Float64)
    total = weight.filter(published).sum()
    # Sorted parts and ordered groups keep the float sums identical between runs.
    return (
        parts.sort(*group, "source_file", "source_line", nulls_last=True)
        .group_by(group, maintain_order=True)
        .agg(
            (pl.col("value") * weight).filter(published).sum().alias("_weighted_sum"),
            total.alias("_total"),
            (published & pl.col("n").is_null()).sum().alias("_missing_counts"),
            published.sum().alias("_published"),
            pl.col("std_error").filter(published).is_null().sum().alias("_missing_se"),
            ((weight * pl.col("std_error")) ** 2).filter(published).sum().alias("_se_sum"),
            pl.col("n").filter(published).sum().alias("n"),
            pl.col("suppressed").all().alias("suppressed"),
            pl.col("break_note").drop_nulls().unique().sort().str.join(" | ").alias("break_note"),
            pl.col("_code").unique().sort().str.join(", ").alias("lineage_sources"),
            pl.col("_code")
            .filter(pl.col("suppressed"))
            .unique()
            .sort()
            .str.join(", ")
            .alias("_suppressed_parts"),
            pl.col("_code")
            .filter(published & pl.col("n").is_null())
            .unique()
            .sort()
            .str.join(", ")
            .alias("_uncounted"),
            _row_reference().sort().str.join("; ").alias("lineage_rows"),
            pl.col("structure").max().alias("_structure"),
            pl.col("source_file").max().alias("_file"),
        )
        .with_columns(
            pl.when((pl.col("_missing_counts") == 0) & (pl.col("_total") > 0))
            .then(pl.col("_weighted_sum") / pl.col("_total"))
            .otherwise(None)
            .alias("value"),
            pl.when((pl.col("_missing_counts") == 0) & (pl.col("_missing_se") == 0) & (pl.col("_total") > 0))
            .then(pl.col("_se_sum").sqrt() / pl.col("_total"))
            .otherwise(None)
            .alias("std_error"),
            pl.when(pl.col("_published") == 0).then(None).otherwise(pl.col("n")).alias("n"),
            pl.lit(kind).alias("lineage"),
            pl.concat_str(
                pl.format(
                    "{} {} ({} codes); pupil-weighted",
                    pl.lit(label),
                    "lineage_sources",
                    "_structure",
                ),
                pl.when(pl.col("_suppressed_parts") != "")
                .then(pl.format("; suppressed parts left out: {}", "_suppressed_parts"))
                .otherwise(pl.lit("")),
                pl.when(pl.col("_uncounted") != "")
                .then(pl.format("; no value: pupil counts missing for {}", "_uncounted"))
                .otherwise(pl.lit("")),
            ).alias("lineage_note"),
        )
    )


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


def _harmonise_areas(
    rows: pl.DataFrame,
    code_column: str,
    links: pl.DataFrame,
    schools: pl.DataFrame,
    school_target_column: str,
    noun: str,
) -> pl.DataFrame:
    """Kommune or fylke rows mapped to target units, one row per target unit × key."""
    resolved = resolve_structure(rows, code_column, links)
    linked = resolved.join(
        links.rename({"source_structure": "structure", "source_code": code_column}),
        on=["structure", code_column],
        how="inner",
    ).with_columns(pl.col(code_column).alias("_code"))
    candidates: list[pl.DataFrame] = []

    direct = linked.filter(pl.col("kind").is_in(["unchanged", "recode"])).with_columns(
        pl.col("kind").alias("lineage"),
        pl.col("_code").alias("lineage_sources"),
        _row_reference().alias("lineage_rows"),
        pl.when(pl.col("kind") == "recode")
        .then(pl.format("{} {} ({} codes) recoded", pl.lit(noun), "_code", "structure"))
        .otherwise(pl.lit(""))
        .alias("lineage_note"),
        pl.col("structure").alias("_structure"),
        pl.col("source_file").alias("_file"),
    )
    candidates.append(_finish_candidates(direct, "target_code"))

    merged_parts = linked.filter(pl.col("kind") == "merge")
    if merged_parts.height:
        merged = _combine(
            merged_parts, ["target_code", *FIGURE_KEY, "structure"], "merge", f"merge of {noun}r"
        )
        expected = (
            links.filter(pl.col("kind") == "merge")
            .group_by("source_structure", "target_code")
            .agg(pl.col("source_code").sort().alias("_expected"))
            .rename({"source_structure": "structure"})
        )
        merged = (
            merged.join(expected, on=["structure", "target_code"], how="left")
            .with_columns(
                pl.col("_expected")
                .list.set_difference(pl.col("lineage_sources").str.split(", "))
                .list.sort()
                .list.join(", ")
                .alias("_absent")
            )
            .with_columns(
                pl.when(pl.col("_absent") != "")
                .then(pl.format("{}; parts not in the data (left out): {}", "lineage_note", "_absent"))
                .otherwise(pl.col("lineage_note"))
                .alias("lineage_note")
            )
        )
        candidates.append(_finish_candidates(merged, "target_code"))

    split_links = links.filter(pl.col("kind") == "split")
    split_rows = linked.filter(pl.col("kind") == "split")
    if split_links.height and schools.height:
        school_parts = (
            resolve_structure(schools.filter(pl.col(code_column).is_not_null()), code_column, links)
            .join(
                split_links.rename({"source_structure": "structure", "source_code": code_column}),
                on=["structure", code_column],
                how="inner",
            )
            .filter(pl.col("target_code") == pl.col(school_target_column))
            .with_columns(pl.col("unit_code").alias("_code"))
        )
        if school_parts.height:
            rebuilt = _combine(
                school_parts,
                ["target_code", *FIGURE_KEY, code_column, "structure"],
                "rebuilt_from_schools",
                "rebuilt from schools",
            )
            whole = split_rows.select("target_code", *FIGURE_KEY, code_column, pl.col("n").alias("_whole_n"))
            rebuilt = rebuilt.join(
                whole, on=["target_code", *FIGURE_KEY, code_column], how="left", nulls_equal=True
            ).with_columns(
                pl.format(
                    "{} {} split; rebuilt from its schools now in this {}{}",
                    pl.lit(noun),
                    pl.col(code_column),
                    pl.lit(noun),
                    pl.when(pl.col("_whole_n") > 0)
                    .then(
                        pl.format(
                            " (covering {} % of its pupils)",
                            ((pl.col("n") / pl.col("_whole_n")) * 100).round(0).cast(pl.Int64),
                        )
                    )
                    .otherwise(pl.lit("")),
                ).alias("lineage_note"),
                pl.format("{} (schools: {})", pl.col(code_column), "lineage_sources").alias(
                    "lineage_sources"
                ),
            )
            candidates.append(_finish_candidates(rebuilt, "target_code"))
    if split_rows.height:
        inherited = split_rows.with_columns(
            pl.lit("inherited").alias("lineage"),
            pl.col("_code").alias("lineage_sources"),
            _row_reference().alias("lineage_rows"),
            (pl.col("n") * pl.col("weight")).round(0).cast(pl.Int64).alias("n"),
            pl.format(
                "{} {} split and no school rows rebuild it: the whole {}'s figure is inherited; "
                "pupil count apportioned by nominal share {}",
                pl.lit(noun),
                "_code",
                pl.lit(noun),
                pl.col("weight").round(3),
            ).alias("lineage_note"),
            pl.col("structure").alias("_structure"),
            pl.col("source_file").alias("_file"),
        )
        candidates.append(_finish_candidates(inherited, "target_code"))

    return _choose(pl.concat(candidates))


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


def school_directory(schools: pl.DataFrame, target: Target) -> pl.DataFrame:
    """Each school's kommune and fylke in the target structure, where known.

    Known from the newest row that lists the school under a code valid in the target structure, else
    from the mapping of its kommune when that is not a split.
    """
    links = target.municipality_links
    target_municipalities = set(target.municipality_names)
    target_counties = set(target.county_names)
    with_municipality = resolve_structure(
        schools.filter(pl.col("municipality_code").is_not_null()), "municipality_code", links
    )
    direct = (
        with_municipality.filter(
            (pl.col("structure") == target.structure)
            & pl.col("municipality_code").is_in(list(target_municipalities))
        )
        .sort("school_year", "source_file", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", pl.col("municipality_code").alias("target_municipality"))
    )
    single = links.filter(pl.col("kind") != "split").select(
        pl.col("source_structure").alias("structure"),
        pl.col("source_code").alias("municipality_code"),
        pl.col("target_code").alias("_mapped"),
    )
    mapped = (
        with_municipality.join(single, on=["structure", "municipality_code"], how="inner")
        .sort("school_year", "source_file", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", "_mapped")
    )
    county_direct = (
        schools.filter(pl.col("county_code").is_in(list(target_counties)))
        .filter(nominal_structure_of(pl.col("school_year")) == target.structure)
        .sort("school_year", "source_file", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", pl.col("county_code").alias("_county_direct"))
    )
    units = schools.select("unit_code").unique()
    return (
        units.join(direct, on="unit_code", how="left")
        .join(mapped, on="unit_code", how="left")
        .join(county_direct, on="unit_code", how="left")
        .with_columns(pl.coalesce("target_municipality", "_mapped").alias("target_municipality"))
        .with_columns(
            pl.coalesce(pl.col("target_municipality").str.slice(0, 2), "_county_direct").alias(
                "target_county"
            )
        )
        .select("unit_code", "target_municipality", "target_county")
    )


def harmonise(observations: pl.DataFrame, target: Target) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``harmonised_observations`` and the rows that could not be placed (with the reason)."""
    schools = observations.filter((pl.col("level") == "school") & pl.col("unit_code").is_not_null())
    directory = school_directory(schools, target)
    schools = schools.join(directory, on="unit_code", how="left")

    municipalities = _harmonise_areas(
        observations.filter(pl.col("level") == "municipality"),
        "municipality_code",
        target.municipality_links,
        schools,
        "target_municipality",
        "kommune",
    ).with_columns(
        pl.lit("municipality").alias("level"),
        pl.col("unit_code").alias("municipality_code"),
        pl.col("unit_code").str.slice(0, 2).alias("county_code"),
        pl.col("unit_code").is_in(list(PSEUDO_MUNICIPALITIES)).alias("is_pseudo"),
        pl.col("unit_code").replace_strict(target.municipality_names, default=None).alias("unit_name"),
    )
    counties = _harmonise_areas(
        observations.filter(pl.col("level") == "county"),
        "county_code",
        target.county_links,
        schools,
        "target_county",
        "fylke",
    ).with_columns(
        pl.lit("county").alias("level"),
        pl.lit(None, pl.String).alias("municipality_code"),
        pl.col("unit_code").alias("county_code"),
        pl.col("unit_code").is_in(list(PSEUDO_COUNTIES)).alias("is_pseudo"),
        pl.col("unit_code").replace_strict(target.county_names, default=None).alias("unit_name"),
    )
    school_rows = _choose(
        schools.with_columns(
            pl.when(pl.col("municipality_code") == pl.col("target_municipality"))
            .then(pl.lit("unchanged"))
            .when(pl.col("municipality_code").is_null() & (pl.col("county_code") == pl.col("target_county")))
            .then(pl.lit("unchanged"))
            .otherwise(pl.lit("recode"))
            .alias("lineage"),
            pl.coalesce("municipality_code", "county_code").alias("lineage_sources"),
            _row_reference().alias("lineage_rows"),
            pl.when(pl.col("target_municipality").is_null() & pl.col("municipality_code").is_not_null())
            .then(pl.lit("the school's kommune in the target structure is unknown (kommune split)"))
            .otherwise(pl.lit(""))
            .alias("lineage_note"),
            pl.lit(0, pl.Int32).alias("_structure"),
            pl.col("source_file").alias("_file"),
        ).pipe(_finish_candidates, "unit_code")
    )
    latest_names = (
        schools.sort("school_year", "source_file", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", "unit_name", "target_municipality", "target_county")
    )
    school_rows = school_rows.join(latest_names, on="unit_code", how="left").with_columns(
        pl.lit("school").alias("level"),
        pl.col("target_municipality").alias("municipality_code"),
        pl.col("target_county").alias("county_code"),
        (
            pl.col("unit_code").str.starts_with("U")
            | pl.col("target_municipality").is_in(list(PSEUDO_MUNICIPALITIES))
            | pl.col("target_county").is_in(list(PSEUDO_COUNTIES))
        )
        .fill_null(False)
        .alias("is_pseudo"),
    )
    national = _choose(
        observations.filter(pl.col("level") == "national")
        .with_columns(
            pl.lit("unchanged").alias("lineage"),
            pl.col("unit_code").alias("lineage_sources"),
            _row_reference().alias("lineage_rows"),
            pl.lit("").alias("lineage_note"),
            pl.lit(0, pl.Int32).alias("_structure"),
            pl.col("source_file").alias("_file"),
        )
        .pipe(_finish_candidates, "unit_code")
    ).with_columns(
        pl.lit("national").alias("level"),
        pl.lit(None, pl.String).alias("municipality_code"),
        pl.lit(None, pl.String).alias("county_code"),
        (pl.col("unit_code") != "I").alias("is_pseudo"),
        pl.when(pl.col("unit_code") == "I")
        .then(pl.lit("Hele landet"))
        .otherwise(pl.lit("Utlandet"))
        .alias("unit_name"),
    )
    columns = list(HARMONISED_SCHEMA)
    harmonised = (
        pl.concat(
            [
                frame.select(columns).cast(HARMONISED_SCHEMA)
                for frame in (national, counties, municipalities, school_rows)
            ]
        )
        .with_columns(pl.col("lineage_note").replace("", None))
        .sort(list(HARMONISED_KEY), nulls_last=True)
    )

    mapped_municipalities = target.municipality_links["source_code"].unique().to_list()
    mapped_counties = target.county_links["source_code"].unique().to_list()
    level = pl.col("level")
    reason = (
        pl.when((level == "school") & pl.col("unit_code").is_null())
        .then(pl.lit("school named without an organisation number: kept in observations, not harmonised"))
        .when((level == "municipality") & ~pl.col("municipality_code").is_in(mapped_municipalities))
        .then(
            pl.format(
                "kommune {} has no mapping to the {} structure",
                "municipality_code",
                pl.lit(target.structure),
            )
        )
        .when((level == "county") & ~pl.col("county_code").is_in(mapped_counties))
        .then(
            pl.format(
                "fylke {} has no mapping to the {} structure",
                "county_code",
                pl.lit(target.structure),
            )
        )
    )
    unplaced = quarantine_rows(
        observations.with_columns(reason.alias("reason")).filter(pl.col("reason").is_not_null()),
        pl.col("reason"),
    )
    return harmonised, unplaced


def build_target(registers: Registers, changes: dict[str, Change], structure: int) -> Target:
    """The target from the tables the reference assets build, for the command line, scripts and tests."""
    kommune_mapping, fylke_mapping = target_mappings(registers, changes, structure)
    return Target.from_tables(
        structure, kommune_mapping, fylke_mapping, municipality_register(registers, structure)
    )


def newest_school_names(harmonised: pl.DataFrame) -> pl.DataFrame:
    """Each school's newest name."""
    return (
        harmonised.filter(pl.col("level") == "school")
        .sort("school_year", descending=True)
        .group_by("unit_code", maintain_order=True)
        .first()
        .select("unit_code", "unit_name")
    )
