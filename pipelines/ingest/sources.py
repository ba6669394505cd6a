"""Per-source meaning on top of the one portal parser: which measure is a value, its uncertainty or its
pupil count, and what each column dimension says (grade, subject, survey indicator, breakdown).

The four sources share one vocabulary so that later stages never look at Udir's column names:

=================  ===========================================  =============================
source             indicator                                     measure (unit of ``value``)
=================  ===========================================  =============================
nasjonale_prover   skalapoeng, mestringsniva_1 … mestringsniva_5  scale_points, percent
elevundersokelsen  mobbing, stotte_fra_laererne, motivasjon, …    percent (mobbing), index
grunnskolepoeng    grunnskolepoeng                                points
gjennomforing      fullfort_og_bestatt, sluttet                   percent
=================  ===========================================  =============================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from pipelines.ingest.portal_format import ExportFormatError, PortalExport
from pipelines.tables import OBSERVATION_SCHEMA, QUARANTINE_SCHEMA
from pipelines.vocabulary import slug

# Dimension values that mean "everyone": they add nothing to a row's key.
TOTALS = {
    "Alle eierformer",
    "Alle kjønn",
    "Begge kjønn",
    "Alle utdanningsprogram",
    "Alle trinn",
    "Alle skoler",
    "Offentlig og privat",
}
SUBJECTS = {"Lesing": "lesing", "Regning": "regning", "Engelsk": "engelsk"}
GRADE = re.compile(r"^(?:(\d{1,2})\. ?(?:årstrinn|trinn)|Trinn (\d{1,2})|(Vg\d))$", re.IGNORECASE)
SURVEY_INDICATORS = {
    "Mobbing på skolen": "mobbing",
    "Støtte fra lærerne": "stotte_fra_laererne",
    "Motivasjon": "motivasjon",
    "Trivsel": "trivsel",
    "Mestring": "mestring",
    "Vurdering for læring": "vurdering_for_laering",
    "Læringskultur": "laeringskultur",
    "Elevdemokrati og medvirkning": "elevdemokrati_og_medvirkning",
    "Faglig utfordring": "faglig_utfordring",
    "Felles regler": "felles_regler",
    "Trygt miljø": "trygt_miljo",
}
# Indicator codes of the survey's indicator-per-row reports.
SURVEY_INDICATOR_CODES = {
    "67.19.00.11": "mobbing",
    "67.10.01.11A": "mobbing_av_elever",
    "67.18.01.11": "mobbing_av_voksne",
    "67.17.01.11": "mobbing_digitalt",
}


def survey_indicator(name: str) -> str:
    base = re.sub(r"\s*\((prosent|snitt)\)\s*$", "", name.strip(), flags=re.IGNORECASE)
    return SURVEY_INDICATORS.get(base, slug(base))


@dataclass(frozen=True)
class Measure:
    """What one of Udir's measure names is in a source."""

    role: str  # "value", "std_error" or "count"
    indicator: str | None = None  # value: the indicator (None: taken from the dimensions)
    unit: str | None = None  # value: the unit, e.g. "percent"
    applies_to: str | None = None  # std_error: the indicator it belongs to


@dataclass(frozen=True)
class SourceMapping:
    source: str
    measures: dict[str, Measure]
    default_grade: str | None = None
    measure_patterns: tuple[tuple[re.Pattern[str], Measure], ...] = field(default=())

    def measure(self, name: str) -> Measure | None:
        if name in self.measures:
            return self.measures[name]
        for pattern, measure in self.measure_patterns:
            match = pattern.match(name)
            if match:
                indicator = measure.indicator.format(*match.groups()) if measure.indicator else None
                return Measure(measure.role, indicator, measure.unit, measure.applies_to)
        return None


COUNT = Measure("count")
MAPPINGS: dict[str, SourceMapping] = {
    "nasjonale_prover": SourceMapping(
        "nasjonale_prover",
        {
            "Skalapoeng": Measure("value", "skalapoeng", "scale_points"),
            "Usikkerhet": Measure("std_error", applies_to="skalapoeng"),
            "Antall elever deltatt": COUNT,
        },
        measure_patterns=(
            (
                re.compile(r"^Andel (?:elever )?på mestringsnivå (\d)$"),
                Measure("value", "mestringsniva_{}", "percent"),
            ),
        ),
    ),
    "elevundersokelsen": SourceMapping(
        "elevundersokelsen",
        {
            "Prosentandel": Measure("value", None, "percent"),
            "Snitt": Measure("value", None, "index"),
            "Antall besvarte": COUNT,
            "Antall elever": COUNT,
        },
        default_grade="vgs",
    ),
    "grunnskolepoeng": SourceMapping(
        "grunnskolepoeng",
        {
            "Grunnskolepoeng": Measure("value", "grunnskolepoeng", "points"),
            "Antall elever": COUNT,
        },
        default_grade="10",
    ),
    "gjennomforing": SourceMapping(
        "gjennomforing",
        {
            "Andel fullført og bestått": Measure("value", "fullfort_og_bestatt", "percent"),
            "Andel sluttet": Measure("value", "sluttet", "percent"),
            "Antall elever": COUNT,
        },
        default_grade="vgs",
    ),
}


def detect_source(export: PortalExport) -> str:
    """Recognise a report's source from its header (names are not trusted)."""
    measures = export.measures
    dimension_values = {value for column in export.value_columns for value in column.dimensions}
    if "Skalapoeng" in measures or any(m.startswith("Andel på mestringsnivå") for m in measures):
        return "nasjonale_prover"
    if "Grunnskolepoeng" in measures:
        return "grunnskolepoeng"
    if measures & {"Andel sluttet", "Andel fullført og bestått"}:
        return "gjennomforing"
    if export.shape == "indicator_rows" or dimension_values & set(SURVEY_INDICATORS):
        return "elevundersokelsen"
    raise ExportFormatError(
        export.file,
        None,
        None,
        f"unrecognised report (measures: {', '.join(sorted(measures))}); expected nasjonale prøver, "
        "Elevundersøkelsen, grunnskolepoeng or gjennomføring from the statistics portal",
    )


def classify_dimensions(dimensions: list[str]) -> dict[str, str | None]:
    """Grade, subject, survey indicator and the remaining breakdown of one column's dimensions."""
    grade = subject = indicator = None
    rest = []
    for value in dimensions:
        match = GRADE.match(value)
        if match:
            number, trinn, vg = match.groups()
            grade = (number or trinn or vg).lower()
        elif value in SUBJECTS:
            subject = SUBJECTS[value]
        elif value in SURVEY_INDICATORS:
            indicator = SURVEY_INDICATORS[value]
        elif value not in TOTALS:
            rest.append(value)
    return {
        "grade": grade,
        "subject": subject,
        "dim_indicator": indicator,
        "breakdown": " / ".join(rest),
    }


LEVEL_BY_CODE = {"1": "national", "2": "county", "3": "municipality", "4": "school"}


def _unit_columns(export: PortalExport) -> pl.DataFrame:
    """Level, unit code and name, published fylke and kommune codes for unit-per-row exports."""
    rows = export.rows
    has_municipality_level = "Kommunekode" in rows.columns
    level_code = pl.col("EnhetNivaa")
    if has_municipality_level:
        level = level_code.replace_strict(LEVEL_BY_CODE, default=None)
    else:  # reports without a kommune level number schools 3
        level = level_code.replace_strict({"1": "national", "2": "county", "3": "school"}, default=None)
    municipality = pl.col("Kommunekode") if has_municipality_level else pl.lit(None, pl.String)
    frame = rows.with_columns(level.alias("level")).with_columns(
        pl.when(pl.col("level") == "national")
        .then(pl.col("Nasjonaltkode") if "Nasjonaltkode" in rows.columns else pl.lit("I"))
        .when(pl.col("level") == "county")
        .then(pl.col("Fylkekode"))
        .when(pl.col("level") == "municipality")
        .then(municipality)
        .otherwise(pl.col("Organisasjonsnummer"))
        .alias("unit_code"),
        # Area rows carry "Alle skoler" in EnhetNavn in some reports; their name is in Kommune / Fylke.
        pl.when((pl.col("level") == "municipality") & pl.lit("Kommune" in rows.columns))
        .then(pl.col("Kommune") if "Kommune" in rows.columns else pl.lit(None, pl.String))
        .when(pl.col("level") == "county")
        .then(pl.col("Fylke"))
        .otherwise(pl.col("EnhetNavn"))
        .alias("unit_name"),
        pl.when(pl.col("level") == "national").then(None).otherwise(pl.col("Fylkekode")).alias("county_code"),
        pl.when(pl.col("level").is_in(["municipality", "school"]))
        .then(municipality)
        .otherwise(None)
        .alias("municipality_code"),
    )
    return frame.select(
        "source_line",
        "level",
        "unit_code",
        "unit_name",
        "county_code",
        "municipality_code",
        pl.col("EnhetNivaa").alias("raw_level"),
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


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def to_observations(
    export: PortalExport, source: str, county_names: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observations (one per unit × value) and quarantined cells of one parsed export."""
    mapping = MAPPINGS[source]
    cells = export.cells
    if export.shape == "unit_rows":
        cells = cells.join(_unit_columns(export), on="source_line", how="left")
    else:
        survey_names = export.rows.select(
            "source_line",
            pl.col("Indikatorkode")
            .replace_strict(SURVEY_INDICATOR_CODES, default=None)
            .fill_null(pl.col("Indikatornavn").map_elements(survey_indicator, return_dtype=pl.String))
            .alias("row_indicator"),
        )
        cells = _indicator_row_units(cells.join(survey_names, on="source_line"), county_names)

    measure_names = cells["measure"].unique().to_list()
    roles = pl.DataFrame(
        [
            {
                "measure": name,
                "role": (m.role if (m := mapping.measure(name)) else None),
                "measure_indicator": m.indicator if m else None,
                "unit": m.unit if m else None,
                "applies_to": m.applies_to if m else None,
            }
            for name in measure_names
        ],
        schema={
            "measure": pl.String,
            "role": pl.String,
            "measure_indicator": pl.String,
            "unit": pl.String,
            "applies_to": pl.String,
        },
    )
    dimension_info = pl.DataFrame(
        [
            {"dimensions": dims, **classify_dimensions(dims)}
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
    cells = (
        cells.join(roles, on="measure", how="left")
        .join(dimension_info, on="dimensions", how="left", nulls_equal=True)
        .with_columns(
            pl.col("grade").fill_null(pl.lit(mapping.default_grade, pl.String)),
            pl.coalesce(
                "measure_indicator",
                "dim_indicator",
                *(["row_indicator"] if "row_indicator" in cells.columns else []),
            ).alias("indicator"),
            pl.col("dimensions").list.join("|").alias("group_key"),
        )
    )

    problems: list[pl.DataFrame] = []

    def quarantine(frame: pl.DataFrame, reason: pl.Expr) -> None:
        problems.append(
            frame.select(
                pl.lit(source).alias("source"),
                pl.lit(export.file).alias("source_file"),
                "source_line",
                pl.col("column").alias("source_column"),
                pl.col("raw").alias("raw_value"),
                reason.alias("reason"),
            )
        )

    unknown = cells.filter(pl.col("role").is_null())
    quarantine(unknown, pl.format("measure '{}' is not mapped for source {}", "measure", pl.lit(source)))
    no_level = cells.filter(pl.col("role").is_not_null() & pl.col("level").is_null())
    quarantine(no_level, pl.format("unknown EnhetNivaa '{}'; expected 1–4", "raw_level"))
    no_unit = cells.filter(
        pl.col("role").is_not_null() & (pl.col("level") == "county") & pl.col("unit_code").is_null()
    )
    quarantine(no_unit, pl.format("fylke '{}' is not in any register", "unit_name"))
    cells = cells.filter(
        pl.col("role").is_not_null()
        & pl.col("level").is_not_null()
        & ~((pl.col("level") == "county") & pl.col("unit_code").is_null())
    )

    group = ["source_line", "school_year", "group_key"]
    values = cells.filter(pl.col("role") == "value")
    std_errors = cells.filter(pl.col("role") == "std_error").select(
        *group,
        pl.col("applies_to").alias("indicator"),
        pl.col("value").alias("std_error"),
        pl.col("problem").alias("se_problem"),
        pl.col("column").alias("se_column"),
        pl.col("raw").alias("se_raw"),
    )
    counts = cells.filter(pl.col("role") == "count").select(
        *group,
        pl.col("value").alias("n_value"),
        pl.col("suppressed").alias("n_suppressed"),
        pl.col("problem").alias("n_problem"),
        pl.col("column").alias("n_column"),
        pl.col("raw").alias("n_raw"),
    )
    joined = values.join(std_errors, on=[*group, "indicator"], how="left").join(counts, on=group, how="left")
    joined = joined.with_columns(
        pl.when(pl.col("n_value").is_not_null() & (pl.col("n_value") != pl.col("n_value").round(0)))
        .then(pl.format("expected a whole pupil count; found '{}'", "n_raw"))
        .otherwise(pl.col("n_problem"))
        .alias("n_problem")
    )
    bad = (
        pl.col("problem").is_not_null()
        | pl.col("se_problem").is_not_null()
        | pl.col("n_problem").is_not_null()
    )
    bad_rows = joined.filter(bad)
    for problem, column, raw in (
        ("problem", "column", "raw"),
        ("se_problem", "se_column", "se_raw"),
        ("n_problem", "n_column", "n_raw"),
    ):
        rows = bad_rows.filter(pl.col(problem).is_not_null())
        problems.append(
            rows.select(
                pl.lit(source).alias("source"),
                pl.lit(export.file).alias("source_file"),
                "source_line",
                pl.col(column).alias("source_column"),
                pl.col(raw).alias("raw_value"),
                pl.col(problem).alias("reason"),
            )
        )
    good = joined.filter(~bad)
    # An empty cell is "no data", not a figure: it is counted, not stored.
    good = good.filter(pl.col("value").is_not_null() | pl.col("suppressed"))
    observations = good.select(
        pl.lit(source).alias("source"),
        "school_year",
        "level",
        "unit_code",
        "unit_name",
        "county_code",
        "municipality_code",
        "indicator",
        "grade",
        "subject",
        "breakdown",
        pl.col("unit").alias("measure"),
        "value",
        "std_error",
        pl.col("n_value").cast(pl.Int64).alias("n"),
        "suppressed",
        "break_note",
        pl.lit(export.file).alias("source_file"),
        "source_line",
        pl.col("column").alias("source_column"),
    ).cast(OBSERVATION_SCHEMA)
    quarantined = (
        pl.concat([p.cast(QUARANTINE_SCHEMA) for p in problems]) if problems else _empty(QUARANTINE_SCHEMA)
    )
    rejected = export.rejected_lines.select(
        pl.lit(source).alias("source"),
        pl.lit(export.file).alias("source_file"),
        "source_line",
        pl.lit(None, pl.String).alias("source_column"),
        pl.col("raw_line").alias("raw_value"),
        "reason",
    )
    quarantined = pl.concat([quarantined, rejected.cast(QUARANTINE_SCHEMA)])
    return observations, quarantined
