"""Pupil-level simulation: every figure is an aggregate of simulated pupils.

A school's level in an area and school year, in national-test scale points (SD 10 among pupils):
the kommune's persistent effect (``kommune_sd`` × its latent quality) + its trend + its kommune-year
effect + the school's persistent effect + its school-year effect. Each source reads that level through
its own unit per scale point (``SOURCE_UNITS``) around its national level; a test adds a transient
effect per school and test; each pupil adds their own noise. Kommune, fylke and national rows are
aggregates of the same pupils as the school rows, so cohort size drives both the noise of a mean and
its suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# How many of each source's units one national-test scale point of quality is worth (a kommune one SD
# of 1.2 points better has 1.6 more grunnskolepoeng, 0.10 higher survey indices, 0.22 lower log-odds of
# being bullied and 0.30 higher log-odds of completing).
SOURCE_UNITS = {
    "nasjonale_prover": 1.0,
    "grunnskolepoeng": 1.6 / 1.2,
    "survey_index": 0.10 / 1.2,
    "bullying_logit": -0.22 / 1.2,
    "completion_logit": 0.30 / 1.2,
}
# Udir's Usikkerhet is the half-width of a 95 % interval of the mean, not its standard error.
HALF_WIDTH_Z = 1.96


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
    school_level: np.ndarray,
    pupil_sd: float,
    shared: np.ndarray | None = None,
    correlation: float = 0.0,
) -> np.ndarray:
    """Pupil scores around per-school levels; ``shared`` (one standard normal per pupil) is the part of a
    pupil's noise common to several measures, with ``correlation`` its share of the variance."""
    own = rng.normal(0, 1, pupils.size)
    noise = own if shared is None else np.sqrt(correlation) * shared + np.sqrt(1 - correlation) * own
    return school_level[pupils.school] + pupil_sd * noise


def bernoulli(rng: np.random.Generator, pupils: Cohort, school_logit: np.ndarray) -> np.ndarray:
    """0/1 outcomes per pupil (e.g. bullied), from each school's log-odds."""
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

    @property
    def half_width(self) -> np.ndarray:
        """What Udir publishes as ``Usikkerhet``."""
        return HALF_WIDTH_Z * self.std_error


def totals(groups: np.ndarray, values: np.ndarray, size: int) -> Totals:
    return Totals(
        np.bincount(groups, minlength=size).astype(np.float64),
        np.bincount(groups, weights=values, minlength=size),
        np.bincount(groups, weights=values**2, minlength=size),
    )
