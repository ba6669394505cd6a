"""Nasjonale prøver: scale points with their uncertainty, and the share of pupils on each mastery level."""

from __future__ import annotations

import re

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, GRADE, Measure, SourceMapping

MASTERY_LEVEL = re.compile(r"^(Andel (?:elever )?på mestringsnivå )(\d)$")
PUPILS = "Antall elever deltatt"
# 5th grade has three mastery levels, 8th and 9th five.
LEVELS_BY_GRADE = {"5": 3}


def recognises(export: PortalExport) -> bool:
    """Scale points or mastery-level shares are published by nasjonale prøver alone."""
    measures = export.measures
    return "Skalapoeng" in measures or any(m.startswith("Andel på mestringsnivå") for m in measures)


def missing_partners(measures: frozenset[str], dimensions: tuple[str, ...]) -> tuple[str, ...]:
    """Scale points come with their uncertainty and pupil count; mastery shares with every level of the
    grade and the pupil count."""
    missing = []
    if "Skalapoeng" in measures:
        missing += [name for name in ("Usikkerhet", PUPILS) if name not in measures]
    levels = [match for match in map(MASTERY_LEVEL.match, sorted(measures)) if match]
    if levels:
        grades = [next(g for g in match.groups() if g) for match in map(GRADE.match, dimensions) if match]
        top = LEVELS_BY_GRADE.get(grades[0] if grades else "", 5)
        prefix = levels[0].group(1)
        missing += [f"{prefix}{n}" for n in range(1, top + 1) if f"{prefix}{n}" not in measures]
        missing += [PUPILS] if PUPILS not in measures else []
    return tuple(missing)


MAPPING = SourceMapping(
    "nasjonale_prover",
    recognises,
    {
        "Skalapoeng": Measure("value", "skalapoeng", "scale_points"),
        # Usikkerhet is the half-width of a 95 % interval, not a standard error: in the real exports
        # Usikkerhet × √(pupils) ≈ 17.7 ≈ 1.96 × the pupil SD (about 9), for kommuner and schools alike.
        "Usikkerhet": Measure("std_error", applies_to="skalapoeng", standard_errors=1.96),
        "Antall elever deltatt": COUNT,
    },
    measure_patterns=(
        (
            re.compile(r"^Andel (?:elever )?på mestringsnivå (\d)$"),
            Measure("value", "mestringsniva_{}", "percent"),
        ),
    ),
    missing_partners=missing_partners,
)
