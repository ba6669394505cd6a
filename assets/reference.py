"""Stage 1, reference registers: kommuner and fylker per structure, and the mappings to the target."""

import dagster as dg
import polars as pl

from pipelines.harmonise.harmonise import build_target
from pipelines.reference.registers import municipality_register
from pipelines.resources import UtvalgSettings
from pipelines.validate.tables import MAPPING, MUNICIPALITY_REGISTER

GROUP = "reference"


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"})
def kommune_register(context: dg.AssetExecutionContext, utvalg: UtvalgSettings) -> pl.DataFrame:
    """The kommuner of the target structure with their fylke and statsforvalter (SSB Klass 131/104)."""
    structure = utvalg.validated_target()
    frame = municipality_register(utvalg.registers(), structure)
    MUNICIPALITY_REGISTER.validate(frame)
    context.add_output_metadata(
        {
            "structure": structure,
            "kommuner": frame.filter(~pl.col("is_pseudo")).height,
            "statsforvaltere": frame["statsforvalter"].drop_nulls().n_unique(),
        }
    )
    return frame


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"})
def kommune_registers(utvalg: UtvalgSettings) -> pl.DataFrame:
    """Every kommune of every structure 2013–2024, pseudo-units (Svalbard, Utlandet, Uoppgitt) marked."""
    return utvalg.registers().municipalities


@dg.multi_asset(
    group_name=GROUP,
    outs={
        "kommune_mapping": dg.AssetOut(
            description="Every historic kommune code (per structure) mapped to the target structure: "
            "kind unchanged / recode / merge / split, with weights.",
            kinds={"polars", "duckdb"},
        ),
        "fylke_mapping": dg.AssetOut(
            description="Every historic fylke code mapped to the target structure, derived from where "
            "its kommuner went.",
            kinds={"polars", "duckdb"},
        ),
    },
)
def mappings(context: dg.AssetExecutionContext, utvalg: UtvalgSettings):
    """Kommune and fylke mappings to the target structure."""
    target = build_target(utvalg.registers(), utvalg.changes(), utvalg.validated_target())
    for name, frame in (
        ("kommune_mapping", target.municipality_links),
        ("fylke_mapping", target.county_links),
    ):
        MAPPING.validate(frame)
        counts = dict(frame.group_by("kind").len().sort("kind").iter_rows())
        context.add_output_metadata({f"links_{k}": int(v) for k, v in counts.items()}, output_name=name)
    return target.municipality_links, target.county_links
