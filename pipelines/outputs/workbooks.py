"""One Excel workbook per statsforvalter: its kommuner on the candidate list and the borderline ones,
for review. Everything in the workbook is in Norwegian bokmål.

Sheets: ``Kandidater`` (sorted by priority, with review columns), ``Skoler`` (each listed kommune's
schools, privacy-suppressed), ``Metode`` (the method and the columns explained).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.config import Config
from pipelines.outputs.privacy import primary_suppression, school_figures
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


def indicator_means(values: pl.DataFrame, minimum: int) -> pl.DataFrame:
    """Mean over the window per unit × indicator (published years only), beside the national mean."""
    shown = primary_suppression(values, minimum, ["value"])
    return shown.group_by("unit_code", "indicator_id").agg(
        pl.col("value").mean().alias("value"),
        pl.col("national").mean().alias("national"),
        pl.col("value").is_not_null().sum().alias("years"),
    )


def file_name(office: str) -> str:
    base = office.replace("Statsforvalteren i ", "")
    return f"statsforvalteren_{slug(base)}.xlsx"


METHOD_TEXT = [
    (
        "Formål",
        "Arbeidsboken viser kommunene i embetets område som er kandidater til "
        "oppfølgingsordningen, og grensetilfellene, til statsforvalterens vurdering.",
    ),
    (
        "Udirs regel",
        "For hver indikator og hvert skoleår i perioden får kommunen 1 risikopoeng når den er "
        "svakere enn landet og 3 når den er svakere enn den absolutte grensen. Grunnskolepoeng teller tre "
        "ganger. Andel risikopoeng = poeng / mulige poeng. Kategori 1: de 30 med høyest andel. Kategori 2: "
        "inntil 10 kommuner med stor spredning mellom egne skoler og minst én skole blant de 25 % svakeste.",
    ),
    (
        "Helhetlig vurdering",
        "Alle fire kilder standardiseres slik at høyere er svakere, usikkerheten i hvert "
        "tall regnes fra antall elever, og små kommuner trekkes mot landsnivået (empirisk Bayes) slik at de "
        "ikke velges ut av tilfeldigheter. Resultatet er en samlet skår, sannsynligheten for å være blant de "
        "30 svakeste og et 90 % intervall for rangeringen.",
    ),
    (
        "Nivå",
        "«klar kandidat»: sannsynlighet minst 80 %; «grensetilfelle»: 20–80 %; «klart ikke»: under 20 %.",
    ),
    ("Vedvarende", "Sannsynligheten for at kommunen er svakere enn landet samlet i minst to av årene."),
    (
        "Personvern",
        "Tall fra færre elever enn minstetallet vises ikke, og en skole skjules i tillegg der "
        "ett skjult tall ellers kunne regnes ut fra kommunetallet.",
    ),
    (
        "Anbefaling",
        "Velg anbefales / anbefales ikke / usikker, og begrunn vurderingen i kolonnen Begrunnelse.",
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


def workbook_bytes(
    office: str,
    listed: pl.DataFrame,
    municipal_means: pl.DataFrame,
    schools: pl.DataFrame,
    config: Config,
    produced_by: str,
) -> bytes:
    """The workbook of one statsforvalter as bytes; ``produced_by`` names the code and inputs."""
    labels = [(i.id, i.label) for i in config.for_owner("kommune")]
    table = listed.select(
        pl.col("prioritet").alias("Prioritet"),
        pl.col("municipality_code").alias("Kommunenr"),
        pl.col("municipality_name").alias("Kommune"),
        pl.col("udir_category").cast(pl.Float64).alias("Udir-kategori"),
        pl.col("udir_risk_share").alias("Andel risikopoeng"),
        pl.col("tier").alias("Helhetlig vurdering"),
        pl.col("p_top_n").alias(f"Sannsynlighet blant de {config.holistic.top_n} svakeste"),
        pl.col("holistic_rank").cast(pl.Float64).alias("Rangering"),
        pl.format("{}–{}", "rank_low", "rank_high").alias("Rangering, 90 % intervall"),
        pl.col("persistence").alias("Vedvarende svak"),
    )
    for indicator_id, label in labels:
        means = municipal_means.filter(pl.col("indicator_id") == indicator_id).select(
            pl.col("unit_code").alias("Kommunenr"),
            pl.col("value").alias(f"{label}: kommunen"),
            pl.col("national").alias(f"{label}: landet"),
        )
        table = table.join(means, on="Kommunenr", how="left")
    table = table.with_columns(
        listed["explanation"].alias("Forklaring"),
        pl.lit(None, pl.String).alias("Anbefaling"),
        pl.lit(None, pl.String).alias("Begrunnelse"),
    )
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties(
        {
            "title": f"Kandidater til oppfølgingsordningen – {office}",
            "author": "Utdanningsdirektoratet",
            "created": FIXED_CREATED,
        }
    )
    formats = {
        "percent": book.add_format({"num_format": "0 %"}),
        "share": book.add_format({"num_format": "0.00"}),
        "one": book.add_format({"num_format": "0.0"}),
        "int": book.add_format({"num_format": "0"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    number_formats = {
        "Andel risikopoeng": "percent",
        f"Sannsynlighet blant de {config.holistic.top_n} svakeste": "percent",
        "Vedvarende svak": "percent",
        "Udir-kategori": "int",
        "Rangering": "int",
        "Prioritet": "int",
        "Forklaring": "wrap",
        "Begrunnelse": "wrap",
    } | {c: "one" for c in table.columns if c.endswith(": kommunen") or c.endswith(": landet")}
    widths = {"Kommune": 18, "Forklaring": 70, "Begrunnelse": 50, "Anbefaling": 16, "Helhetlig vurdering": 16}
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
            "input_message": "anbefales / anbefales ikke / usikker",
        },
    )

    school_table = schools.select(
        pl.col("municipality_code").alias("Kommunenr"),
        pl.col("unit_code").alias("Organisasjonsnummer"),
        pl.col("unit_name").alias("Skole"),
        pl.col("label").alias("Indikator"),
        pl.col("school_year").alias("Skoleår"),
        pl.col("value").alias("Verdi"),
        pl.col("n").cast(pl.Float64).alias("Antall elever"),
        pl.when(pl.col("hidden")).then(pl.lit("skjult (personvern)")).otherwise(None).alias("Merknad"),
    )
    school_table = school_table.with_columns(
        pl.when(pl.col("Merknad").is_not_null())
        .then(None)
        .otherwise(pl.col("Antall elever"))
        .alias("Antall elever")
    )
    _write_sheet_table(
        book,
        "Skoler",
        school_table,
        formats,
        {"Verdi": "one", "Antall elever": "int"},
        {"Skole": 34, "Indikator": 44, "Merknad": 20},
    )

    method = book.add_worksheet("Metode")
    method.set_column(0, 0, 22, book.add_format({"bold": True, "valign": "top"}))
    method.set_column(1, 1, 110, formats["wrap"])
    rows = [
        *METHOD_TEXT,
        ("Skoleår", ", ".join(config.window())),
        ("Minste antall elever", str(config.selection.minimum_pupils)),
        ("Laget av", produced_by),
    ]
    rows += [
        (label, f"indikator i perioden ({'høyere er bedre' if i.higher_is_better else 'lavere er bedre'})")
        for i in config.for_owner("kommune")
        for label in [i.label]
    ]
    for row_number, (title, text) in enumerate(rows):
        method.write_string(row_number, 0, title)
        method.write_string(row_number, 1, text)
    book.close()
    return buffer.getvalue()


def write_workbooks(
    candidates: pl.DataFrame,
    municipal_values: pl.DataFrame,
    school_values: pl.DataFrame,
    school_names: pl.DataFrame,
    config: Config,
    out_dir: Path,
    produced_by: str,
) -> list[Path]:
    """Write one workbook per statsforvalter office; returns the paths."""
    listed = listed_kommuner(candidates)
    means = indicator_means(municipal_values, config.selection.minimum_pupils)
    schools = school_figures(school_values, school_names, config).sort(
        "municipality_code", "unit_name", "indicator_id", "school_year"
    )
    written = []
    for office in sorted(candidates["statsforvalter"].drop_nulls().unique().to_list()):
        mine = listed.filter(pl.col("statsforvalter") == office)
        codes = mine["municipality_code"].to_list()
        data = workbook_bytes(
            office, mine, means, schools.filter(pl.col("municipality_code").is_in(codes)), config, produced_by
        )
        path = out_dir / file_name(office)
        write_atomically(path, data)
        written.append(path)
    return written
