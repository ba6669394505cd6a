"""One parsed export → observations (one per unit × value) and the cells and lines set aside.

:func:`to_observations` is a pipeline of small steps over the export's long table of cells: place each
cell's unit, give its measure a role, read its column dimensions, set aside what cannot be used, pair
each value with its uncertainty and pupil count, set aside bad numbers, and shape what is left.
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.portal_format import PortalExport
from pipelines.ingest.sources import mapping_for
from pipelines.ingest.sources.elevundersokelsen import SURVEY_INDICATORS, row_indicators
from pipelines.ingest.sources.mapping import SourceMapping, classify_dimensions
from pipelines.ingest.unit_names import county_name_lookup, line_problems
from pipelines.reference.registers import Registers
from pipelines.tables import OBSERVATION_SCHEMA, quarantine_rows

LEVEL_BY_CODE = {"1": "national", "2": "county", "3": "municipality", "4": "school"}
# Reports without a kommune level number their schools 3.
LEVEL_BY_CODE_WITHOUT_MUNICIPALITIES = {"1": "national", "2": "county", "3": "school"}
# A value, its uncertainty and its pupil count share a line, a school year and the column dimensions.
FIGURE_GROUP = ("source_line", "school_year", "group_key")
# More pupils than Norway's schools have (about 900 000): a count this large is damage, not data, and
# would not fit the count's integer type.
MAX_PUPILS = 10_000_000
# The cells of one figure, each as (its problem, column, text as published).
CHECKED_CELLS = (
    ("problem", "column", "raw"),
    ("se_problem", "se_column", "se_raw"),
    ("n_problem", "n_column", "n_raw"),
)


def to_observations(
    export: PortalExport, source: str, registers: Registers
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations (one per unit × value) and quarantined cells of one parsed export."""
    mapping = mapping_for(source)
    cells = _place_units(export, registers).with_columns(
        pl.lit(source).alias("source"), pl.lit(export.file).alias("source_file")
    )
    cells = _classify_dimensions(_assign_roles(cells, mapping), mapping)
    cells, unusable = _quarantine_unusable_cells(cells)
    figures, bad_numbers = _quarantine_bad_numbers(_attach_errors_and_counts(cells))
    quarantined = pl.concat([unusable, bad_numbers, _rejected_lines(export, source)])
    return _as_observations(figures), quarantined


def _place_units(export: PortalExport, registers: Registers) -> pl.DataFrame:
    """Every cell with its unit: level, code, name, fylke and kommune (and the level as published), and
    what keeps its line from being placed (``line_problem``)."""
    if export.shape == "unit_rows":
        school_years = sorted({column.school_year for column in export.value_columns})
        units = _unit_row_units(export.rows).join(
            line_problems(export.rows, school_years, registers), on="source_line", how="left"
        )
        return export.cells.join(units, on="source_line", how="left")
    # Only the survey publishes indicator-per-row reports; the line names the indicator.
    cells = export.cells.join(row_indicators(export.rows), on="source_line")
    return _indicator_row_units(cells, county_name_lookup(registers)).with_columns(
        pl.lit(None, pl.String).alias("line_problem")
    )


def _unit_row_units(rows: pl.DataFrame) -> pl.DataFrame:
    """Units of unit-per-row reports are in the id columns, whichever of them the report has."""
    has_municipalities = "Kommunekode" in rows.columns
    level_code = pl.col("EnhetNivaa")
    levels = LEVEL_BY_CODE if has_municipalities else LEVEL_BY_CODE_WITHOUT_MUNICIPALITIES
    municipality = pl.col("Kommunekode") if has_municipalities else pl.lit(None, pl.String)
    national_code = pl.col("Nasjonaltkode") if "Nasjonaltkode" in rows.columns else pl.lit("I")
    level = pl.col("level")
    # Area rows carry "Alle skoler" in EnhetNavn in some reports; their name is in Kommune / Fylke.
    name = pl.when(level == "county").then(pl.col("Fylke")).otherwise(pl.col("EnhetNavn"))
    if "Kommune" in rows.columns:
        name = pl.when(level == "municipality").then(pl.col("Kommune")).otherwise(name)
    return rows.with_columns(level_code.replace_strict(levels, default=None).alias("level")).select(
        "source_line",
        "level",
        pl.when(level == "national")
        .then(national_code)
        .when(level == "county")
        .then(pl.col("Fylkekode"))
        .when(level == "municipality")
        .then(municipality)
        .otherwise(pl.col("Organisasjonsnummer"))
        .alias("unit_code"),
        name.alias("unit_name"),
        pl.when(level == "national").then(None).otherwise(pl.col("Fylkekode")).alias("county_code"),
        pl.when(level.is_in(["municipality", "school"]))
        .then(municipality)
        .otherwise(None)
        .alias("municipality_code"),
        level_code.alias("raw_level"),
    )


def _indicator_row_units(cells: pl.DataFrame, county_names: dict[str, str]) -> pl.DataFrame:
    """Units of indicator-per-row reports sit in the column dimensions: nation, fylke, school."""
    national = pl.col("dimensions").list.get(0, null_on_oob=True)
    county = pl.col("dimensions").list.get(1, null_on_oob=True)
    school = pl.col("dimensions").list.get(2, null_on_oob=True)
    level = (
        pl.when(county == "Alle fylker")
        .then(pl.lit("national"))
        .when(school == "Alle skoler")
        .then(pl.lit("county"))
        .otherwise(pl.lit("school"))
    )
    # Fylker are named, not coded: a name no register knows leaves the code empty (quarantined later).
    county_code = county.replace_strict(county_names, default=None)
    return cells.with_columns(
        level.alias("level"),
        pl.when(level == "national")
        .then(pl.lit("I"))
        .when(level == "county")
        .then(county_code)
        .otherwise(None)
        .alias("unit_code"),
        pl.when(level == "national")
        .then(national)
        .when(level == "county")
        .then(county)
        .otherwise(school)
        .alias("unit_name"),
        pl.when(level == "national").then(None).otherwise(county_code).alias("county_code"),
        pl.lit(None, pl.String).alias("municipality_code"),
        pl.lit("indicator-row").alias("raw_level"),
        pl.col("dimensions").list.slice(3).alias("dimensions"),
    )


def _assign_roles(cells: pl.DataFrame, mapping: SourceMapping) -> pl.DataFrame:
    """The source's meaning of each measure name: value, uncertainty or count (null: not mapped)."""
    rows = []
    for name in cells["measure"].unique().to_list():
        measure = mapping.measure(name)
        rows.append(
            {
                "measure": name,
                "role": measure.role if measure else None,
                "measure_indicator": measure.indicator if measure else None,
                "unit": measure.unit if measure else None,
                "applies_to": measure.applies_to if measure else None,
                "standard_errors": measure.standard_errors if measure else None,
            }
        )
    roles = pl.DataFrame(
        rows,
        schema={
            "measure": pl.String,
            "role": pl.String,
            "measure_indicator": pl.String,
            "unit": pl.String,
            "applies_to": pl.String,
            "standard_errors": pl.Float64,
        },
    )
    return cells.join(roles, on="measure", how="left")


def _classify_dimensions(cells: pl.DataFrame, mapping: SourceMapping) -> pl.DataFrame:
    """Grade, subject and breakdown from the column dimensions, so later stages never read them; the
    indicator from the measure, else the dimensions, else the line."""
    dimension_info = pl.DataFrame(
        [
            {"dimensions": dims, **classify_dimensions(dims, SURVEY_INDICATORS)}
            for dims in cells["dimensions"].unique(maintain_order=True).to_list()
        ],
        schema={
            "dimensions": pl.List(pl.String),
            "grade": pl.String,
            "subject": pl.String,
            "dim_indicator": pl.String,
            "breakdown": pl.String,
        },
    )
    row_indicator = ["row_indicator"] if "row_indicator" in cells.columns else []
    return cells.join(dimension_info, on="dimensions", how="left", nulls_equal=True).with_columns(
        pl.col("grade").fill_null(pl.lit(mapping.default_grade, pl.String)),
        pl.coalesce("measure_indicator", "dim_indicator", *row_indicator).alias("indicator"),
        pl.col("dimensions").list.join("|").alias("group_key"),
    )


def _quarantine_unusable_cells(cells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cells whose measure, level, fylke or line the pipeline cannot place are set aside, not guessed."""
    mapped = pl.col("role").is_not_null()
    unknown_county = (pl.col("level") == "county") & pl.col("unit_code").is_null()
    bad_line = pl.col("line_problem").is_not_null()
    reasons = (
        (bad_line, pl.col("line_problem")),
        (~bad_line & ~mapped, pl.format("measure '{}' is not mapped for source {}", "measure", "source")),
        (
            ~bad_line & mapped & pl.col("level").is_null(),
            pl.format("unknown EnhetNivaa '{}'; expected 1–4", "raw_level"),
        ),
        (~bad_line & mapped & unknown_county, pl.format("fylke '{}' is not in any register", "unit_name")),
    )
    quarantined = pl.concat([_quarantine_cells(cells.filter(which), reason) for which, reason in reasons])
    usable = cells.filter(~bad_line & mapped & pl.col("level").is_not_null() & ~unknown_county)
    return usable, quarantined


def _attach_errors_and_counts(cells: pl.DataFrame) -> pl.DataFrame:
    """One row per value, beside its uncertainty and pupil count: they are published as columns of
    their own."""
    std_errors = _companion_cells(
        cells,
        "std_error",
        "se",
        pl.col("applies_to").alias("indicator"),
        (pl.col("value") / pl.col("standard_errors")).alias("std_error"),
    )
    counts = _companion_cells(cells, "count", "n", pl.col("value").alias("n_value"))
    return (
        cells.filter(pl.col("role") == "value")
        .join(std_errors, on=[*FIGURE_GROUP, "indicator"], how="left")
        .join(counts, on=list(FIGURE_GROUP), how="left")
    )


def _companion_cells(cells: pl.DataFrame, role: str, prefix: str, *figures: pl.Expr) -> pl.DataFrame:
    """The cells of one role, keyed to join their value's row, with their problem, column and text
    under ``prefix`` so that each can be quarantined."""
    return cells.filter(pl.col("role") == role).select(
        *FIGURE_GROUP,
        *figures,
        pl.col("problem").alias(f"{prefix}_problem"),
        pl.col("column").alias(f"{prefix}_column"),
        pl.col("raw").alias(f"{prefix}_raw"),
    )


def _quarantine_bad_numbers(figures: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A figure whose value, uncertainty or count is not a number (or not a whole count) is set aside
    whole, once per bad cell."""
    figures = figures.with_columns(
        pl.when(pl.col("n_value").is_not_null() & (pl.col("n_value") != pl.col("n_value").round(0)))
        .then(pl.format("expected a whole pupil count; found '{}'", "n_raw"))
        .when(pl.col("n_value") > MAX_PUPILS)
        .then(
            pl.format(
                "expected a pupil count; found '{}', more than {} (a damaged cell?)",
                "n_raw",
                pl.lit(MAX_PUPILS),
            )
        )
        .otherwise(pl.col("n_problem"))
        .alias("n_problem")
    )
    bad = pl.any_horizontal(pl.col(problem).is_not_null() for problem, _, _ in CHECKED_CELLS)
    bad_figures = figures.filter(bad)
    quarantined = pl.concat(
        [
            _quarantine_cells(bad_figures.filter(pl.col(problem).is_not_null()), pl.col(problem), column, raw)
            for problem, column, raw in CHECKED_CELLS
        ]
    )
    return figures.filter(~bad), quarantined


def _quarantine_cells(
    cells: pl.DataFrame, reason: pl.Expr, column: str = "column", raw: str = "raw"
) -> pl.DataFrame:
    """Quarantine rows naming each cell's column and its text as published."""
    return quarantine_rows(cells, reason, raw_value=pl.col(raw), source_column=pl.col(column))


def _as_observations(figures: pl.DataFrame) -> pl.DataFrame:
    """The figures in the observation table's shape."""
    # An empty cell is "no data", not a figure: it is counted, not stored.
    published = figures.filter(pl.col("value").is_not_null() | pl.col("suppressed"))
    named = published.with_columns(
        pl.col("unit").alias("measure"),
        pl.col("n_value").cast(pl.Int64).alias("n"),
        pl.col("column").alias("source_column"),
    )
    return named.select(list(OBSERVATION_SCHEMA)).cast(OBSERVATION_SCHEMA)


def _rejected_lines(export: PortalExport, source: str) -> pl.DataFrame:
    """Lines the parser could not read as data (such as a repeated header), whole."""
    lines = export.rejected_lines.with_columns(
        pl.lit(source).alias("source"), pl.lit(export.file).alias("source_file")
    )
    return quarantine_rows(
        lines, pl.col("reason"), raw_value=pl.col("raw_line"), source_column=pl.lit(None, pl.String)
    )
