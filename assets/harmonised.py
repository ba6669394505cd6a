"""Stage 4, observations mapped to one kommune structure, and the lookups derived from them."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.metadata import MAY_BE_EMPTY, TABLE_KINDS, markdown_table, outs, table, table_spec
from pipelines.harmonise import lookups
from pipelines.harmonise.harmonise import Target, harmonise, newest_school_names
from pipelines.resources import UtvalgSettings

GROUP = "harmonised"
HARMONISED = [
    table_spec(
        "harmonised_observations",
        GROUP,
        "The observations in the target kommune structure: one row per target unit × school "
        "year × indicator × grade × subject × measure, with lineage (unchanged, recode, merge, "
        "rebuilt_from_schools, inherited), the published rows used and a note.",
    ),
    table_spec(
        "unharmonised_observations",
        GROUP,
        "Observations that cannot be placed in the target structure (schools named without an "
        "organisation number, codes without a mapping), with the reason. They stay in `observations`.",
        may_be_empty=True,
    ),
]


@dg.multi_asset(outs=outs(HARMONISED))
def harmonised(
    utvalg: UtvalgSettings,
    observations: pl.DataFrame,
    quarantine: pl.DataFrame,
    kommune_mapping: pl.DataFrame,
    fylke_mapping: pl.DataFrame,
    kommune_register: pl.DataFrame,
) -> Iterator[dg.MaterializeResult]:
    """Map every observation to the target structure without counting a figure twice."""
    target = Target.from_tables(utvalg.structure, kommune_mapping, fylke_mapping, kommune_register)
    frame, unplaced = harmonise(observations, target, quarantine)
    yield dg.MaterializeResult(
        asset_key="harmonised_observations",
        value=frame,
        metadata={
            "target_structure": target.structure,
            "lineage": markdown_table(frame.group_by("level", "lineage").len().sort("level", "lineage"), 30),
            "pseudo_unit_rows": int(frame["is_pseudo"].sum()),
        },
    )
    yield dg.MaterializeResult(
        asset_key="unharmonised_observations",
        value=unplaced,
        metadata={"by_reason": markdown_table(unplaced.group_by("reason").len())},
    )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def school_names(harmonised_observations: pl.DataFrame) -> dg.MaterializeResult:
    """Each school's newest name, for the workbooks and the dashboard."""
    return table(newest_school_names(harmonised_observations))


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def break_notes(harmonised_observations: pl.DataFrame) -> dg.MaterializeResult:
    """Udir's notes on breaks in the series, once per source × school year × note (the method page)."""
    return table(lookups.break_notes(harmonised_observations))
