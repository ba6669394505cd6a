"""Oppfølgingsordningen over the years: each kommune's support periods, its place in the scheme when a
list is made, and Udir's rule and the holistic list recomputed with those kommuner set aside.

A *cohort* is a kommune and the first school year of its support: imported for earlier years
(``utvalg scheme import``) or recorded from Udir's decision (``utvalg decide``: the school year after
the list's). The support periods are derived from it here and nowhere else: a forfase of
``forfase_years`` school years, then the gjennomføringsfase until ``total_years`` have passed.

When the list for school year Y is made, a kommune is *i ordningen* when Y lies within one of its
periods, and *nylig ute* when its last period ended at most ``recently_out_years`` school years before
Y. A kommune decided in Y (support from Y + 1) is not yet in the scheme on Y's list: the list Udir
decided on does not change when it is made again.
"""

from __future__ import annotations

import polars as pl

from pipelines.config import Config, Scheme
from pipelines.selection.udir_rule import categories, udir_selection
from pipelines.vocabulary import IN_SCHEME, RECENTLY_OUT

COHORT_SCHEMA = {"municipality_code": pl.String, "first_school_year": pl.String, "origin": pl.String}
PERIOD_COLUMNS = [
    "municipality_code",
    "origin",
    "first_school_year",
    "forfase_last_school_year",
    "gjennomforing_first_school_year",
    "last_school_year",
]
COHORT_LIST_SCHEMA = pl.Schema(
    {
        "first_school_year": pl.String,
        "municipality_code": pl.String,
        "rank": pl.UInt32,
        "risk_share": pl.Float64,
    }
)
STATUS_SCHEMA = {
    "municipality_code": pl.String,
    "scheme_status": pl.String,
    "scheme_first_school_year": pl.String,
    "scheme_last_school_year": pl.String,
}


def start_of(school_year: pl.Expr) -> pl.Expr:
    """``"2025-26"`` → 2025."""
    return school_year.str.slice(0, 4).cast(pl.Int32)


def school_year_from(start: pl.Expr) -> pl.Expr:
    """2025 → ``"2025-26"``."""
    return pl.format("{}-{}", start, ((start + 1) % 100).cast(pl.String).str.zfill(2))


def next_school_year(school_year: str) -> str:
    """The school year after ``school_year``: a decision's cohort starts then."""
    start = int(school_year[:4]) + 1
    return f"{start}-{(start + 1) % 100:02d}"


def previous_school_year(school_year: str) -> str:
    """The school year before ``school_year``: a cohort's list was made then."""
    start = int(school_year[:4]) - 1
    return f"{start}-{(start + 1) % 100:02d}"


def support_periods(cohorts: pl.DataFrame, scheme: Scheme) -> pl.DataFrame:
    """One row per cohort: its first school year, the last of the forfase, the first of the
    gjennomføringsfase and the last school year of the support."""
    start = start_of(pl.col("first_school_year"))
    return (
        cohorts.with_columns(
            school_year_from(start + scheme.forfase_years - 1).alias("forfase_last_school_year"),
            school_year_from(start + scheme.forfase_years).alias("gjennomforing_first_school_year"),
            school_year_from(start + scheme.total_years - 1).alias("last_school_year"),
        )
        .select(PERIOD_COLUMNS)
        .sort("municipality_code", "first_school_year", "origin")
    )


def scheme_status(periods: pl.DataFrame, school_year: str, scheme: Scheme) -> pl.DataFrame:
    """Per kommune in or recently out of the scheme when the list for ``school_year`` is made: the
    status and the period it comes from (of several, the one in force, else the latest to end)."""
    if periods.is_empty():
        return pl.DataFrame(schema=STATUS_SCHEMA)
    year = int(school_year[:4])
    first, last = start_of(pl.col("first_school_year")), start_of(pl.col("last_school_year"))
    return (
        periods.with_columns(
            pl.when((first <= year) & (last >= year))
            .then(pl.lit(IN_SCHEME))
            .when((last < year) & (last >= year - scheme.recently_out_years))
            .then(pl.lit(RECENTLY_OUT))
            .alias("scheme_status")
        )
        .filter(pl.col("scheme_status").is_not_null())
        .sort(pl.col("scheme_status") == IN_SCHEME, "last_school_year", "first_school_year", descending=True)
        .unique("municipality_code", keep="first", maintain_order=True)
        .select(
            "municipality_code",
            "scheme_status",
            pl.col("first_school_year").alias("scheme_first_school_year"),
            pl.col("last_school_year").alias("scheme_last_school_year"),
        )
        .sort("municipality_code")
    )


def without_scheme(
    udir: pl.DataFrame, holistic_rank: pl.DataFrame, set_aside: list[str], config: Config
) -> pl.DataFrame:
    """Udir's categories and the holistic list order with the kommuner ``set_aside`` (in the scheme or
    recently out) left out: category 1 filled from the next ranked kommuner, category 2 chosen again
    among the rest, and the holistic rank counted among the kommuner left. One row per ``unit_code`` of
    either frame; a kommune set aside, or unranked, has nulls."""
    aside = pl.Series(set_aside, dtype=pl.String)
    ranked = ranked_without(udir, aside, "unit_code").rename({"rank": "rank_without"})
    unranked = udir.filter(
        pl.col("udir_rank").is_null() & ~pl.col("unit_code").is_in(aside.implode())
    ).with_columns(pl.lit(None, pl.UInt32).alias("rank_without"))
    compared = pl.concat([ranked, unranked.select(ranked.columns)])
    udir_without = compared.select(
        "unit_code", categories(compared, config, "rank_without").alias("udir_category_without_scheme")
    )
    holistic_without = (
        holistic_rank.filter(~pl.col("unit_code").is_in(set_aside) & pl.col("holistic_rank").is_not_null())
        .sort("holistic_rank", "unit_code")
        .with_row_index("holistic_rank_without_scheme", offset=1)
        .select("unit_code", "holistic_rank_without_scheme")
    )
    return udir_without.join(holistic_without, on="unit_code", how="full", coalesce=True)


def cohort_list(
    values: pl.DataFrame, periods: pl.DataFrame, first_school_year: str, config: Config
) -> pl.DataFrame:
    """The list the cohort starting in ``first_school_year`` was chosen from, made the school year before:
    Udir's rule on the kommune figures ``values`` of that year's window, the kommuner in the scheme or
    recently out by the ``periods`` of earlier cohorts set aside, ranked 1, 2, … among the rest.

    The sample generator selects its past cohorts with it and the follow-up remakes them with it, so the
    two cannot drift apart."""
    made = config.with_year(previous_school_year(first_school_year))
    window = values.filter(pl.col("school_year").is_in(made.window()))
    # A cohort is category 1 only: no school figures, so no category 2.
    no_schools = window.clear().with_columns(pl.lit(None, pl.String).alias("municipality_code"))
    udir = udir_selection(window, no_schools, made)
    earlier = periods.filter(pl.col("first_school_year") < first_school_year)
    set_aside = scheme_status(earlier, made.selection.school_year, config.scheme)["municipality_code"]
    return (
        ranked_without(udir, set_aside, "unit_code")
        .select(
            pl.lit(first_school_year).alias("first_school_year"),
            pl.col("unit_code").alias("municipality_code"),
            "rank",
            "risk_share",
        )
        .cast(COHORT_LIST_SCHEMA)
    )


def ranked_without(udir: pl.DataFrame, set_aside: pl.Series, code: str) -> pl.DataFrame:
    """The kommuner Udir's rule ranks (``udir_rank``), less those ``set_aside``, ranked 1, 2, … among the
    rest in the rule's order (``rank``): the list a cohort is chosen from, whether the follow-up remakes
    it or ``utvalg decide`` records the published one."""
    return (
        udir.filter(pl.col("udir_rank").is_not_null() & ~pl.col(code).is_in(set_aside.implode()))
        .sort("udir_rank")
        .with_row_index("rank", offset=1)
    )
