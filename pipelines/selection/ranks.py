"""From posterior draws of a score (higher = weaker) to what the lists say about ranks.

Everything comes from the same draws. The list is made for choosing: a list of k kommuner is best
filled (the most truly among the k weakest, in expectation) by the k most likely to be among the k
weakest. The list's first N are exactly the N most likely to be among the N weakest, in the order of
that probability, so a governor reading down the list meets the candidates from the surest on. After
them a unit's place follows the shortest such list that takes it (Henderson and Newton's r-value, 2016,
in list places); ties go by expected rank. The 90 % interval is the 5–95 % range of the unit's rank
over the draws, widened to contain the point rank where the two disagree (counted, so it can be
reported; ordered by the expected rank instead, the list put some units outside their own interval,
and by P(among the N weakest) all the way down it put precise units below imprecise ones far outside
theirs). Two statements about the set, made to hold nine times in ten: the longest head of the list
that is among the N weakest *jointly*, and the longest tail of which *none* is among the N weakest,
each with at least JOINT_PROBABILITY in the draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTERVAL = (0.05, 0.95)
# The model probability the set statements are made at, so that they hold as often as they promise
# (``JOINT_CONFIDENCE`` in ``pipelines/vocabulary.py``): the model is too sure at the ends of the list
# where school effects have heavy tails (made at 0.95, the head held in 14 of 20 tunge_haler samples);
# chosen on tuning seeds, judged on the held-out ones (README).
JOINT_PROBABILITY = 0.99


@dataclass(frozen=True)
class RankStatements:
    point_rank: np.ndarray  # [J] 1 = weakest
    p_top_n: np.ndarray
    expected_rank: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    sure_candidate: np.ndarray  # bool: in the head jointly among the N weakest (JOINT_PROBABILITY)
    sure_not_candidate: np.ndarray  # bool: in the tail of which none is among the N weakest
    widened: int  # intervals widened to contain their point rank


def ranks_of(draws: np.ndarray) -> np.ndarray:
    """Per draw (row), each unit's rank: 1 for the highest score."""
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(draws.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, draws.shape[1] + 1)
    return ranks


def rank_distribution(ranks: np.ndarray) -> np.ndarray:
    """[J, J]: row j, column k − 1 is P(unit j's rank ≤ k) over the draws."""
    draws, units = ranks.shape
    cell = np.arange(units)[None, :] * units + (ranks - 1)
    counts = np.bincount(cell.ravel(), minlength=units * units).reshape(units, units)
    return np.cumsum(counts, axis=1) / draws


def shortest_lists(distribution: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Per unit, the shortest k at which it is among the k units most likely to be among the k weakest
    (``distribution`` from :func:`rank_distribution`; ``tiebreak``, lower first, orders equal chances)."""
    units = distribution.shape[0]
    shortest = np.full(units, units, dtype=np.int64)
    for length in range(1, units + 1):
        chosen = np.lexsort((tiebreak, -distribution[:, length - 1]))[:length]
        shortest[chosen] = np.minimum(shortest[chosen], length)
    return shortest


def _order_for_choosing(ranks: np.ndarray, expected: np.ndarray, names: np.ndarray, top_n: int) -> np.ndarray:
    """The list's order: first the N most likely to be among the N weakest, by that probability; then
    the rest by the shortest list that takes a unit. Ties by the shortest list, expected rank and code."""
    by_expected = np.empty(names.size, dtype=np.int64)
    by_expected[np.lexsort((names, expected))] = np.arange(names.size)
    distribution = rank_distribution(ranks)
    shortest = shortest_lists(distribution, by_expected)
    p_top = distribution[:, top_n - 1]
    chosen = np.zeros(names.size, dtype=bool)
    chosen[np.lexsort((by_expected, -p_top))[:top_n]] = True
    return np.lexsort((by_expected, shortest, -np.where(chosen, p_top, 0.0), ~chosen))


def _longest_prefix(holds: np.ndarray) -> int:
    """The longest k with holds[:, :k] all True in at least JOINT_PROBABILITY of the draws."""
    jointly = np.logical_and.accumulate(holds, axis=1).mean(axis=0)
    reached = np.flatnonzero(jointly >= JOINT_PROBABILITY)
    return int(reached[-1]) + 1 if reached.size else 0


def rank_statements(
    draws: np.ndarray, codes: list[str], top_n: int, estimate: np.ndarray | None = None
) -> RankStatements:
    """Rank statements from draws [D, J] of the units' scores; ``codes`` break exact ties. With
    ``estimate`` (higher = weaker) the list follows it instead: draws without a prior (the raw composite)
    give no posterior probabilities to choose by, and a plain composite is listed by its value."""
    ranks = ranks_of(draws)
    top = ranks <= top_n
    p_top = top.mean(axis=0)
    expected = ranks.mean(axis=0)
    names = np.array(codes)
    order = (
        _order_for_choosing(ranks, expected, names, top_n)
        if estimate is None
        else np.lexsort((names, -estimate))
    )
    point = np.empty(len(codes), dtype=np.int64)
    point[order] = np.arange(1, len(codes) + 1)
    low = np.quantile(ranks, INTERVAL[0], axis=0, method="inverted_cdf").astype(np.int64)
    high = np.quantile(ranks, INTERVAL[1], axis=0, method="inverted_cdf").astype(np.int64)
    widened = int(((point < low) | (point > high)).sum())
    sure = np.zeros(len(codes), dtype=bool)
    sure[order[: _longest_prefix(top[:, order])]] = True
    excluded = np.zeros(len(codes), dtype=bool)
    tail = order[::-1]
    excluded[tail[: _longest_prefix(~top[:, tail])]] = True
    return RankStatements(
        point_rank=point,
        p_top_n=p_top,
        expected_rank=expected,
        rank_low=np.minimum(low, point),
        rank_high=np.maximum(high, point),
        sure_candidate=sure,
        sure_not_candidate=excluded,
        widened=widened,
    )
