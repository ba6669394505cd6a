"""``utvalg sample --pupils``: the pupil-level datasets behind the sample's exports (``docs/pupil_data.md``).

Every row is written from values the exports are aggregated from, so that a figure computed from the
pupils equals the published one wherever that is not suppressed. What the exports do not need (pupil
ids, exempt and absent pupils, how a survey index is spread over its questions, which bullying question
a bullied pupil answered) is drawn from a random stream of its own, so the exports stay byte-identical
with or without the flag.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.pupils.questions import BULLIED_FROM, BULLYING_QUESTIONS, INDEX_QUESTIONS
from pipelines.pupils.read import DATASETS, PUPIL_FOLDER

# The pupil stream's key beside the sample's seed: a second, independent generator.
PUPIL_STREAM = 14
EXEMPT_SHARE = 0.03  # fritatt
ABSENT_SHARE = 0.02  # ikke_deltatt


class PupilWriter:
    """Collects the pupil rows of one sample, dataset by dataset and school year, and writes them."""

    def __init__(self, seed: int, years: frozenset[str]) -> None:
        self.rng = np.random.Generator(np.random.PCG64([seed, PUPIL_STREAM]))
        self.years = years
        self.frames: dict[tuple[str, str], list[pl.DataFrame]] = {}
        self.issued = 0

    def wanted(self, year: str) -> bool:
        return year in self.years

    def ids(self, count: int) -> pl.Series:
        """Pseudonymous ids: unique in the sample, unrelated to a pupil's school or order."""
        numbers = self.issued + self.rng.permutation(count)
        self.issued += count
        return pl.Series("pupil_id", [f"E{number:09d}" for number in numbers.tolist()], pl.String)

    def add(self, dataset: str, year: str, frame: pl.DataFrame) -> None:
        self.frames.setdefault((dataset, year), []).append(frame)

    def national_test(
        self,
        year: str,
        grade: str,
        places: Places,
        school: np.ndarray,
        subjects: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """One grade's tests: the participants (``school``: each one's school row) with their scores and
        levels per subject, and exempt and absent pupils of the same schools beside them."""
        sizes = np.bincount(school, minlength=places.orgnr.size)
        exempt = self.rng.binomial(sizes, EXEMPT_SHARE)
        absent = self.rng.binomial(sizes, ABSENT_SHARE)
        everyone = np.concatenate([school, np.repeat(np.arange(sizes.size), exempt + absent)])
        status = np.concatenate(
            [
                np.full(school.size, "deltatt"),
                *(
                    np.repeat(["fritatt", "ikke_deltatt"], [e, a])
                    for e, a in zip(exempt, absent, strict=True)
                ),
            ]
        )
        ids = self.ids(everyone.size)
        missing = np.full(everyone.size - school.size, np.nan)
        for subject, (scores, levels) in subjects.items():
            self.add(
                "nasjonale_prover",
                year,
                places.columns(everyone, ids).with_columns(
                    grade=pl.lit(grade),
                    subject=pl.lit(subject),
                    status=pl.Series(status),
                    scale_points=pl.Series(np.concatenate([scores, missing])).fill_nan(None),
                    mastery_level=pl.Series(np.concatenate([levels, missing])).fill_nan(None),
                ),
            )

    def survey(
        self,
        year: str,
        grade: str,
        places: Places,
        school: np.ndarray,
        bullied: np.ndarray,
        indices: dict[str, np.ndarray],
    ) -> None:
        """One grade's answers. A bullied pupil answers one bullying question (at random) with 3–5, the
        others 1–5; a pupil not bullied answers all of them with 1 or 2. An index value ``x`` is spread
        over its two questions as ``x + d`` and ``x − d`` (``d`` keeps both in 1–5), so the pupil's mean
        answer is ``x``, the value the export is the mean of."""
        pupils = school.size
        ids = self.ids(pupils)
        answers = []
        which = self.rng.integers(0, len(BULLYING_QUESTIONS), pupils)
        for q, question in enumerate(BULLYING_QUESTIONS):
            high = self.rng.integers(BULLIED_FROM, 6, pupils)
            any_answer = self.rng.integers(1, 6, pupils)
            low = self.rng.integers(1, BULLIED_FROM, pupils)
            answer = np.where(bullied == 1, np.where(which == q, high, any_answer), low)
            answers.append((question, answer.astype(np.float64)))
        for indicator, values in indices.items():
            first, second = INDEX_QUESTIONS[indicator]
            spread = self.rng.uniform(-1, 1, pupils) * np.minimum(values - 1, 5 - values)
            answers += [(first, values + spread), (second, values - spread)]
        pupil_columns = places.columns(school, ids).with_columns(grade=pl.lit(grade))
        for question, answer in answers:
            self.add(
                "elevundersokelsen",
                year,
                pupil_columns.with_columns(question=pl.lit(question), answer=pl.Series(answer)),
            )

    def grunnskolepoeng(self, year: str, places: Places, school: np.ndarray, points: np.ndarray) -> None:
        self.add(
            "grunnskolepoeng",
            year,
            places.columns(school, self.ids(school.size)).with_columns(points=pl.Series(points)),
        )

    def completion(self, year: str, places: Places, school: np.ndarray, completed: np.ndarray) -> None:
        self.add(
            "gjennomforing",
            year,
            places.columns(school, self.ids(school.size)).with_columns(completed=pl.Series(completed == 1)),
        )

    def files(self) -> dict[str, bytes]:
        """The datasets as hive-partitioned parquet files, by path under the sample's folder."""
        written = {}
        for (dataset, year), frames in sorted(self.frames.items()):
            frame = pl.concat(frames).select(DATASETS[dataset].polars_schema().names())
            buffer = io.BytesIO()
            frame.cast(DATASETS[dataset].polars_schema()).write_parquet(buffer, row_group_size=500_000)
            written[f"{PUPIL_FOLDER}/{dataset}/school_year={year}/part-0.parquet"] = buffer.getvalue()
        return written


@dataclass(frozen=True)
class Places:
    """One school year's school columns, by school row: organisation number and that year's kommune."""

    orgnr: np.ndarray
    municipality: np.ndarray

    def columns(self, school: np.ndarray, ids: pl.Series) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "pupil_id": ids,
                "organisation_number": self.orgnr[school],
                "municipality_code": self.municipality[school],
            }
        )
