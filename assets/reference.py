"""Stage 1, reference registers: kommuner and fylker per structure, and the mappings to the target."""

from typing import Any

import dagster as dg
import polars as pl

from assets.metadata import TABLE_KINDS, table
from pipelines.reference.mapping import county_mapping, municipality_mapping
from pipelines.reference.registers import municipality_register
from pipelines.resources import UtvalgSettings
from pipelines.validate.tables import MAPPING, MUNICIPALITY_REGISTER

GROUP = "reference"


def _links_by_kind(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        f"links_{kind}": int(count) for kind, count in frame.group_by("kind").len().sort("kind").iter_rows()
    }


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def kommune_register(utvalg: UtvalgSettings) -> dg.MaterializeResult:
    """The kommuner of the target structure with their fylke and statsforvalter (SSB Klass 131/104)."""
    frame = municipality_register(utvalg.registers, utvalg.structure)
    MUNICIPALITY_REGISTER.validate(frame)
    return table(
        frame,
        structure=utvalg.structure,
        kommuner=frame.filter(~pl.col("is_pseudo")).height,
        statsforvaltere=frame["statsforvalter"].drop_nulls().n_unique(),
    )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def kommune_registers(utvalg: UtvalgSettings) -> dg.MaterializeResult:
    """Every kommune of every structure 2013–2024, pseudo-units (Svalbard, Utlandet, Uoppgitt) marked."""
    return table(utvalg.registers.municipalities)


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def kommune_mapping(utvalg: UtvalgSettings) -> dg.MaterializeResult:
    """Every historic kommune code (per structure) mapped to the target structure: kind unchanged /
    recode / merge / split, with weights."""
    frame = municipality_mapping(utvalg.registers, utvalg.changes, utvalg.structure)
    MAPPING.validate(frame)
    return table(frame, **_links_by_kind(frame))


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def fylke_mapping(utvalg: UtvalgSettings, kommune_mapping: pl.DataFrame) -> dg.MaterializeResult:
    """Every historic fylke code mapped to the target structure, derived from where its kommuner went."""
    frame = county_mapping(utvalg.registers, kommune_mapping)
    MAPPING.validate(frame)
    return table(frame, **_links_by_kind(frame))
