"""Stage 6, selection: Udir's rule, the holistic method, sensitivity and the candidate lists."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import MAY_BE_EMPTY, TABLE_KINDS, markdown_table, outs, table, table_spec
from pipelines.provenance import frames_fingerprint
from pipelines.register.store import Register
from pipelines.resources import UtvalgSettings
from pipelines.review.imports import REVIEWS
from pipelines.review.scheme_records import DECISIONS_TABLE, cohorts, recorded_lists
from pipelines.review.scheme_records import applications as applications_in_force
from pipelines.review.status import decisions_in_force
from pipelines.review.status import review_answers as answers_without_text
from pipelines.selection.candidates import fylkeskommune_candidates as county_list
from pipelines.selection.candidates import kommune_candidates
from pipelines.selection.holistic import holistic_scores as holistic_method
from pipelines.selection.scheme import support_periods
from pipelines.selection.sensitivity import sensitivity_table
from pipelines.selection.udir_rule import udir_selection
from pipelines.vocabulary import (
    BORDERLINE,
    CLEAR_CANDIDATE,
    IN_SCHEME,
    ON_LIST,
    RECENTLY_OUT,
    UDIR_TOO_LITTLE_DATA,
)

GROUP = "selection"
HOLISTIC = [
    table_spec(
        "holistic_scores",
        GROUP,
        "The holistic method: shrunken, pooled indicator scores per kommune.",
        may_be_empty=True,
    ),
    table_spec(
        "rank_uncertainty",
        GROUP,
        "Composite score, P(among the N weakest), 90 % rank interval containing the point rank, the "
        "joint 90 % statements about the set, tier.",
        may_be_empty=True,
    ),
]

REGISTER = [
    table_spec(
        "scheme",
        GROUP,
        "Oppfølgingsordningen from the register: every cohort begun by the list's school year (historic "
        "or decided by Udir) with its support periods: first school year, forfase, gjennomføringsfase, "
        "last school year.",
        may_be_empty=True,
    ),
    table_spec(
        "cohort_lists",
        GROUP,
        "The lists the historic cohorts were chosen from, as recorded in the register: every ranked "
        "kommune with its rank (the follow-up's discontinuity uses them). Empty when none are recorded.",
        may_be_empty=True,
    ),
    table_spec(
        "applications",
        GROUP,
        "The school owners who applied for support for the list's school year (from the register): "
        "owner, kind, date, reason.",
        may_be_empty=True,
    ),
]

# Where the review stands, for the dashboard: not inputs of the list, so not in provenance.json (the run
# id the workbooks carry must not change as answers come in).
REVIEW = [
    table_spec(
        "review_answers",
        GROUP,
        "Each statsforvalter's latest answer per kommune for the list's school year (from the register): "
        "recommendation, the office's priority, the office and the date; never the free text.",
        may_be_empty=True,
    ),
    table_spec(
        "decisions",
        GROUP,
        "Udir's decisions in force for the list's school year (from the register): kommune and decision.",
        may_be_empty=True,
    ),
]


# Every selection asset waits for `data_coverage`: the configuration is checked against the data before
# the selection writes anything.
CHECKED = ["data_coverage"]


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY, deps=CHECKED)
def udir_risk_points(
    utvalg: UtvalgSettings, indicator_values: pl.DataFrame, school_indicator_values: pl.DataFrame
) -> dg.MaterializeResult:
    """Udir's rule: risk points, share of possible points, status, rank, category 1 and 2."""
    frame = udir_selection(indicator_values, school_indicator_values, utvalg.config)
    return table(
        frame,
        preview=frame.select("unit_code", "risk_share", "udir_status", "udir_rank", "udir_category"),
        for_lite_data=int((frame["udir_status"] == UDIR_TOO_LITTLE_DATA).sum()),
        tied_at_cutoff=int(frame["tied_at_cutoff"].sum()),
        schools_scored=int(frame["schools_scored"].sum()),
        schools_among_worst=int(frame["worst_quartile_schools"].sum()),
    )


@dg.multi_asset(outs=outs(HOLISTIC), deps=CHECKED)
def holistic(
    utvalg: UtvalgSettings, indicator_values: pl.DataFrame, school_indicator_values: pl.DataFrame
) -> Iterator[dg.MaterializeResult]:
    """The holistic method on the kommune indicators (one computation gives both tables)."""
    result = holistic_method(indicator_values, utvalg.config, school_values=school_indicator_values)
    scores = result.indicator_scores
    yield dg.MaterializeResult(
        asset_key="holistic_scores",
        value=scores,
        metadata={"preview": markdown_table(scores.sort("score", descending=True))},
    )
    preview = ["unit_code", "holistic_rank", "p_top_n", "rank_low", "rank_high", "sure_candidate", "tier"]
    yield dg.MaterializeResult(
        asset_key="rank_uncertainty",
        value=result.scores,
        metadata={
            "preview": markdown_table(result.scores.select(preview)),
            "model": markdown_table(result.model),
            "intervals_widened_to_point_rank": result.intervals_widened,
            "sure_candidates": int(result.scores["sure_candidate"].sum()),
        },
    )


@dg.multi_asset(outs=outs(REGISTER))
def register_records(utvalg: UtvalgSettings) -> Iterator[dg.MaterializeResult]:
    """What the register holds that the list depends on, read once per run: the run is reproducible
    given these rows, whose fingerprint provenance.json records. Decisions made on this year's list
    start the next school year and do not change it."""
    register = Register(Path(utvalg.register_path))
    year = utvalg.config.selection.school_year
    periods = support_periods(cohorts(register, year), utvalg.config.scheme)
    applied = applications_in_force(register, year)
    lists = recorded_lists(register)
    fingerprint = frames_fingerprint(periods, lists, applied)
    yield dg.MaterializeResult(
        asset_key="scheme",
        value=periods,
        metadata={"preview": markdown_table(periods), "rows": periods.height, "register": fingerprint},
    )
    yield dg.MaterializeResult(
        asset_key="cohort_lists",
        value=lists,
        metadata={
            "cohorts": lists["first_school_year"].n_unique(),
            "rows": lists.height,
            "register": fingerprint,
        },
    )
    yield dg.MaterializeResult(
        asset_key="applications",
        value=applied,
        metadata={"preview": markdown_table(applied), "rows": applied.height, "register": fingerprint},
    )


@dg.multi_asset(outs=outs(REVIEW))
def review_records(utvalg: UtvalgSettings) -> Iterator[dg.MaterializeResult]:
    """What the register holds of the review of the list's school year, read once per run, without the
    reviewers' free text (Begrunnelse, Kontaktperson): nothing published can show it."""
    register = Register(Path(utvalg.register_path))
    year = utvalg.config.selection.school_year
    answers = answers_without_text(register.read(REVIEWS), year)
    decided = decisions_in_force(register.read(DECISIONS_TABLE), year)
    fingerprint = frames_fingerprint(answers, decided)
    for key, frame in (("review_answers", answers), ("decisions", decided)):
        yield dg.MaterializeResult(
            asset_key=key,
            value=frame,
            metadata={"preview": markdown_table(frame), "rows": frame.height, "register": fingerprint},
        )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY, deps=CHECKED)
def sensitivity(
    utvalg: UtvalgSettings,
    harmonised_observations: pl.DataFrame,
    indicator_values: pl.DataFrame,
    school_indicator_values: pl.DataFrame,
) -> dg.MaterializeResult:
    """Per kommune and method: share of alternative choices selecting it, and the choices that change
    the decision (area weights, window, shrinkage, Udir's limits)."""
    frame = sensitivity_table(
        harmonised_observations, indicator_values, school_indicator_values, utvalg.config
    )
    return table(frame, preview=frame.filter(pl.col("deciding_choices").is_not_null()))


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS)
def candidates(
    utvalg: UtvalgSettings,
    kommune_register: pl.DataFrame,
    udir_risk_points: pl.DataFrame,
    rank_uncertainty: pl.DataFrame,
    holistic_scores: pl.DataFrame,
    sensitivity: pl.DataFrame,
    scheme: pl.DataFrame,
    applications: pl.DataFrame,
    published_figures: pl.DataFrame,
) -> dg.MaterializeResult:
    """One row per kommune of the target structure: Udir's rule and the holistic method side by side,
    with a plain Norwegian explanation, the kommune's place in Oppfølgingsordningen, whether it
    applied, and Udir's categories and the holistic rank without the kommuner in the scheme. The
    explanation's years worse than the country are counted on the published figures only."""
    config = utvalg.config
    frame = kommune_candidates(
        kommune_register,
        udir_risk_points,
        rank_uncertainty,
        holistic_scores,
        sensitivity,
        config,
        scheme,
        applications.filter(pl.col("owner_kind") == "kommune"),
        published_figures,
    )
    preview = ["municipality_code", "municipality_name", "udir_category", "holistic_rank", "p_top_n", "tier"]
    return table(
        frame,
        preview=frame.select(preview),
        school_year=config.selection.school_year,
        window=", ".join(config.window()),
        udir_category_1=int((frame["udir_category"] == 1).sum()),
        udir_category_2=int((frame["udir_category"] == 2).sum()),
        klar_kandidat=int((frame["tier"] == CLEAR_CANDIDATE).sum()),
        grensetilfelle=int((frame["tier"] == BORDERLINE).sum()),
        on_the_list=frame.filter(ON_LIST).height,
        applicants=int(frame["applicant"].sum()),
        in_scheme=int((frame["scheme_status"] == IN_SCHEME).sum()),
        recently_out=int((frame["scheme_status"] == RECENTLY_OUT).sum()),
    )


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY, deps=CHECKED)
def fylkeskommune_candidates(
    utvalg: UtvalgSettings,
    kommune_register: pl.DataFrame,
    fylke_indicator_values: pl.DataFrame,
    applications: pl.DataFrame,
    published_figures: pl.DataFrame,
) -> dg.MaterializeResult:
    """The ranked list of fylkeskommuner (the holistic method on their own indicators), and whether
    each applied; the explanation's years worse than the country are counted on the published
    figures only."""
    frame = county_list(
        kommune_register,
        fylke_indicator_values,
        utvalg.config,
        applications.filter(pl.col("owner_kind") == "fylkeskommune"),
        published_figures,
    )
    return table(
        frame,
        preview=frame.select("county_code", "county_name", "holistic_rank", "tier", "applicant"),
        applicants=int(frame["applicant"].sum()),
    )
