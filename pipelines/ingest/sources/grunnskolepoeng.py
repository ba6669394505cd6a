"""Grunnskolepoeng: the 10th grade's leaving points."""

from __future__ import annotations

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, Measure, SourceMapping


def recognises(export: PortalExport) -> bool:
    """The measure carries the source's name."""
    return "Grunnskolepoeng" in export.measures


def missing_partners(measures: frozenset[str], dimensions: tuple[str, ...]) -> tuple[str, ...]:
    """The points come with the number of pupils they are the mean of."""
    return () if "Antall elever" in measures else ("Antall elever",)


MAPPING = SourceMapping(
    "grunnskolepoeng",
    recognises,
    {
        "Grunnskolepoeng": Measure("value", "grunnskolepoeng", "points"),
        "Antall elever": COUNT,
    },
    default_grade="10",
    missing_partners=missing_partners,
)
