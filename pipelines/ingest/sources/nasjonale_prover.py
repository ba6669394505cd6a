"""Nasjonale prøver: scale points with their uncertainty, and the share of pupils on each mastery level."""

from __future__ import annotations

import re

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources.mapping import COUNT, Measure, SourceMapping


def recognises(export: PortalExport) -> bool:
    """Scale points or mastery-level shares are published by nasjonale prøver alone."""
    measures = export.measures
    return "Skalapoeng" in measures or any(m.startswith("Andel på mestringsnivå") for m in measures)


MAPPING = SourceMapping(
    "nasjonale_prover",
    recognises,
    {
        "Skalapoeng": Measure("value", "skalapoeng", "scale_points"),
        "Usikkerhet": Measure("std_error", applies_to="skalapoeng"),
        "Antall elever deltatt": COUNT,
    },
    measure_patterns=(
        (
            re.compile(r"^Andel (?:elever )?på mestringsnivå (\d)$"),
            Measure("value", "mestringsniva_{}", "percent"),
        ),
    ),
)
