"""Per-source meaning on top of the one portal parser, one module per source: how its reports are
recognised, which measure is a value, its uncertainty or its pupil count, and what its column
dimensions say (grade, subject, survey indicator, breakdown).

The four sources share one vocabulary so that later stages never look at Udir's column names:

=================  ===========================================  =============================
source             indicator                                     measure (unit of ``value``)
=================  ===========================================  =============================
nasjonale_prover   skalapoeng, mestringsniva_1 … mestringsniva_5  scale_points, percent
elevundersokelsen  mobbing, stotte_fra_laererne, motivasjon, …    percent (mobbing), index
grunnskolepoeng    grunnskolepoeng                                points
gjennomforing      fullfort_og_bestatt, sluttet                   percent
=================  ===========================================  =============================
"""

from __future__ import annotations

from pipelines.ingest.portal_format import ExportFormatError, PortalExport
from pipelines.ingest.sources import elevundersokelsen, gjennomforing, grunnskolepoeng, nasjonale_prover
from pipelines.ingest.sources.mapping import SourceMapping
from pipelines.vocabulary import SOURCE_LABELS, SOURCES

# In the order they are tried: the survey last, as it is recognised by its report's shape and
# dimensions rather than by a measure only it publishes.
MAPPINGS: tuple[SourceMapping, ...] = (
    nasjonale_prover.MAPPING,
    grunnskolepoeng.MAPPING,
    gjennomforing.MAPPING,
    elevundersokelsen.MAPPING,
)
_BY_SOURCE = {mapping.source: mapping for mapping in MAPPINGS}


def mapping_for(source: str) -> SourceMapping:
    return _BY_SOURCE[source]


def detect_source(export: PortalExport) -> str:
    """Recognise a report's source from its header (names are not trusted)."""
    for mapping in MAPPINGS:
        if mapping.recognises(export):
            return mapping.source
    *others, last = (SOURCE_LABELS[source] for source in SOURCES)
    raise ExportFormatError(
        export.file,
        None,
        None,
        f"unrecognised report (measures: {', '.join(sorted(export.measures))}); expected "
        f"{', '.join(others)} or {last} from the statistics portal",
    )
