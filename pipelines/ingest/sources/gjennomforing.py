"""Gjennomføring in upper secondary: the share who completed and passed, and the share who dropped out."""

from __future__ import annotations

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, Measure, SourceMapping


def recognises(export: PortalExport) -> bool:
    """Completion and drop-out shares are published by this source alone."""
    return bool(export.measures & {"Andel sluttet", "Andel fullført og bestått"})


MAPPING = SourceMapping(
    "gjennomforing",
    recognises,
    {
        "Andel fullført og bestått": Measure("value", "fullfort_og_bestatt", "percent"),
        "Andel sluttet": Measure("value", "sluttet", "percent"),
        "Antall elever": COUNT,
    },
    default_grade="vgs",
)
