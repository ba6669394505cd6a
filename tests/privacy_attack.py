"""Attacks on published figures, written apart from the suppression code so that they test it.

Both read only what is published (which figures are shown, with their pupil counts, and which are
hidden) and the hierarchy (school ⊂ kommune ⊂ fylke ⊂ country). Counts are what the attacks measure: a
figure's value × n follows the same equations, so a group whose count the published figures determine
has its value determined too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from pipelines.config import Config
from pipelines.followup.outcomes import pupil_sd_expr

RANK_TOLERANCE = 1e-8


def subtraction_attack(published: pl.DataFrame, minimum: int) -> pl.DataFrame:
    """The attack in the issue, on every kommune × indicator × year: the kommune's count minus its
    shown schools' counts is what the hidden schools (and pupils outside every listed school) hold
    together. Returns the groups where that is more than 0 and fewer than ``minimum``."""
    kommuner = published.filter((pl.col("level") == "municipality") & ~pl.col("hidden")).select(
        pl.col("unit_code").alias("municipality_code"),
        "indicator_id",
        "school_year",
        pl.col("n").alias("total"),
    )
    schools = (
        published.filter(pl.col("level") == "school")
        .group_by("municipality_code", "indicator_id", "school_year")
        .agg(pl.col("n").sum().alias("shown"), pl.col("hidden").sum().alias("hidden_schools"))
    )
    return (
        kommuner.join(schools, on=["municipality_code", "indicator_id", "school_year"], how="left")
        .with_columns((pl.col("total") - pl.col("shown").fill_null(0)).alias("remaining"))
        .filter((pl.col("remaining") > 0) & (pl.col("remaining") < minimum))
        .sort("municipality_code", "indicator_id", "school_year")
    )


@dataclass
class _Unit:
    level: str
    code: str
    n: int | None
    hidden: bool
    children: list[int] = field(default_factory=list)


def _parent(level: str, municipality: str | None, county: str | None) -> list[tuple[str, str]]:
    if level == "school":
        return [("municipality", municipality or ""), ("county", county or ""), ("national", "")]
    if level == "municipality":
        return [("county", county or ""), ("national", "")]
    return [("national", "")] if level == "county" else []


@dataclass(frozen=True)
class Findings:
    """What the linear-algebra attack recovered from one table."""

    determined: list[str]  # hidden figures the published ones determine
    small_groups: list[tuple[str, float]]  # determined groups of hidden pupils with 0 < n < minimum
    sizes: list[float]  # the pupils in each determined group
    groups: int  # determined groups of hidden pupils
    unknowns: int
    rank: int
    odd: list[str]  # structure the attack did not expect (not disjoint groups)


@dataclass(frozen=True)
class TableSpace:
    """One indicator × year as the attacker's linear system: the unknowns (hidden leaves and remainders),
    the unknowns under each unit, and the projector onto the row space of the shown totals' equations."""

    units: list[_Unit]
    unknown: dict[str, int]
    leaves: dict[int, list[str]]
    index: dict[tuple[str, str], int]  # (level, code) → unit; the country's code is ""
    projector: np.ndarray
    solution: np.ndarray  # the shortest solution: any gives a determined combination its one value

    def vector(self, unit: int) -> np.ndarray:
        """A unit's figure over the unknowns: what it adds to what is shown."""
        vector = np.zeros(len(self.unknown))
        vector[[self.unknown[name] for name in self.leaves[unit] if name in self.unknown]] = 1.0
        return vector


def table_space(rows: pl.DataFrame, remainders: set[tuple[str, str]]) -> TableSpace:
    """Every figure of one indicator × year as a linear system: the unknowns are the hidden leaves
    (schools, kommuner without school rows) and, for each total in ``remainders``, the pupils it has
    outside its listed parts. Each shown total is one equation."""
    units: list[_Unit] = []
    index: dict[tuple[str, str], int] = {}
    above = []
    for level, code, municipality, county, n, hidden in rows.select(
        "level", "unit_code", "municipality_code", "county_code", "n", "hidden"
    ).iter_rows():
        index[(level, "" if level == "national" else code)] = len(units)
        units.append(_Unit(level, code, n, hidden))
        above.append(_parent(level, municipality, county))
    for child, keys in enumerate(above):
        parent = next((index[k] for k in keys if k in index), None)
        if parent is not None:
            units[parent].children.append(child)

    unknown: dict[str, int] = {}
    leaves: dict[int, list[str]] = {}  # the leaf names under each unit (own, descendants', remainders)

    def collect(i: int) -> list[str]:
        unit = units[i]
        names = [f"{unit.level}:{unit.code}"] if not unit.children else []
        for child in unit.children:
            names += collect(child)
        if unit.children and (unit.level, "" if unit.level == "national" else unit.code) in remainders:
            names.append(f"remainder:{unit.level}:{unit.code}")
        leaves[i] = names
        return names

    has_parent = {child for unit in units for child in unit.children}
    for i in range(len(units)):
        if i not in has_parent:
            collect(i)
    shown_leaf = {
        f"{u.level}:{u.code}": u.n for u in units if not u.children and not u.hidden and u.n is not None
    }
    for names in leaves.values():
        for name in names:
            if name not in shown_leaf and name not in unknown:
                unknown[name] = len(unknown)

    equations, counts = [], []
    for i, unit in enumerate(units):
        if unit.children and not unit.hidden:
            row = np.zeros(len(unknown))
            for name in leaves[i]:
                if name in unknown:
                    row[unknown[name]] = 1.0
            equations.append(row)
            counts.append(unit.n - sum(shown_leaf.get(name, 0) for name in leaves[i]))
    system = np.array(equations).reshape(len(equations), len(unknown))
    counts_known = np.array(counts, dtype=float)
    if system.size:
        left, singular, vt = np.linalg.svd(system, full_matrices=False)
        rank = int((singular > RANK_TOLERANCE * max(1.0, singular.max(initial=0.0))).sum())
        row_space = vt[:rank]
        solution = row_space.T @ ((left[:, :rank].T @ counts_known) / singular[:rank])
    else:
        row_space, solution = np.zeros((0, len(unknown))), np.zeros(len(unknown))
    projector = row_space.T @ row_space
    return TableSpace(units, unknown, leaves, index, projector, solution)


def linear_attack(rows: pl.DataFrame, remainders: set[tuple[str, str]], minimum: int) -> Findings:
    """One indicator × year's system (:func:`table_space`), attacked by :func:`findings`."""
    return findings(table_space(rows, remainders), minimum)


def findings(space: TableSpace, minimum: int) -> Findings:
    """By rank and null space: which hidden figure is determined, and which groups of unknowns the
    equations determine (and their counts)."""
    units, unknown, projector, solution = space.units, space.unknown, space.projector, space.solution
    rank = round(float(np.trace(projector))) if projector.size else 0

    hidden = [i for i, unit in enumerate(units) if unit.hidden]
    vectors = np.array([space.vector(i) for i in hidden]).reshape(len(hidden), len(unknown))
    # A hidden figure is determined when its unknowns' sum lies in the row space (or it has none).
    residual = np.abs(vectors @ projector - vectors).max(axis=1, initial=0.0)
    determined = [
        f"{units[i].level}:{units[i].code}"
        for row, i in enumerate(hidden)
        if not vectors[row].any() or residual[row] < 1e-7
    ]

    # Groups: unknowns the row space cannot tell apart. Where the determined combinations are disjoint
    # groups, the projector onto the row space is Σ 1_A 1_Aᵀ / |A|: a member's row is non-zero on its group.
    members: defaultdict[bytes, list[int]] = defaultdict(list)
    for a in range(len(unknown)):
        if abs(projector[a, a]) > 1e-7:
            members[np.flatnonzero(np.abs(projector[a]) > 1e-7).tobytes()].append(a)
    names = {v: k for k, v in unknown.items()}
    small, odd, groups, sizes = [], [], 0, []
    for group in members.values():
        indicator = np.zeros(len(unknown))
        indicator[group] = 1.0
        if np.abs(projector @ indicator - indicator).max() > 1e-6:
            odd.append(",".join(sorted(names[g] for g in group)))
            continue
        groups += 1
        pupils = float(indicator @ solution)
        sizes.append(pupils)
        if 0 < round(pupils) < minimum:
            small.append((",".join(sorted(names[g] for g in group)), pupils))
    if groups != rank:
        odd.append(f"{groups} groups for rank {rank}")
    return Findings(determined, small, sizes, groups, len(unknown), rank, odd)


def remainders_from_counts(true_counts: pl.DataFrame) -> set[tuple[str, str, str, str]]:
    """The totals whose listed parts all have a known count that falls short of (or exceeds) the total:
    pupils outside every listed part exist there. Keys: (indicator, year, level, code). Where a part's
    count is unknown, none is assumed (the attacker's strongest assumption)."""
    parts = (
        true_counts.filter(pl.col("level") != "national")
        .with_columns(
            pl.when(pl.col("level") == "school")
            .then(pl.struct(level=pl.lit("municipality"), code=pl.col("municipality_code")))
            .when(pl.col("level") == "municipality")
            .then(pl.struct(level=pl.lit("county"), code=pl.col("county_code")))
            .otherwise(pl.struct(level=pl.lit("national"), code=pl.lit("")))
            .alias("total")
        )
        .unnest("total", separator=".")
        .group_by("indicator_id", "school_year", "total.level", "total.code")
        .agg(pl.col("n").sum().alias("parts"), pl.col("n").null_count().alias("unknown"))
    )
    totals = true_counts.select(
        "indicator_id",
        "school_year",
        pl.col("level").alias("total.level"),
        pl.when(pl.col("level") == "national")
        .then(pl.lit(""))
        .otherwise(pl.col("unit_code"))
        .alias("total.code"),
        "n",
    )
    joined = totals.join(parts, on=["indicator_id", "school_year", "total.level", "total.code"])
    short = joined.filter(
        (pl.col("unknown") == 0) & pl.col("n").is_not_null() & (pl.col("n") != pl.col("parts"))
    ).select("indicator_id", "school_year", "total.level", "total.code")
    return {(a, b, c, d) for a, b, c, d in short.iter_rows()}


# A published figure that combines figures of several tables (a kommune's area score: its indicators of
# one year, each scaled by known numbers) as one more equation over the tables' unknowns: the terms are
# (table, (level, code) of the figure in it, coefficient on that figure's value × n).
Term = tuple[tuple[str, str], tuple[str, str], float]


def linked_attack(spaces: dict[tuple[str, str], TableSpace], equations: list[list[Term]]) -> list[str]:
    """The hidden figures that the tables' own equations and the linking ``equations`` together determine.

    All tables form one system: the tables' equations side by side, and each linking equation across
    them. A hidden figure's vector is in the joint row space when its residual against its own table's
    row space lies in the span of the linking equations' residuals (each table's residual taken against
    that table's row space). Compared by inner products (a Gram matrix) so that no joint matrix is built.
    Returns ``"indicator year level:code"`` for each hidden figure determined only with the links."""
    residuals: list[dict[tuple[str, str], np.ndarray]] = []
    for terms in equations:
        parts: dict[tuple[str, str], np.ndarray] = {}
        for table, key, coefficient in terms:
            space = spaces.get(table)
            if space is None or key not in space.index:
                continue  # a figure in no published table: an unknown that nothing else constrains
            vector = space.vector(space.index[key])
            residual = coefficient * (vector - space.projector @ vector)
            parts[table] = parts.get(table, np.zeros(len(vector))) + residual
        norm = np.sqrt(sum(float(r @ r) for r in parts.values()))
        if norm > 1e-9:
            residuals.append({table: r / norm for table, r in parts.items()})
    if not residuals:
        return []
    gram = np.array(
        [[sum(float(a[t] @ b[t]) for t in a.keys() & b.keys()) for b in residuals] for a in residuals]
    )
    inverse = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)
    determined = []
    for table in sorted({t for r in residuals for t in r}):
        space = spaces[table]
        for i, unit in enumerate(space.units):
            if not unit.hidden:
                continue
            vector = space.vector(i)
            own = vector - space.projector @ vector
            length = float(own @ own)
            if length < 1e-12:
                continue  # determined by its own table: the per-table attack reports it
            inner = np.array([float(own @ r[table]) if table in r else 0.0 for r in residuals])
            if length - inner @ inverse @ inner < 1e-8 * length:
                determined.append(f"{table[0]} {table[1]} {unit.level}:{unit.code}")
    return determined


def area_score_equations(
    scores: pl.DataFrame, kommune_counts: pl.DataFrame, national: pl.DataFrame, config: Config
) -> list[list[Term]]:
    """The equations a kommune's published area scores give (``scores``: ``municipality_code``,
    ``area``, ``school_year``). The score is the mean over the area's indicators with a figure from at
    least the minimum of ``sign × (value − national) / pupil SD``; with the counts (``kommune_counts``:
    ``unit_code``, ``indicator_id``, ``school_year``, ``n``, which an attacker has from the schools'
    own statistics) and the national values published, that is a known combination of the figures'
    value × n."""
    minimum = config.selection.minimum_pupils
    sign = {i.id: 1.0 if i.higher_is_better else -1.0 for i in config.indicators}
    area = {i.id: i.area for i in config.indicators}
    inputs = (
        kommune_counts.filter(pl.col("indicator_id").is_in(list(area)) & (pl.col("n") >= minimum))
        .join(national.select("indicator_id", "school_year", "national"), on=["indicator_id", "school_year"])
        .with_columns(
            pl.col("indicator_id").replace_strict(area).alias("area"),
            pupil_sd_expr(config, pl.col("national")).alias("pupil_sd"),
        )
        .rename({"unit_code": "municipality_code"})
    )
    equations = []
    for (code, _area, year), part in scores.join(
        inputs, on=["municipality_code", "area", "school_year"]
    ).group_by("municipality_code", "area", "school_year", maintain_order=True):
        terms = [
            ((indicator, str(year)), ("municipality", str(code)), sign[indicator] / (part.height * sd * n))
            for indicator, sd, n in part.select("indicator_id", "pupil_sd", "n").iter_rows()
        ]
        equations.append(terms)
    return equations
