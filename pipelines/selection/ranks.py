"""From posterior draws of a score (higher = weaker) to what the lists say about ranks.

Everything comes from the same draws. Units are listed by their expected rank over the draws (the
estimate of a rank with the smallest squared error); the point rank is the place in that list; the 90 %
interval is the 5–95 % range of the unit's rank over the draws, widened to contain the point rank in the
rare case the two disagree (counted, so it can be reported). Listing by P(among the N weakest) instead
would put imprecise units with a small probability above precise ones, outside their own intervals.
Two statements about the set: the longest head of the list that is among the N weakest *jointly* with
at least 90 % probability, and the longest tail of which *none* is among the N weakest with at least
90 % probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTERVAL = (0.05, 0.95)
JOINT_CONFIDENCE = 0.90


@dataclass(frozen=True)
class RankStatements:
    point_rank: np.ndarray  # [J] 1 = weakest
    p_top_n: np.ndarray
    expected_rank: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    sure_candidate: np.ndarray  # bool: in the head jointly among the N weakest with ≥ 90 %
    sure_not_candidate: np.ndarray  # bool: in the tail of which none is among the N weakest with ≥ 90 %
    widened: int  # intervals widened to contain their point rank


def ranks_of(draws: np.ndarray) -> np.ndarray:
    """Per draw (row), each unit's rank: 1 for the highest score."""
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(draws.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, draws.shape[1] + 1)
    return ranks


def _longest_prefix(holds: np.ndarray) -> int:
    """The longest k with holds[:, :k] all True in at least JOINT_CONFIDENCE of the draws."""
    jointly = np.logical_and.accumulate(holds, axis=1).mean(axis=0)
    reached = np.flatnonzero(jointly >= JOINT_CONFIDENCE)
    return int(reached[-1]) + 1 if reached.size else 0


def rank_statements(draws: np.ndarray, codes: list[str], top_n: int) -> RankStatements:
    """Rank statements from draws [D, J] of the units' scores; ``codes`` break exact ties."""
    ranks = ranks_of(draws)
    top = ranks <= top_n
    p_top = top.mean(axis=0)
    expected = ranks.mean(axis=0)
    order = np.lexsort((np.array(codes), expected))
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
