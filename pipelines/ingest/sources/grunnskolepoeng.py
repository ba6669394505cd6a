"""Grunnskolepoeng: the 10th grade's leaving points."""

from __future__ import annotations

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, Measure, SourceMapping


def recognises(export: PortalExport) -> bool:
    """The measure carries the source's name."""
    return "Grunnskolepoeng" in export.measures


MAPPING = SourceMapping(
    "grunnskolepoeng",
    recognises,
    {
        "Grunnskolepoeng": Measure("value", "grunnskolepoeng", "points"),
        "Antall elever": COUNT,
    },
    default_grade="10",
)
