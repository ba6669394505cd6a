"""Stage 7, follow-up: did the support under Oppfølgingsordningen help? The kommuner in the scheme's
cohorts (the ``scheme`` table) against comparison kommuner, on every school year the raw folder has."""

import dagster as dg
import polars as pl

from assets.metadata import MAY_BE_EMPTY, TABLE_KINDS, table
from pipelines.followup.cohorts import followup_baselines as baselines_of
from pipelines.followup.cohorts import followup_panel as panel_of
from pipelines.followup.cohorts import kommune_trends, kommune_values_all_years
from pipelines.followup.estimates import TOO_LITTLE, follow_up_estimates
from pipelines.followup.outcomes import area_scores as scores_of
from pipelines.resources import UtvalgSettings

GROUP = "followup"


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def followup_values(utvalg: UtvalgSettings, harmonised_observations: pl.DataFrame) -> dg.MaterializeResult:
    """The kommune indicators of every school year in the raw folder (not only the window), beside the
    national level: what the cohorts were selected on and followed by."""
    frame = kommune_values_all_years(harmonised_observations, utvalg.config)
    years = sorted(set(frame["school_year"].to_list()))
    return table(
        frame, preview=frame.group_by("school_year").len().sort("school_year"), school_years=len(years)
    )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def area_scores(utvalg: UtvalgSettings, followup_values: pl.DataFrame) -> dg.MaterializeResult:
    """Each kommune's area score per school year: its distance from the national level in pupil SDs,
    higher is better, over the area's indicators from at least minimum_pupils pupils."""
    frame = scores_of(followup_values, utvalg.config)
    return table(frame, preview=frame.group_by("area", "school_year").len().sort("area", "school_year"))


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def followup_panel(
    utvalg: UtvalgSettings, followup_values: pl.DataFrame, scheme: pl.DataFrame, cohort_lists: pl.DataFrame
) -> dg.MaterializeResult:
    """Per cohort list (as recorded in the register, else remade by Udir's rule on the years before the
    cohort), kommune and area: in the scheme or a possible comparison, rank, pre- and post-means of the
    area score and the change. Empty while the register has no cohorts."""
    frame = panel_of(followup_values, scheme, cohort_lists, utvalg.config)
    return table(
        frame,
        cohorts=frame["first_school_year"].n_unique(),
        recorded_lists=cohort_lists["first_school_year"].n_unique(),
        kommuner_in_scheme=frame.filter("treated")["municipality_code"].n_unique(),
        comparison_kommuner=frame.filter("comparison")["municipality_code"].n_unique(),
    )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def followup_baselines(
    utvalg: UtvalgSettings, followup_values: pl.DataFrame, followup_panel: pl.DataFrame
) -> dg.MaterializeResult:
    """Per cohort list, kommune and indicator: the mean indicator score over the years before the cohort,
    what its list was made on; the difference-in-differences corrects its matches by them."""
    frame = baselines_of(followup_values, followup_panel, utvalg.config)
    return table(frame, indicators=frame["indicator_id"].n_unique())


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def followup_estimates(
    utvalg: UtvalgSettings, followup_panel: pl.DataFrame, followup_baselines: pl.DataFrame
) -> dg.MaterializeResult:
    """The three estimates of the effect (naive, did, rd) per cohort and area and pooled (alle), each
    with its 90 % interval and the number of kommuner it rests on; "for lite data" where too few."""
    frame = follow_up_estimates(followup_panel, followup_baselines, utvalg.config)
    return table(frame, preview=frame, too_little_data=int((frame["status"] == TOO_LITTLE).sum()))


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def followup_trends(
    utvalg: UtvalgSettings,
    area_scores: pl.DataFrame,
    followup_panel: pl.DataFrame,
    kommune_register: pl.DataFrame,
) -> dg.MaterializeResult:
    """Per kommune in the scheme, area and school year: its area score beside the mean of its matched
    comparison kommuner (the Oppfølging page's charts)."""
    names = kommune_register.select("municipality_code", "municipality_name").unique("municipality_code")
    frame = kommune_trends(area_scores, followup_panel, utvalg.config).join(
        names, on="municipality_code", how="left"
    )
    return table(frame, kommuner=frame["municipality_code"].n_unique())
