"""One Excel workbook per statsforvalter: its kommuner on the candidate list and the borderline ones,
for review. Everything in the workbook is in Norwegian bokmål.

Sheets: ``Kandidater`` (sorted by priority, with review columns), ``Skoler`` (each listed kommune's
schools), ``Metode`` (the method and the columns explained). Every figure comes from
``published_figures`` (:mod:`pipelines.outputs.privacy`), hidden ones included as hidden.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.config import Config
from pipelines.indicators.coverage import DataGaps
from pipelines.outputs.method_text import method_sections, partial_rule_mark
from pipelines.outputs.privacy import school_figures, with_national
from pipelines.storage.files import write_atomically
from pipelines.vocabulary import ON_LIST, PRIORITY, slug

RECOMMENDATIONS = ["anbefales", "anbefales ikke", "usikker"]
# A fixed creation time keeps the files byte-identical between runs.
FIXED_CREATED = dt.datetime(2026, 1, 1)


def listed_kommuner(candidates: pl.DataFrame) -> pl.DataFrame:
    """Kommuner on the list, in the order a governor reviews them, then by the holistic rank."""
    return (
        candidates.filter(ON_LIST)
        .with_columns(PRIORITY.alias("prioritet"))
        .sort(["prioritet", "holistic_rank", "municipality_code"], nulls_last=True)
    )


def indicator_means(published: pl.DataFrame) -> pl.DataFrame:
    """Mean over the window per kommune × indicator of the published (not hidden) figures, beside the
    national mean: a function of published figures only, so it reveals nothing they do not."""
    shown = with_national(published, "municipality")
    return shown.group_by("unit_code", "indicator_id").agg(
        pl.col("value").mean().alias("value"),
        pl.col("national").mean().alias("national"),
        pl.col("value").is_not_null().sum().alias("years"),
    )


def file_name(office: str) -> str:
    base = office.replace("Statsforvalteren i ", "")
    return f"statsforvalteren_{slug(base)}.xlsx"


def _minimum_text(config: Config) -> str:
    """The minimum, with the reason written in utvalg.toml when it is set below the usual floor."""
    reason = config.selection.minimum_pupils_override_reason
    minimum = str(config.selection.minimum_pupils)
    return minimum if reason is None else f"{minimum} (begrunnelse: {reason})"


def method_rows(config: Config, produced_by: str, gaps: DataGaps) -> list[tuple[str, str]]:
    """The ``Metode`` sheet: the workbook's purpose, what the data lacked (when they did), the method,
    how to answer, the run and the indicators."""
    return [
        (
            "Formål",
            "Arbeidsboken viser kommunene i embetets område som er kandidater til "
            "oppfølgingsordningen, og grensetilfellene, til statsforvalterens vurdering.",
        ),
        *method_sections(config, gaps),
        (
            "Anbefaling",
            f"Velg {' / '.join(RECOMMENDATIONS)}, og begrunn vurderingen i kolonnen Begrunnelse.",
        ),
        ("Skoleår", ", ".join(config.window())),
        ("Minste antall elever", _minimum_text(config)),
        ("Laget av", produced_by),
        *(
            (
                i.label,
                f"indikator i perioden ({'høyere er bedre' if i.higher_is_better else 'lavere er bedre'})",
            )
            for i in config.for_owner("kommune")
        ),
    ]


def _write_sheet_table(
    book: xlsxwriter.Workbook,
    name: str,
    frame: pl.DataFrame,
    formats: dict[str, xlsxwriter.format.Format],
    number_formats: dict[str, str],
    widths: dict[str, int],
) -> xlsxwriter.worksheet.Worksheet:
    sheet = book.add_worksheet(name)
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDE6F0"})
    sheet.set_row(0, 45)
    for column, title in enumerate(frame.columns):
        sheet.write_string(0, column, title, header)
        style = formats.get(number_formats.get(title, ""))
        sheet.set_column(column, column, widths.get(title, max(10, min(40, len(title) + 2))), style)
    for row_number, row in enumerate(frame.iter_rows(), start=1):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(row_number, column, value)
            else:
                sheet.write_number(row_number, column, value)
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, max(frame.height, 1), len(frame.columns) - 1)
    return sheet


def candidates_table(
    listed: pl.DataFrame, municipal_means: pl.DataFrame, config: Config, gaps: DataGaps
) -> pl.DataFrame:
    """The ``Kandidater`` sheet's rows: the assessment, each indicator beside the national level, and
    empty columns for the governor's answer."""
    table = listed.select(
        pl.col("prioritet").alias("Prioritet"),
        pl.col("municipality_code").alias("Kommunenr"),
        pl.col("municipality_name").alias("Kommune"),
        pl.col("udir_category").cast(pl.Float64).alias(f"Udir-kategori{partial_rule_mark(gaps)}"),
        pl.col("udir_status").alias("Udir-status"),
        pl.col("udir_rank").cast(pl.Float64).alias("Udir-rangering"),
        pl.col("udir_tied_count").cast(pl.Float64).alias("Kommuner med lik andel"),
        pl.col("udir_risk_share").alias("Andel risikopoeng"),
        pl.col("tier").alias("Helhetlig vurdering"),
        pl.col("p_top_n").alias(_probability_column(config)),
        pl.col("holistic_rank").cast(pl.Float64).alias("Rangering"),
        pl.format("{}–{}", "rank_low", "rank_high").alias("Rangering, 90 % intervall"),
        pl.col("joint_statement").alias("Samlet utsagn"),
    )
    for indicator in config.for_owner("kommune"):
        means = municipal_means.filter(pl.col("indicator_id") == indicator.id).select(
            pl.col("unit_code").alias("Kommunenr"),
            pl.col("value").alias(f"{indicator.label}: kommunen"),
            pl.col("national").alias(f"{indicator.label}: landet"),
        )
        table = table.join(means, on="Kommunenr", how="left")
    return table.with_columns(
        listed["explanation"].alias("Forklaring"),
        pl.lit(None, pl.String).alias("Anbefaling"),
        pl.lit(None, pl.String).alias("Begrunnelse"),
    )


def _probability_column(config: Config) -> str:
    return f"Sannsynlighet blant de {config.holistic.top_n} svakeste"


def _formats(book: xlsxwriter.Workbook) -> dict[str, xlsxwriter.format.Format]:
    return {
        "percent": book.add_format({"num_format": "0 %"}),
        "share": book.add_format({"num_format": "0.00"}),
        "one": book.add_format({"num_format": "0.0"}),
        "int": book.add_format({"num_format": "0"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }


def _write_candidates_sheet(
    book: xlsxwriter.Workbook,
    table: pl.DataFrame,
    formats: dict[str, xlsxwriter.format.Format],
    config: Config,
) -> None:
    number_formats = {
        "Andel risikopoeng": "percent",
        _probability_column(config): "percent",
        **{c: "int" for c in table.columns if c.startswith("Udir-kategori")},
        "Udir-rangering": "int",
        "Kommuner med lik andel": "int",
        "Rangering": "int",
        "Prioritet": "int",
        "Forklaring": "wrap",
        "Begrunnelse": "wrap",
    } | {c: "one" for c in table.columns if c.endswith(": kommunen") or c.endswith(": landet")}
    widths = {
        "Kommune": 18,
        "Forklaring": 70,
        "Begrunnelse": 50,
        "Anbefaling": 16,
        "Helhetlig vurdering": 16,
        "Samlet utsagn": 30,
    }
    sheet = _write_sheet_table(book, "Kandidater", table, formats, number_formats, widths)
    recommendation = table.columns.index("Anbefaling")
    sheet.data_validation(
        1,
        recommendation,
        max(table.height, 1),
        recommendation,
        {
            "validate": "list",
            "source": RECOMMENDATIONS,
            "input_title": "Anbefaling",
            "input_message": " / ".join(RECOMMENDATIONS),
        },
    )


def _write_schools_sheet(
    book: xlsxwriter.Workbook, schools: pl.DataFrame, formats: dict[str, xlsxwriter.format.Format]
) -> None:
    hidden = pl.col("hidden")
    table = schools.select(
        pl.col("municipality_code").alias("Kommunenr"),
        pl.col("unit_code").alias("Organisasjonsnummer"),
        pl.col("unit_name").alias("Skole"),
        pl.col("label").alias("Indikator"),
        pl.col("school_year").alias("Skoleår"),
        pl.col("value").alias("Verdi"),
        pl.when(hidden).then(None).otherwise(pl.col("n").cast(pl.Float64)).alias("Antall elever"),
        pl.when(hidden).then(pl.lit("skjult (personvern)")).otherwise(None).alias("Merknad"),
    )
    _write_sheet_table(
        book,
        "Skoler",
        table,
        formats,
        {"Verdi": "one", "Antall elever": "int"},
        {"Skole": 34, "Indikator": 44, "Merknad": 20},
    )


def _write_method_sheet(
    book: xlsxwriter.Workbook, rows: list[tuple[str, str]], formats: dict[str, xlsxwriter.format.Format]
) -> None:
    method = book.add_worksheet("Metode")
    method.set_column(0, 0, 22, book.add_format({"bold": True, "valign": "top"}))
    method.set_column(1, 1, 110, formats["wrap"])
    for row_number, (title, text) in enumerate(rows):
        method.write_string(row_number, 0, title)
        method.write_string(row_number, 1, text)


def workbook_bytes(
    office: str,
    listed: pl.DataFrame,
    municipal_means: pl.DataFrame,
    schools: pl.DataFrame,
    config: Config,
    produced_by: str,
    gaps: DataGaps,
) -> bytes:
    """The workbook of one statsforvalter as bytes; ``produced_by`` names the code and inputs, ``gaps``
    what the data lacked."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties(
        {
            "title": f"Kandidater til oppfølgingsordningen – {office}",
            "author": "Utdanningsdirektoratet",
            "created": FIXED_CREATED,
        }
    )
    formats = _formats(book)
    _write_candidates_sheet(book, candidates_table(listed, municipal_means, config, gaps), formats, config)
    _write_schools_sheet(book, schools, formats)
    _write_method_sheet(book, method_rows(config, produced_by, gaps), formats)
    book.close()
    return buffer.getvalue()


def write_workbooks(
    candidates: pl.DataFrame,
    published: pl.DataFrame,
    school_names: pl.DataFrame,
    config: Config,
    out_dir: Path,
    produced_by: str,
    gaps: DataGaps,
) -> list[Path]:
    """Write one workbook per statsforvalter office from ``published_figures``; returns the paths."""
    listed = listed_kommuner(candidates)
    means = indicator_means(published)
    schools = school_figures(published, school_names, config).sort(
        "municipality_code", "unit_name", "indicator_id", "school_year"
    )
    written = []
    for office in sorted(candidates["statsforvalter"].drop_nulls().unique().to_list()):
        mine = listed.filter(pl.col("statsforvalter") == office)
        codes = mine["municipality_code"].to_list()
        data = workbook_bytes(
            office,
            mine,
            means,
            schools.filter(pl.col("municipality_code").is_in(codes)),
            config,
            produced_by,
            gaps,
        )
        path = out_dir / file_name(office)
        write_atomically(path, data)
        written.append(path)
    return written
