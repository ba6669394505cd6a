"""Pupil-level simulation: every figure is an aggregate of simulated pupils.

A pupil's result = national level + kommune effect (from the kommune's latent quality) + school effect +
the school's year effect + the pupil's own noise. Kommune, fylke and national rows are aggregates of the
same pupils as the school rows, so cohort size drives both the noise of a mean and its suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# National scale-point mean 50 and pupil SD 10 in the base year (2022-23), split into its sources.
KOMMUNE_SD, SCHOOL_SD, YEAR_SD = 1.2, 1.8, 1.0
PUPIL_SD = float(np.sqrt(100 - KOMMUNE_SD**2 - SCHOOL_SD**2 - YEAR_SD**2))


@dataclass(frozen=True)
class Cohort:
    """One grade's pupils in one school year: which school each pupil attends."""

    school: np.ndarray  # pupil → school row index
    schools: int

    @property
    def size(self) -> int:
        return int(self.school.size)


def cohort(sizes: np.ndarray) -> Cohort:
    return Cohort(np.repeat(np.arange(sizes.size), sizes), int(sizes.size))


def yearly_sizes(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A year's cohort: the base size with Poisson variation (empty schools stay empty)."""
    return np.where(base > 0, np.maximum(rng.poisson(np.maximum(base, 1)), 1), 0)


def normal_scores(
    rng: np.random.Generator,
    pupils: Cohort,
    centre: np.ndarray,
    school_sd: float,
    year_sd: float,
    pupil_sd: float,
    school_effect: np.ndarray,
) -> np.ndarray:
    """Pupil scores around per-school centres (centre already holds the kommune effect)."""
    school_level = centre + school_sd * school_effect + rng.normal(0, year_sd, pupils.schools)
    return school_level[pupils.school] + rng.normal(0, pupil_sd, pupils.size)


def bernoulli(
    rng: np.random.Generator, pupils: Cohort, logit: np.ndarray, school_sd: float, school_effect: np.ndarray
) -> np.ndarray:
    """0/1 outcomes per pupil (e.g. bullied), school probability from a logit."""
    school_logit = logit + school_sd * school_effect + rng.normal(0, 0.1, pupils.schools)
    probability = 1 / (1 + np.exp(-school_logit))
    return (rng.random(pupils.size) < probability[pupils.school]).astype(np.float64)


@dataclass(frozen=True)
class Totals:
    """Sufficient statistics of a pupil-level quantity per group."""

    count: np.ndarray
    total: np.ndarray
    squares: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.total / self.count

    @property
    def std_error(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = (
                np.maximum(self.squares / self.count - self.mean**2, 0)
                * self.count
                / np.maximum(self.count - 1, 1)
            )
            return np.sqrt(variance / self.count)


def totals(groups: np.ndarray, values: np.ndarray, size: int) -> Totals:
    return Totals(
        np.bincount(groups, minlength=size).astype(np.float64),
        np.bincount(groups, weights=values, minlength=size),
        np.bincount(groups, weights=values**2, minlength=size),
    )
