"""Secondary suppression by Gaussian elimination, for figures that are sums of pupils.

The model (after SSB's GaussSuppression, Langsrud 2019 and 2024; written anew here): every figure that
may be published is a sum of *inner cells*, disjoint groups of pupils (a school, or the pupils of a
kommune that no listed school accounts for). A figure with its pupil count is two such sums (value × n
and n) over the same cells, so one 0/1 model matrix describes both. Whoever reads the published figures
knows every linear combination of their columns, and so every combination of inner cells in that span.

``protect`` hides figures until

1. no primary-suppressed figure (too few pupils, or suppressed at the source) lies in the span of the
   published ones, and
2. no combination of unpublished inner cells that the published figures determine (the "hidden group",
   such as a kommune's hidden schools together) rests on more than 0 and fewer than ``minimum`` pupils.

How: the candidates are taken in priority order (the caller's: level, then most pupils first, then
code) and each is published unless, together with those already published, it would determine a
protected combination; then it is hidden (a secondary suppression). A candidate already in the span of
the published ones is published: it tells nothing new. Condition 2 is checked after a pass: every group
the published figures determine that rests on too few pupils becomes a protected combination (SSB's
"virtual primary cells") and the pass is run again, until none is left. Each pass keeps the published
columns in reduced row echelon form over sparse vectors (dicts), so a test for "would this determine a
protected combination" is a comparison with the protected combinations' residuals.

The hidden figures themselves are then never derivable either: a secondary suppression that became
derivable later would have made the combination it protects derivable too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

Vector = dict[int, float]
# Coefficients are small integers in a sum hierarchy; a tolerance only absorbs float rounding.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Protection:
    """The outcome: ``hidden`` per figure, the protected groups that were added, the passes run."""

    hidden: list[bool]
    groups: list[list[int]]
    passes: int


class _Echelon:
    """The span of a set of sparse vectors, kept in reduced row echelon form, with residuals of the
    protected combinations against it."""

    def __init__(self, weight: Sequence[int], protected: list[Vector]) -> None:
        self.weight = weight  # how many columns each inner cell occurs in: pivots on rare cells fill less
        self.rows: dict[int, Vector] = {}
        self.rows_with: defaultdict[int, set[int]] = defaultdict(set)
        self.protected: list[Vector] = []
        self.protected_with: defaultdict[int, set[int]] = defaultdict(set)
        for vector in protected:
            self._add_protected(self.reduce(vector))

    def _add_protected(self, vector: Vector) -> None:
        index = len(self.protected)
        self.protected.append(vector)
        for cell in vector:
            self.protected_with[cell].add(index)

    def reduce(self, vector: Vector) -> Vector:
        """The residual of ``vector`` against the span (its coefficients on no pivot)."""
        out = dict(vector)
        for pivot in [cell for cell in out if cell in self.rows]:
            factor = out.get(pivot, 0.0)
            if factor:
                _axpy(out, -factor, self.rows[pivot])
        return out

    def would_reveal(self, residual: Vector) -> bool:
        """Whether adding ``residual`` (already reduced) puts a protected combination in the span: then
        that combination's residual is a multiple of ``residual``."""
        pivot = self._pivot(residual)
        for index in self.protected_with.get(pivot, ()):
            other = self.protected[index]
            if other.keys() == residual.keys():
                ratio = other[pivot] / residual[pivot]
                if all(abs(other[c] - ratio * residual[c]) <= TOLERANCE for c in residual):
                    return True
        return False

    def _pivot(self, residual: Vector) -> int:
        return min(residual, key=lambda cell: (self.weight[cell], cell))

    def add(self, residual: Vector) -> None:
        """Add a reduced, non-zero vector to the span, keeping the form reduced."""
        pivot = self._pivot(residual)
        row = {cell: value / residual[pivot] for cell, value in residual.items()}
        for other in list(self.rows_with.get(pivot, ())):
            self._eliminate(self.rows[other], row, pivot, self.rows_with, other)
        for index in list(self.protected_with.get(pivot, ())):
            self._eliminate(self.protected[index], row, pivot, self.protected_with, index)
        self.rows[pivot] = row
        for cell in row:
            self.rows_with[cell].add(pivot)

    @staticmethod
    def _eliminate(
        target: Vector, row: Vector, pivot: int, index: defaultdict[int, set[int]], key: int
    ) -> None:
        before = set(target)
        _axpy(target, -target[pivot], row)
        for cell in before - target.keys():
            index[cell].discard(key)
        for cell in target.keys() - before:
            index[cell].add(key)


def _axpy(target: Vector, factor: float, row: Vector) -> None:
    """``target += factor × row``, dropping coefficients that cancel."""
    for cell, value in row.items():
        updated = target.get(cell, 0.0) + factor * value
        if abs(updated) <= TOLERANCE:
            target.pop(cell, None)
        else:
            target[cell] = updated


def _one_pass(
    columns: Sequence[Sequence[int]],
    primary: Sequence[bool],
    order: Sequence[int],
    weight: Sequence[int],
    protected: list[Vector],
) -> list[bool]:
    space = _Echelon(weight, protected)
    hidden = list(primary)
    for figure in order:
        if primary[figure]:
            continue
        residual = space.reduce(dict.fromkeys(columns[figure], 1.0))
        if not residual:
            continue  # already determined by what is published: publishing it tells nothing new
        if space.would_reveal(residual):
            hidden[figure] = True
        else:
            space.add(residual)
    return hidden


def determined_groups(
    columns: Sequence[Sequence[int]], published: Sequence[bool], cells: int
) -> list[Vector]:
    """A basis of the combinations of unpublished inner cells that the published figures determine.

    Figures that are one inner cell go in first so that they are pivots and the other rows are free of
    them; in a hierarchy of sums the remaining rows are then the hidden groups themselves (disjoint 0/1
    vectors: the cells that only the published totals tell about, together)."""
    weight = [0] * cells
    for column in columns:
        for cell in column:
            weight[cell] += 1
    space = _Echelon(weight, [])
    singles = [f for f, column in enumerate(columns) if published[f] and len(column) == 1]
    shown_cells = {columns[f][0] for f in singles}
    rest = [f for f, column in enumerate(columns) if published[f] and len(column) != 1]
    for figure in [*singles, *rest]:
        residual = space.reduce(dict.fromkeys(columns[figure], 1.0))
        if residual:
            space.add(residual)
    return [row for pivot, row in sorted(space.rows.items()) if pivot not in shown_cells]


def protect(
    columns: Sequence[Sequence[int]],
    cell_pupils: Sequence[float],
    primary: Sequence[bool],
    order: Sequence[int],
    minimum: int,
    max_passes: int = 50,
) -> Protection:
    """Which figures to hide (see the module docstring).

    ``columns[f]``: the inner cells figure ``f`` sums; ``cell_pupils[c]``: the pupils in inner cell
    ``c`` (where unknown, any value consistent with the published counts: only combinations the counts
    determine are ever measured); ``primary[f]``: hidden whatever happens; ``order``: the figures from
    the one to publish first to the one to hide first."""
    cells = len(cell_pupils)
    weight = [0] * cells
    for column in columns:
        for cell in column:
            weight[cell] += 1
    protected: list[Vector] = [
        dict.fromkeys(columns[f], 1.0) for f in range(len(columns)) if primary[f] and columns[f]
    ]
    # Inner cells that no figure shows on its own (pupils outside every listed school) and that are
    # too few: protected from the start, which saves a pass.
    singles = {column[0] for column in columns if len(column) == 1}
    protected += [
        {cell: 1.0} for cell in range(cells) if cell not in singles and 0 < round(cell_pupils[cell]) < minimum
    ]
    groups: list[list[int]] = []
    for passes in range(1, max_passes + 1):
        hidden = _one_pass(columns, primary, order, weight, protected)
        published = [not h for h in hidden]
        exposed = [
            group
            for group in determined_groups(columns, published, cells)
            if 0 < round(sum(value * cell_pupils[cell] for cell, value in group.items())) < minimum
        ]
        if not exposed:
            return Protection(hidden, groups, passes)
        for group in exposed:
            groups.append(sorted(group))
            protected.append(dict(group))
    raise RuntimeError(f"suppression did not settle in {max_passes} passes")
