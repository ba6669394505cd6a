"""Privacy by construction: ``published_figures``, the one table every published figure with a pupil
count is rendered from.

The figures of one indicator and school year form one linked table: country = Σ fylker, fylke =
Σ kommuner, kommune = Σ schools. No figure published sums over school years or over grades, so the
tables are not linked to each other by a sum. The one derived figure that combines tables, a
kommune's area score on the follow-up page, is left out where an input is hidden
(:func:`pipelines.outputs.followup_page.withhold_hidden`; docs/privacy.md has every linkage looked
at). Each table is protected on its own by :func:`pipelines.outputs.suppression.protect`. With
pupil-level input nothing is suppressed at the source, and both kinds of suppression are the
product's:

- primary suppression: a figure from fewer pupils than ``minimum_pupils``, without a known pupil
  count, or without a value (suppressed at the source) is hidden;
- secondary suppression: more figures are hidden until no hidden figure, and no group of hidden
  pupils the shown figures determine (such as a kommune's hidden schools together), rests on fewer
  pupils than the minimum. A figure is hidden rather than another by level (schools first, then fylker,
  then kommuner, the country last: the kommune figures are what the governors assess), then by the
  fewest pupils, then by code.

Where the listed parts do not add up to their total, the model says so conservatively:

- all parts' counts known and short of the total: the pupils outside the listed parts are one more
  inner cell (a group the figures may reveal, so protected like any other);
- a part's count unknown (suppressed at the source): the parts are taken to be the whole total, which
  is what an attacker who assumed it would use, and the unknown counts share what the total leaves
  (only groups the published counts determine are ever measured, and their counts follow from the
  published counts alone, whatever the shares);
- all parts' counts known and more than the total (older years mapped to today's kommuner): the
  difference is one more cell with a negative count; such a link gives no exact group.

A shown figure's standard error is published with it (the uncertainty band on the dashboard's trends)
and hidden with it. It adds no figure an attacker could subtract: for shares and survey indices it is
a function of the published pupil count alone (the binomial variance at the national share, or the
configured pupil SD); for figures Udir publishes with a ``Usikkerhet`` (scale points) it is Udir's
own, combined as for a weighted mean where kommuner were merged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from pipelines.config import Config
from pipelines.outputs.suppression import protect

LEVELS = ("national", "county", "municipality", "school")
# Which figures to keep when a choice must be made, from the one kept first: the country (every page's
# reference line), the kommuner (what is assessed), the fylker, then the schools.
KEEP_FIRST = ("national", "municipality", "county", "school")

PUBLISHED_SCHEMA = pl.Schema(
    {
        "level": pl.String(),
        "unit_code": pl.String(),
        "municipality_code": pl.String(),
        "county_code": pl.String(),
        "indicator_id": pl.String(),
        "school_year": pl.String(),
        "value": pl.Float64(),
        "n": pl.Int64(),
        "std_error": pl.Float64(),
        "hidden": pl.Boolean(),
    }
)
KEY = ["level", "unit_code", "indicator_id", "school_year"]


@dataclass
class _Node:
    row: int
    level: str
    code: str
    n: float | None
    primary: bool
    children: list[int] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)


def _totals_above(level: str, municipality: str | None, county: str | None) -> list[tuple[str, str]]:
    """The totals a figure may be part of, nearest first."""
    above = {
        "school": [("municipality", municipality or ""), ("county", county or "")],
        "municipality": [("county", county or "")],
        "county": [],
    }
    return [*above.get(level, []), ("national", "")] if level != "national" else []


def _tree(rows: pl.DataFrame, minimum: int) -> tuple[list[_Node], list[int]]:
    """The figures of one table as a tree; returns the nodes and the roots. A figure whose own total is
    not in the table hangs from the nearest one that is."""
    nodes: list[_Node] = []
    by_key: dict[tuple[str, str], int] = {}
    above: list[list[tuple[str, str]]] = []
    for level, code, municipality, county, value, n in rows.select(
        "level", "unit_code", "municipality_code", "county_code", "value", "n"
    ).iter_rows():
        primary = n is None or n < minimum or value is None
        by_key[(level, "" if level == "national" else code)] = len(nodes)
        nodes.append(_Node(len(nodes), level, code, None if n is None else float(n), primary))
        above.append(_totals_above(level, municipality, county))
    roots = []
    for index, keys in enumerate(above):
        parent = next((by_key[key] for key in keys if key in by_key), None)
        if parent is None:
            roots.append(index)
        else:
            nodes[parent].children.append(index)
    return nodes, roots


def _fill_unknown_counts(nodes: list[_Node], roots: list[int]) -> None:
    """A total without a count is the sum of its parts when they all have one (bottom-up)."""

    def up(index: int) -> float | None:
        node = nodes[index]
        counts = [up(child) for child in node.children]
        if node.n is None and node.children and all(c is not None for c in counts):
            node.n = sum(c for c in counts if c is not None)
        return node.n

    for root in roots:
        up(root)


def _inner_cells(nodes: list[_Node], roots: list[int]) -> list[float]:
    """Assign inner cells (see the module docstring) and return the pupils in each."""
    pupils: list[float] = []

    def new_cell(count: float) -> int:
        pupils.append(count)
        return len(pupils) - 1

    def down(index: int, count: float) -> list[int]:
        node = nodes[index]
        if node.n is None:
            node.n = count  # what its total leaves for it
        if not node.children:
            node.cells = [new_cell(node.n)]
            return node.cells
        known = [nodes[c].n for c in node.children if nodes[c].n is not None]
        unknown = [c for c in node.children if nodes[c].n is None]
        gap = node.n - sum(k for k in known if k is not None)
        share = gap / len(unknown) if unknown else 0.0
        cells: list[int] = []
        for child in node.children:
            cells += down(child, share)
        if gap and not unknown:
            cells.append(new_cell(gap))
        node.cells = cells
        return cells

    for root in roots:
        down(root, nodes[root].n or 0.0)
    return pupils


def protect_table(rows: pl.DataFrame, minimum: int) -> list[bool]:
    """``hidden`` for each row of one indicator × school year (rows of every level)."""
    nodes, roots = _tree(rows, minimum)
    _fill_unknown_counts(nodes, roots)
    pupils = _inner_cells(nodes, roots)
    order = sorted(
        range(len(nodes)),
        key=lambda i: (KEEP_FIRST.index(nodes[i].level), -(nodes[i].n or 0.0), nodes[i].code),
    )
    result = protect([node.cells for node in nodes], pupils, [node.primary for node in nodes], order, minimum)
    return result.hidden


def published_figures(
    national: pl.DataFrame,
    county: pl.DataFrame,
    municipal: pl.DataFrame,
    school: pl.DataFrame,
    config: Config,
) -> pl.DataFrame:
    """Every figure with a pupil count that any output shows, for the kommune and fylkeskommune
    indicators over the window, with ``hidden`` set by primary and secondary suppression; value, n and
    std_error are null where hidden. ``county`` holds the fylker's figures of both owners' indicators
    (each indicator is its own table)."""
    minimum = config.selection.minimum_pupils
    frames = [
        frame.select(list(PUBLISHED_SCHEMA)[:-1]).cast(dict(list(PUBLISHED_SCHEMA.items())[:-1]))
        for frame in (national, county, municipal, school)
    ]
    figures = pl.concat(frames).filter(pl.col("level").is_in(LEVELS))
    hidden: dict[tuple[str, str], list[bool]] = defaultdict(list)
    parts = []
    for (indicator, year), rows in sorted(
        figures.partition_by("indicator_id", "school_year", as_dict=True).items(),
        key=lambda item: (str(item[0][0]), str(item[0][1])),
    ):
        rows = rows.sort(KEY)
        hidden[(str(indicator), str(year))] = protect_table(rows, minimum)
        parts.append(rows.with_columns(pl.Series("hidden", hidden[(str(indicator), str(year))])))
    if not parts:
        return pl.DataFrame(schema=PUBLISHED_SCHEMA)
    published = pl.concat(parts).with_columns(
        pl.when(pl.col("hidden")).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("value", "n", "std_error")
    )
    return published.select(list(PUBLISHED_SCHEMA)).sort(KEY)


def figures_at(published: pl.DataFrame, level: str) -> pl.DataFrame:
    """The published figures of one level."""
    return published.filter(pl.col("level") == level)


def with_national(published: pl.DataFrame, level: str) -> pl.DataFrame:
    """One level's figures beside the published national value of the same indicator and year."""
    national = figures_at(published, "national").select(
        "indicator_id", "school_year", pl.col("value").alias("national")
    )
    return figures_at(published, level).join(national, on=["indicator_id", "school_year"], how="left")


def school_figures(published: pl.DataFrame, names: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Schools' figures as published, with the school's name and the indicator's label. Unsorted: each
    output keeps its own order."""
    labels = {i.id: i.label for i in config.indicators}
    return (
        figures_at(published, "school")
        .join(names, on="unit_code", how="left")
        .with_columns(pl.col("indicator_id").replace_strict(labels, default=None).alias("label"))
    )


def hidden_shares(published: pl.DataFrame) -> pl.DataFrame:
    """Figures and the share hidden per level: the cost of protection."""
    return (
        published.group_by("level")
        .agg(pl.len().alias("figures"), pl.col("hidden").sum().alias("hidden"))
        .with_columns((pl.col("hidden") / pl.col("figures")).round(4).alias("share"))
        .sort(pl.col("level").replace_strict({lvl: i for i, lvl in enumerate(LEVELS)}, default=9))
    )
