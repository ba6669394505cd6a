"""Stage 7, outputs: the published figures, candidate files, the governors' workbooks and the dashboard.

Every output reads the warehouse tables of the stages before it; none recomputes them. Every figure
with a pupil count that an output shows comes from ``published_figures``, privacy-protected once.
"""

import dagster as dg
import polars as pl

from assets.metadata import MAY_BE_EMPTY, TABLE_KINDS, files, markdown_table
from pipelines import settings
from pipelines.indicators.coverage import (
    absent_sources,
    data_gaps,
    list_note,
    missing_data,
    missing_data_text,
)
from pipelines.outputs.candidate_files import write_candidate_files
from pipelines.outputs.dashboard import build_dashboard
from pipelines.outputs.privacy import hidden_shares
from pipelines.outputs.privacy import published_figures as protected_figures
from pipelines.outputs.workbooks import write_workbooks
from pipelines.provenance import (
    frames_fingerprint,
    input_files,
    provenance_document,
    provenance_id,
    provenance_line,
)
from pipelines.resources import UtvalgSettings
from pipelines.review.status import office_progress, review_status
from pipelines.selection.candidates import with_county_applicants
from pipelines.selection.validation import clear_candidate_precision, load_validation

GROUP = "outputs"


@dg.asset(group_name=GROUP, kinds=TABLE_KINDS, metadata=MAY_BE_EMPTY)
def published_figures(
    utvalg: UtvalgSettings,
    national_indicator_values: pl.DataFrame,
    fylke_comparison_values: pl.DataFrame,
    fylke_indicator_values: pl.DataFrame,
    indicator_values: pl.DataFrame,
    school_indicator_values: pl.DataFrame,
) -> dg.MaterializeResult:
    """Every figure with a pupil count that the workbooks, the dashboard and the CSVs show (country,
    fylker, kommuner, schools; each kommune and fylkeskommune indicator and school year of the window),
    with its standard error, and primary and secondary suppression: no hidden figure, and no group of
    hidden pupils under minimum_pupils, can be derived from the shown ones. Value, n and standard error
    are empty where hidden."""
    frame = protected_figures(
        national_indicator_values,
        pl.concat([fylke_comparison_values, fylke_indicator_values]),
        indicator_values,
        school_indicator_values,
        utvalg.config,
    )
    shares = hidden_shares(frame)
    return dg.MaterializeResult(
        value=frame,
        metadata={
            "preview": markdown_table(shares),
            "rows": frame.height,
            "hidden_share": dg.MetadataValue.float(
                round(int(frame["hidden"].sum()) / max(frame.height, 1), 4)
            ),
        },
    )


def _provenance(
    utvalg: UtvalgSettings,
    raw_files: pl.DataFrame,
    pupil_files: pl.DataFrame,
    data_coverage: pl.DataFrame,
    register: tuple[pl.DataFrame, pl.DataFrame],
) -> str:
    """The run's provenance.json; its hash is the run id the workbooks carry. ``register``: the scheme
    and applications the run read from the register."""
    return provenance_document(
        input_files(raw_files, pupil_files),
        {"settings": utvalg.recorded(), "selection": utvalg.config.as_dict()},
        missing_data(data_coverage),
        absent_sources(data_coverage),
        frames_fingerprint(*register),
    )


@dg.asset(group_name=GROUP, kinds={"csv", "parquet"})
def candidate_files(
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    fylkeskommune_candidates: pl.DataFrame,
    published_figures: pl.DataFrame,
    raw_files: pl.DataFrame,
    pupil_files: pl.DataFrame,
    data_coverage: pl.DataFrame,
    scheme: pl.DataFrame,
    applications: pl.DataFrame,
) -> dg.MaterializeResult:
    """candidates.csv, fylkeskommuner.csv and their parquet copies in reports/<school-year>/,
    published_figures.csv (the privacy-protected figures), with provenance.json (which also names the
    sources and years the selection had no figures for)."""
    out = utvalg.year_folder
    config = utvalg.config
    missing = missing_data(data_coverage)
    provenance = _provenance(utvalg, raw_files, pupil_files, data_coverage, (scheme, applications))
    gaps = data_gaps(data_coverage)
    notes = {
        "candidates": list_note(gaps, config, "kommune"),
        "fylkeskommuner": list_note(gaps, config, "fylkeskommune"),
    }
    written = write_candidate_files(
        candidates, fylkeskommune_candidates, published_figures, out, provenance, notes
    )
    return files(
        written, out, missing_data="; ".join(f"{source} {', '.join(years)}" for source, years, _ in missing)
    )


@dg.asset(group_name=GROUP, kinds={"excel"})
def statsforvalter_workbooks(
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    fylkeskommune_candidates: pl.DataFrame,
    published_figures: pl.DataFrame,
    school_names: pl.DataFrame,
    raw_files: pl.DataFrame,
    pupil_files: pl.DataFrame,
    data_coverage: pl.DataFrame,
    scheme: pl.DataFrame,
    applications: pl.DataFrame,
) -> dg.MaterializeResult:
    """One Excel workbook per statsforvalter, made for reviewing: candidates and borderline kommuner with
    review cells, their indicators and schools, the office's fylkeskommuner, a legend and the method;
    a hidden sheet carries the run id (the hash of provenance.json) and the list's fingerprint that
    `utvalg review import` checks."""
    out = utvalg.year_folder / "statsforvaltere"
    run_id = provenance_id(_provenance(utvalg, raw_files, pupil_files, data_coverage, (scheme, applications)))
    written = write_workbooks(
        candidates,
        fylkeskommune_candidates,
        published_figures,
        school_names,
        utvalg.config,
        out,
        (run_id, provenance_line(input_files(raw_files, pupil_files), missing_data_text(data_coverage))),
        data_gaps(data_coverage),
        clear_candidate_precision(load_validation(settings.VALIDATION_DIR), utvalg.config),
    )
    return files(written, out, run_id=run_id)


@dg.asset(group_name=GROUP, kinds={"html", "plotly"})
def dashboard(
    utvalg: UtvalgSettings,
    candidates: pl.DataFrame,
    fylkeskommune_candidates: pl.DataFrame,
    sensitivity: pl.DataFrame,
    published_figures: pl.DataFrame,
    school_names: pl.DataFrame,
    break_notes: pl.DataFrame,
    raw_files: pl.DataFrame,
    pupil_files: pl.DataFrame,
    data_coverage: pl.DataFrame,
    review_answers: pl.DataFrame,
    decisions: pl.DataFrame,
    followup_estimates: pl.DataFrame,
    followup_trends: pl.DataFrame,
) -> dg.MaterializeResult:
    """The static HTML dashboard: overview map and list (applicants marked, the scheme and the review's
    status), funnel plots, a profile per kommune, the fylkeskommuner's overview and profiles, where the
    review stands, method."""
    out = utvalg.year_folder / "dashboard"
    status = review_status(
        with_county_applicants(candidates, fylkeskommune_candidates),
        review_answers,
        decisions,
        utvalg.config.selection.school_year,
    )
    written = build_dashboard(
        candidates,
        fylkeskommune_candidates,
        sensitivity,
        published_figures,
        school_names,
        break_notes,
        utvalg.config,
        settings.REFERENCE_DIR / "geo" / "kommuner_2024.geojson",
        out,
        provenance_line(input_files(raw_files, pupil_files), missing_data_text(data_coverage)),
        data_gaps(data_coverage),
        load_validation(settings.VALIDATION_DIR),
        status,
        office_progress(status, review_answers, utvalg.config.selection.school_year),
        (followup_estimates, followup_trends),
    )
    return files(written, out, index_bytes=dg.MetadataValue.int((out / "index.html").stat().st_size))
