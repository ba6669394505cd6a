"""Map every historic kommune and fylke code to one target structure.

The change list (``kommuneendringer_2012_til_2024.csv``) gives, per code that stopped being valid, its
successor(s). Following successors until a code of the target structure is reached gives each old
code's targets. The kind of each link is derived from the whole mapping, not taken from the list:

- ``unchanged``: the code exists in the target structure;
- ``recode``: one target, and no other code of the same structure maps to it;
- ``merge``: one target shared with other codes of the same structure;
- ``split``: several targets. The kommune's figures cannot be divided; ``weight`` is a nominal equal
  share, used only when an inherited figure's pupil count must be apportioned.

The master list records the 2020 splits of 1850 Tysfjord and 5012 Snillfjord as merges into one
successor; the 2019→2020 change list marks them ``splittes=1``, and those successors are added here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.reference.registers import (
    PSEUDO_COUNTIES,
    PSEUDO_MUNICIPALITIES,
    STRUCTURES,
    RegisterError,
    Registers,
)

MAPPING_SCHEMA = pl.Schema(
    {
        "source_structure": pl.Int32,
        "source_code": pl.String,
        "target_code": pl.String,
        "kind": pl.String,
        "weight": pl.Float64,
    }
)


@dataclass(frozen=True)
class Change:
    code: str
    last_year: int
    successors: tuple[str, ...]


def load_changes(reference_dir: Path) -> dict[str, Change]:
    """Every kommune code that stopped being valid, with its successor codes."""
    path = reference_dir / "kommuneendringer_2012_til_2024.csv"
    if not path.exists():
        raise RegisterError(f"reference change list missing: {path}")
    changes: dict[str, Change] = {}
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for line_number, row in enumerate(csv.DictReader(lines), start=2):
        code = row["Code"].strip()
        if row["Recode"]:
            successors: tuple[str, ...] = (row["Recode"].strip(),)
        elif row["Split"]:
            successors = tuple(part.strip() for part in row["Split"].split(";"))
        elif row["Merge"]:
            successors = (row["Merge"].split("/")[0].strip(),)
        else:
            raise RegisterError(f"{path.name}: row {line_number} ({code}) names no successor")
        changes[code] = Change(code, int(row["Year"]), successors)

    split_list = reference_dir / "kommuneendringer_2019_til_2020.csv"
    split_successors: dict[str, list[str]] = {}
    with split_list.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if row["splittes"].strip() == "1":
                old = row["kommuner_2019"].split(" - ")[0].strip()
                new = row["kommuner_2020"].split(" - ")[0].strip()
                split_successors.setdefault(old, []).append(new)
    for old, new_codes in split_successors.items():
        changes[old] = Change(old, changes[old].last_year, tuple(sorted(new_codes)))
    return changes


def _targets(
    code: str, changes: dict[str, Change], target_codes: set[str], trail: tuple[str, ...] = ()
) -> set[str]:
    if code in target_codes:
        return {code}
    if code in trail:
        raise RegisterError(f"the change list has a cycle through {code}")
    change = changes.get(code)
    if change is None:
        return set()
    found: set[str] = set()
    for successor in change.successors:
        found |= _targets(successor, changes, target_codes, (*trail, code))
    return found


def municipality_mapping(
    registers: Registers, changes: dict[str, Change], target_structure: int
) -> pl.DataFrame:
    """One row per (source structure, source code, target code) for every structure up to the target."""
    target_codes = registers.codes(target_structure)
    rows: list[dict[str, object]] = []
    for structure in STRUCTURES:
        if structure > target_structure:
            continue
        links: dict[str, set[str]] = {}
        for code in sorted(registers.codes(structure)):
            if code in PSEUDO_MUNICIPALITIES:
                links[code] = {code}
                continue
            targets = _targets(code, changes, target_codes)
            if not targets:
                raise RegisterError(
                    f"kommune {code} (structure {structure}) has no successor in the "
                    f"{target_structure} structure: the change list is incomplete"
                )
            links[code] = targets
        sources_per_target: dict[str, int] = {}
        for targets in links.values():
            if len(targets) == 1:
                (target,) = targets
                sources_per_target[target] = sources_per_target.get(target, 0) + 1
        for code, targets in links.items():
            for target in sorted(targets):
                if len(targets) > 1:
                    kind, weight = "split", 1.0 / len(targets)
                elif target == code:
                    kind, weight = "unchanged", 1.0
                elif sources_per_target[target] > 1:
                    kind, weight = "merge", 1.0
                else:
                    kind, weight = "recode", 1.0
                rows.append(
                    {
                        "source_structure": structure,
                        "source_code": code,
                        "target_code": target,
                        "kind": kind,
                        "weight": weight,
                    }
                )
    return pl.DataFrame(rows, schema=MAPPING_SCHEMA)


def county_mapping(registers: Registers, municipality_links: pl.DataFrame) -> pl.DataFrame:
    """Fylke codes mapped to the target structure, derived from where their kommuner went.

    A fylke whose kommuner all land in one target fylke is a recode or a merge (by the same rule as
    kommuner); one whose kommuner land in several is a split, weighted by its number of kommuner.
    """
    links = (
        municipality_links.filter(~pl.col("source_code").is_in(list(PSEUDO_MUNICIPALITIES)))
        .with_columns(
            pl.col("source_code").str.slice(0, 2).alias("source_county"),
            pl.col("target_code").str.slice(0, 2).alias("target_county"),
        )
        .group_by("source_structure", "source_county", "target_county")
        .agg(pl.col("weight").sum().alias("municipalities"))
    )
    totals = links.group_by("source_structure", "source_county").agg(
        pl.col("municipalities").sum().alias("total"), pl.len().alias("n_targets")
    )
    sources = (
        links.join(totals, on=["source_structure", "source_county"])
        .filter(pl.col("n_targets") == 1)
        .group_by("source_structure", "target_county")
        .agg(pl.len().alias("n_sources"))
    )
    mapped = (
        links.join(totals, on=["source_structure", "source_county"])
        .join(sources, on=["source_structure", "target_county"], how="left")
        .with_columns(
            pl.when(pl.col("n_targets") > 1)
            .then(pl.lit("split"))
            .when(pl.col("source_county") == pl.col("target_county"))
            .then(pl.lit("unchanged"))
            .when(pl.col("n_sources") > 1)
            .then(pl.lit("merge"))
            .otherwise(pl.lit("recode"))
            .alias("kind"),
            pl.when(pl.col("n_targets") > 1)
            .then(pl.col("municipalities") / pl.col("total"))
            .otherwise(1.0)
            .alias("weight"),
        )
        .select(
            "source_structure",
            pl.col("source_county").alias("source_code"),
            pl.col("target_county").alias("target_code"),
            "kind",
            "weight",
        )
    )
    pseudo = pl.DataFrame(
        [
            {
                "source_structure": structure,
                "source_code": code,
                "target_code": code,
                "kind": "unchanged",
                "weight": 1.0,
            }
            for structure in municipality_links["source_structure"].unique().sort()
            for code in PSEUDO_COUNTIES
        ],
        schema=MAPPING_SCHEMA,
    )
    mapped = mapped.filter(~pl.col("source_code").is_in(list(PSEUDO_COUNTIES)))
    return pl.concat([mapped.cast(MAPPING_SCHEMA), pseudo]).sort(
        "source_structure", "source_code", "target_code"
    )


def target_mappings(
    registers: Registers, changes: dict[str, Change], target_structure: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kommune and the fylke mapping to ``target_structure``, as harmonisation takes them."""
    municipality_links = municipality_mapping(registers, changes, target_structure)
    return municipality_links, county_mapping(registers, municipality_links)
