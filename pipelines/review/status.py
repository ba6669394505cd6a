"""Where the review stands: each listed kommune's status (candidate or applicant; recommended or not by
its statsforvalter; decided by Udir) and each office's progress. Plain tables for the dashboard and the
summary workbook; no reviewer's free text is in them.

What a run reads of the register for them (:func:`review_answers`, :func:`decisions_in_force`) keeps
only the answer, the office's priority, the office and the dates: the reviewers' free text (Begrunnelse,
Kontaktperson) goes to Udir's summary workbook only, never to what the run publishes.
"""

from __future__ import annotations

import polars as pl

from pipelines.register.store import VERSION
from pipelines.review.imports import latest_reviews
from pipelines.review.records import latest
from pipelines.review.scheme_records import DECISION_RECORD
from pipelines.vocabulary import (
    APPLICANT,
    CANDIDATE,
    NOT_RECOMMENDED,
    NOT_REVIEWED,
    ON_LIST,
    RECOMMENDATIONS,
    RECOMMENDED,
    UNSURE,
)

# The office's answer (the workbook's dropdown) → the kommune's status.
REVIEW_STATUS = dict(zip(RECOMMENDATIONS, (RECOMMENDED, NOT_RECOMMENDED, UNSURE), strict=True))
STATUS_COLUMNS = [
    "municipality_code",
    "municipality_name",
    "statsforvalter",
    "basis",
    "review_status",
    "office_priority",
    "decision",
]


# The columns of the register's review and decision rows a run may carry: no free text, no file names.
ANSWER_COLUMNS = [
    "school_year",
    "office",
    "municipality_code",
    "recommendation",
    "office_priority",
    "review_date",
    VERSION,
]
DECISION_COLUMNS = ["school_year", "municipality_code", "decision", VERSION]


def review_answers(reviews: pl.DataFrame, school_year: str) -> pl.DataFrame:
    """Each office's latest answer per kommune for ``school_year``, without the free text.
    ``reviews``: the register's ``reviews`` table (empty when nothing has been imported)."""
    return (
        latest_reviews(reviews)
        .filter(pl.col("school_year") == school_year)
        .select(ANSWER_COLUMNS)
        .sort("office", "municipality_code")
    )


def decisions_in_force(decisions: pl.DataFrame, school_year: str) -> pl.DataFrame:
    """Udir's decisions for ``school_year`` in force (the latest version). ``decisions``: the register's
    ``decisions`` table (empty when nothing has been decided)."""
    if decisions.is_empty():
        return pl.DataFrame(schema={**DECISION_RECORD, VERSION: pl.Int64}).select(DECISION_COLUMNS)
    return (
        latest(decisions, ("school_year",))
        .filter(pl.col("school_year") == school_year)
        .select(DECISION_COLUMNS)
        .sort("municipality_code")
    )


def listed(candidates: pl.DataFrame) -> pl.DataFrame:
    """The kommuner under review: on the list, or applicants."""
    return candidates.filter(ON_LIST | pl.col("applicant"))


def review_status(
    candidates: pl.DataFrame, reviews: pl.DataFrame, decisions: pl.DataFrame, school_year: str
) -> pl.DataFrame:
    """One row per kommune under review for ``school_year``: ``basis`` (kandidat, søker or both),
    ``review_status`` (anbefalt / ikke anbefalt / usikker / ikke vurdert), the office's priority, and
    Udir's ``decision`` (null until decided). ``reviews`` and ``decisions``: the register's tables."""
    answers = (
        latest_reviews(reviews)
        .filter(pl.col("school_year") == school_year)
        .select("municipality_code", "office", "recommendation", "office_priority")
    )
    decided = latest(decisions, ("school_year",))
    decided = (
        decided.filter(pl.col("school_year") == school_year).select("municipality_code", "decision")
        if not decided.is_empty()
        else pl.DataFrame(schema={"municipality_code": pl.String, "decision": pl.String})
    )
    basis = (
        pl.when(ON_LIST & pl.col("applicant"))
        .then(pl.lit(f"{CANDIDATE} og {APPLICANT}"))
        .when(ON_LIST)
        .then(pl.lit(CANDIDATE))
        .otherwise(pl.lit(APPLICANT))
    )
    return (
        listed(candidates)
        .with_columns(basis.alias("basis"))
        .join(
            answers,
            left_on=["municipality_code", "statsforvalter"],
            right_on=["municipality_code", "office"],
            how="left",
        )
        .join(decided, on="municipality_code", how="left")
        .with_columns(
            pl.col("recommendation")
            .replace_strict(REVIEW_STATUS, return_dtype=pl.String)
            .fill_null(NOT_REVIEWED)
            .alias("review_status")
        )
        .select(STATUS_COLUMNS)
        .sort("statsforvalter", "municipality_code")
    )


def office_progress(status: pl.DataFrame, reviews: pl.DataFrame, school_year: str) -> pl.DataFrame:
    """Per office: kommuner under review, how many it has assessed, and whether it has answered."""
    answered = (
        reviews.filter(pl.col("school_year") == school_year)["office"].unique().to_list()
        if not reviews.is_empty()
        else []
    )
    return (
        status.group_by("statsforvalter")
        .agg(
            pl.len().alias("listed"),
            (pl.col("review_status") != NOT_REVIEWED).sum().alias("reviewed"),
            pl.col("decision").is_not_null().sum().alias("decided"),
        )
        .with_columns(pl.col("statsforvalter").is_in(answered).alias("answered"))
        .sort("statsforvalter")
    )
