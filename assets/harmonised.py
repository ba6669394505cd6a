"""Stage 4, observations mapped to one kommune structure."""

import dagster as dg
import polars as pl

from assets.metadata import markdown_table
from pipelines.harmonise.harmonise import build_target, harmonise, newest_school_names
from pipelines.resources import UtvalgSettings

GROUP = "harmonised"


@dg.multi_asset(
    group_name=GROUP,
    outs={
        "harmonised_observations": dg.AssetOut(
            description="The observations in the target kommune structure: one row per target unit × "
            "school year × indicator × grade × subject × measure, with lineage (unchanged, recode, "
            "merge, rebuilt_from_schools, inherited), the published rows used and a note.",
            kinds={"polars", "duckdb"},
        ),
        "unharmonised_observations": dg.AssetOut(
            description="Observations that cannot be placed in the target structure (schools named "
            "without an organisation number, codes without a mapping), with the reason. They stay "
            "in `observations`.",
            kinds={"polars", "duckdb"},
            metadata={"allow_empty": True},
        ),
    },
)
def harmonised(context: dg.AssetExecutionContext, utvalg: UtvalgSettings, observations: pl.DataFrame):
    """Map every observation to the target structure without counting a figure twice."""
    target = build_target(utvalg.registers(), utvalg.changes(), utvalg.validated_target())
    frame, unplaced = harmonise(observations, target)
    context.add_output_metadata(
        {
            "target_structure": target.structure,
            "lineage": markdown_table(frame.group_by("level", "lineage").len().sort("level", "lineage"), 30),
            "pseudo_unit_rows": int(frame["is_pseudo"].sum()),
        },
        output_name="harmonised_observations",
    )
    context.add_output_metadata(
        {"by_reason": markdown_table(unplaced.group_by("reason").len())},
        output_name="unharmonised_observations",
    )
    return frame, unplaced


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, metadata={"allow_empty": True})
def school_names(harmonised_observations: pl.DataFrame) -> pl.DataFrame:
    """Each school's newest name, for the workbooks and the dashboard."""
    return newest_school_names(harmonised_observations)
