"""One Excel workbook per statsforvalter, made for reviewing: its kommuner on the candidate list and the
borderline ones, the kommuner and fylkeskommuner that applied, and its fylkeskommuner as ranked. Everything in the workbook is in Norwegian bokmål, rendered
from the configuration and :mod:`pipelines.vocabulary`.

Sheets: ``Vurdering`` (the kommune's number and name frozen, the review cells beside them, open for
typing, and the evidence to the right, locked), ``Indikatorer`` (each listed kommune's indicators beside
the country), ``Skoler`` (their schools), ``Fylkeskommuner`` (the office's fylkeskommuner as ranked),
``Forklaring`` (every code, tier and review column), ``Metode``, and the hidden, protected ``Kontroll``
(the run id, school year, office and the fingerprint of the list: :mod:`pipelines.outputs.review_form`)
that the importer checks. Every figure with a pupil count comes from ``published_figures``
(:mod:`pipelines.outputs.privacy`); the fylkeskommune sheet shows selection results only, as
``fylkeskommuner.csv`` does. Every visible sheet prints landscape on A4, fitted to the page's width, with
its heading rows repeated.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Mapping
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from pipelines.config import Config
from pipelines.indicators.coverage import DataGaps
from pipelines.outputs.method_text import method_sections, partial_rule_mark, percent
from pipelines.outputs.privacy import school_figures, with_national
from pipelines.outputs.review_form import (
    CODE_HEADING,
    CONTROL_KEYS,
    CONTROL_SHEET,
    DECIMALS,
    FIRST_ROW,
    FORM_VERSION,
    HEADER_ROW,
    NAME_HEADING,
    REVIEW_HEADINGS,
    REVIEW_SHEET,
    list_fingerprint,
)
from pipelines.selection.candidates import with_county_applicants
from pipelines.storage.files import write_atomically
from pipelines.vocabulary import (
    BORDERLINE,
    CLEAR_CANDIDATE,
    CLEARLY_NOT,
    IN_SCHEME,
    NOT_ASSESSED,
    ON_LIST,
    PRIORITY,
    PRIORITY_LABELS,
    RECENTLY_OUT,
    RECOMMENDATIONS,
    REVIEW_FIELDS,
    UDIR_RANKED,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
    slug,
)

APPLICANT_HEADING = "Søker"
SCHEME_HEADING = "Oppfølgingsordningen"


def scheme_text() -> pl.Expr:
    """A kommune's place in the scheme as a governor reads it: ``i ordningen 2024-25 til 2026-27``."""
    return pl.format("{} {} til {}", "scheme_status", "scheme_first_school_year", "scheme_last_school_year")


# A fixed creation time keeps the files byte-identical between runs.
FIXED_CREATED = dt.datetime(2026, 1, 1)
GROUP_HEADING = "Listegruppe"
EXPLANATION_HEADING = "Forklaring"
LINE_HEIGHT = 15  # points per line of 11-point text
A4 = 9


def listed_kommuner(candidates: pl.DataFrame) -> pl.DataFrame:
    """Kommuner on the list and the owners that applied (fylkeskommuner among them:
    :func:`pipelines.selection.candidates.with_county_applicants`), in the order a governor reviews
    them, then by the holistic rank."""
    return (
        candidates.filter(ON_LIST | pl.col("applicant"))
        .with_columns(PRIORITY.alias("prioritet"))
        .sort(["prioritet", "holistic_rank", "municipality_code"], nulls_last=True)
    )


def indicator_means(published: pl.DataFrame) -> pl.DataFrame:
    """Mean over the window per kommune or fylke × indicator of the published (not hidden) figures,
    beside the national mean: a function of published figures only, so it reveals nothing they do not."""
    shown = pl.concat([with_national(published, "municipality"), with_national(published, "county")])
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


def method_rows(
    config: Config, produced_by: str, gaps: DataGaps, precision: dict[str, float] | None = None
) -> list[tuple[str, str]]:
    """The ``Metode`` sheet: the workbook's purpose, what the data lacked (when they did), the method
    (with the tier's measured precision, :func:`clear_candidate_precision`), how to answer, the run and
    the indicators."""
    return [
        (
            "Formål",
            "Arbeidsboken viser kommunene i embetets område som er kandidater til "
            "oppfølgingsordningen, og grensetilfellene, til statsforvalterens vurdering.",
        ),
        *method_sections(config, gaps, precision),
        ("Slik svarer du", "Se arket Forklaring: hver kolonne du fyller ut, og hva kodene betyr."),
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


def review_table(listed: pl.DataFrame, config: Config, gaps: DataGaps) -> pl.DataFrame:
    """The ``Vurdering`` sheet's rows: the kommune, the empty review cells, then the evidence. Numbers
    are rounded as written (:data:`DECIMALS`), so the fingerprint is that of the cells."""
    reviews = [pl.lit(None, pl.String).alias(heading) for heading in REVIEW_HEADINGS]
    return listed.select(
        pl.col("municipality_code").alias(CODE_HEADING),
        pl.col("municipality_name").alias(NAME_HEADING),
        *reviews,
        pl.col("prioritet").cast(pl.Float64).alias(GROUP_HEADING),
        pl.col("application_date").dt.strftime("søkte %d.%m.%Y").alias(APPLICANT_HEADING),
        scheme_text().alias(SCHEME_HEADING),
        pl.col("udir_category").cast(pl.Float64).alias(f"Udir-kategori{partial_rule_mark(gaps)}"),
        pl.col("udir_status").alias("Udir-status"),
        pl.col("udir_rank").cast(pl.Float64).alias("Udir-rangering"),
        pl.col("udir_tied_count").cast(pl.Float64).alias("Kommuner med lik andel"),
        pl.col("udir_risk_share").round(DECIMALS).alias("Andel risikopoeng"),
        pl.col("tier").alias("Helhetlig vurdering"),
        pl.col("p_top_n").round(DECIMALS).alias(_probability_column(config.holistic.top_n)),
        pl.col("holistic_rank").cast(pl.Float64).alias("Rangering"),
        pl.format("{}–{}", "rank_low", "rank_high").alias("Rangering, 90 % intervall"),
        pl.col("joint_statement").alias("Samlet utsagn"),
        pl.col("explanation").alias(EXPLANATION_HEADING),
    )


def indicator_table(listed: pl.DataFrame, means: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The ``Indikatorer`` sheet: per listed owner (in the review order) and indicator of its kind
    (a fylkeskommune's number has two digits), the mean over the window of its published figures
    beside the country's."""
    order = {code: i for i, code in enumerate(listed["municipality_code"])}
    owned = [(owner, i) for owner in ("kommune", "fylkeskommune") for i in config.for_owner(owner)]
    indicators = pl.DataFrame(
        {
            "owner": [owner for owner, _ in owned],
            "indicator_id": [i.id for _, i in owned],
            "Indikator": [i.label for _, i in owned],
            "Retning": ["høyere er bedre" if i.higher_is_better else "lavere er bedre" for _, i in owned],
            "order": list(range(len(owned))),
        }
    )
    owners = listed.select(
        pl.col("municipality_code").alias(CODE_HEADING),
        pl.col("municipality_name").alias(NAME_HEADING),
        pl.when(pl.col("municipality_code").str.len_chars() == 2)
        .then(pl.lit("fylkeskommune"))
        .otherwise(pl.lit("kommune"))
        .alias("owner"),
    )
    return (
        owners.join(indicators, on="owner")
        .join(
            means.rename({"unit_code": CODE_HEADING}),
            on=[CODE_HEADING, "indicator_id"],
            how="left",
        )
        .sort(pl.col(CODE_HEADING).replace_strict(order), "order")
        .select(
            CODE_HEADING,
            NAME_HEADING,
            "Indikator",
            "Retning",
            pl.col("value").round(1).alias("Skoleeieren, snitt i perioden"),
            pl.col("national").round(1).alias("Landet, snitt i perioden"),
            pl.col("years").cast(pl.Float64).alias("Skoleår med tall"),
        )
    )


def county_table(counties: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The ``Fylkeskommuner`` sheet: the office's fylkeskommuner as the holistic method ranks them; one
    that applied is reviewed on the ``Vurdering`` sheet too."""
    return counties.sort("holistic_rank", "county_code", nulls_last=True).select(
        pl.col("county_code").alias("Fylkesnr"),
        pl.col("county_name").alias("Fylkeskommune"),
        pl.col("application_date").dt.strftime("søkte %d.%m.%Y").alias(APPLICANT_HEADING),
        pl.col("tier").alias("Helhetlig vurdering"),
        pl.col("p_top_n").round(DECIMALS).alias(_probability_column(config.holistic.fylkeskommune_top_n)),
        pl.col("holistic_rank").cast(pl.Float64).alias("Rangering"),
        pl.format("{}–{}", "rank_low", "rank_high").alias("Rangering, 90 % intervall"),
        pl.col("explanation").alias(EXPLANATION_HEADING),
    )


def legend_rows(config: Config, gaps: DataGaps) -> list[tuple[str, str]]:
    """The ``Forklaring`` sheet: every column a governor fills in, every code and every tier."""
    selection, holistic = config.selection, config.holistic
    high, low = holistic.candidate_probability, holistic.not_candidate_probability
    return [
        (
            "Slik svarer du",
            "Fyll ut de hvite cellene på arket Vurdering. De grå cellene er beregnet og låst.",
        ),
        *((heading, text) for heading, text in REVIEW_FIELDS.values()),
        *((f"Anbefaling: {value}", _RECOMMENDATION_TEXT[value]) for value in RECOMMENDATIONS),
        *((f"{GROUP_HEADING} {group}", text) for group, text in PRIORITY_LABELS.items()),
        (
            f"Udir-kategori{partial_rule_mark(gaps)} 1",
            f"de {selection.category_1_count} kommunene med høyest andel risikopoeng etter Udirs regel",
        ),
        (
            f"Udir-kategori{partial_rule_mark(gaps)} 2",
            f"inntil {selection.category_2_max} kommuner til der skolenes andeler risikopoeng spriker og "
            "minst én skole er blant de svakeste nasjonalt",
        ),
        (APPLICANT_HEADING, "skoleeieren har selv søkt om oppfølging (datoen søknaden kom)"),
        (
            "Fylkeskommune som søker",
            "en fylkeskommune som har søkt, vurderes på arket Vurdering som kommunene (nummeret har to "
            "sifre). Den rangeres blant fylkeskommunene på egne indikatorer, ikke etter Udirs regel: "
            "sannsynligheten og rangeringen står i forklaringen og på arket Fylkeskommuner.",
        ),
        (
            SCHEME_HEADING,
            f"{IN_SCHEME}: kommunen får støtte i ordningen dette skoleåret; {RECENTLY_OUT}: støtten "
            f"sluttet for høyst {config.scheme.recently_out_years} skoleår siden (første og siste skoleår)",
        ),
        (f"Udir-status: {UDIR_RANKED}", "rangert etter Udirs regel"),
        (
            f"Udir-status: {UDIR_TIED_AT_CUTOFF}",
            "samme andel risikopoeng som den siste i kategori 1; rekkefølgen mellom dem er etter kommunenummer",
        ),
        (
            f"Udir-status: {UDIR_TOO_LITTLE_DATA}",
            f"færre mulige risikopoeng enn {percent(selection.minimum_possible_share)} av det mulige: "
            "ikke rangert",
        ),
        (f"Helhetlig vurdering: {CLEAR_CANDIDATE}", f"sannsynlighet minst {percent(high)}"),
        (f"Helhetlig vurdering: {BORDERLINE}", f"sannsynlighet fra {percent(low)} til under {percent(high)}"),
        (f"Helhetlig vurdering: {CLEARLY_NOT}", f"sannsynlighet under {percent(low)}"),
        (f"Helhetlig vurdering: {NOT_ASSESSED}", "for få tall til en helhetlig vurdering"),
        (
            _probability_column(holistic.top_n),
            f"sannsynligheten for at kommunen er blant de {holistic.top_n} svakeste i landet",
        ),
        (
            "Rangering",
            f"plass på listen over alle kommuner (1 er svakest): de {holistic.top_n} første etter "
            f"sannsynligheten for å være blant de {holistic.top_n} svakeste, deretter den korteste listen "
            "kommunen kommer med på når en liste på k tar de k som mest sannsynlig er blant de k svakeste",
        ),
        ("Rangering, 90 % intervall", "plassen ligger i dette intervallet med 90 % sannsynlighet"),
        ("Samlet utsagn", "se Metode"),
    ]


_RECOMMENDATION_TEXT = {
    "anbefales": "embetet anbefaler at kommunen får tilbud om oppfølging",
    "anbefales ikke": "embetet anbefaler ikke oppfølging; begrunn hvorfor",
    "usikker": "embetet trenger mer kunnskap eller dialog med Udir; begrunn hvorfor",
}


def _probability_column(top_n: int) -> str:
    return f"Sannsynlighet blant de {top_n} svakeste"


class _Styles:
    """The workbook's formats: evidence cells grey and locked, review cells white and open."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        base = {"valign": "top", "border": 1, "border_color": "#BFBFBF"}
        locked = base | {"bg_color": "#F2F2F2"}
        self.header = book.add_format(base | {"bold": True, "text_wrap": True, "bg_color": "#DDE6F0"})
        self.title = book.add_format({"bold": True, "font_size": 13})
        self.note = book.add_format({"italic": True})
        self.label = book.add_format(base | {"bold": True, "text_wrap": True})
        number_formats = {"percent": "0 %", "int": "0", "one": "0.0", "text": "@", "wrap": "@"}
        self.evidence = {
            kind: book.add_format(locked | {"num_format": code, "text_wrap": kind == "wrap"})
            for kind, code in number_formats.items()
        }
        self.review = {
            kind: book.add_format(base | {"locked": False, "num_format": code, "text_wrap": kind == "wrap"})
            for kind, code in (("text", "@"), ("wrap", "@"), ("int", "0"), ("date", "dd.mm.yyyy"))
        }


def _lines(text: str, width: float) -> int:
    """Lines a wrapped cell takes at ``width`` characters (xlsxwriter cannot size rows to their text)."""
    # A column of width w holds about 1.15 w characters of running text (Calibri's letters are narrower
    # than the digit the width is measured in).
    return sum(max(1, math.ceil(len(part) / max(1.15 * width - 1, 1))) for part in text.split("\n"))


def _print_setup(sheet: Worksheet, heading_rows: int, title: str) -> None:
    sheet.set_landscape()
    sheet.set_paper(A4)
    sheet.fit_to_pages(1, 0)
    if heading_rows:
        sheet.repeat_rows(0, heading_rows - 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_header(f"&L&8{title.replace('&', '&&')}")
    sheet.set_footer("&R&8Side &P av &N")


def _write_table(
    sheet: Worksheet,
    frame: pl.DataFrame,
    styles: _Styles,
    kinds: dict[str, str],
    widths: Mapping[str, float],
    header_row: int = 0,
) -> None:
    """A table of evidence (locked) from ``header_row`` down; ``kinds``: the columns' number formats,
    the review columns among them as ``review:<kind>``; row heights fit their wrapped text."""
    column_widths = [widths.get(title, max(9, min(30, len(title) + 2))) for title in frame.columns]
    header_lines = max(_lines(t, w) for t, w in zip(frame.columns, column_widths, strict=True))
    sheet.set_row(header_row, LINE_HEIGHT * header_lines)
    for column, (title, width) in enumerate(zip(frame.columns, column_widths, strict=True)):
        sheet.set_column(column, column, width)
        sheet.write_string(header_row, column, title, styles.header)
    for row_number, row in enumerate(frame.iter_rows(), start=header_row + 1):
        lines = 1
        for column, (title, value) in enumerate(zip(frame.columns, row, strict=True)):
            kind = kinds.get(title, "text")
            style = styles.review[kind.split(":")[1]] if kind.startswith("review:") else styles.evidence[kind]
            if value is None:
                sheet.write_blank(row_number, column, None, style)
            elif isinstance(value, str):
                sheet.write_string(row_number, column, value, style)
                if kind == "wrap":
                    lines = max(lines, _lines(value, column_widths[column]))
            else:
                sheet.write_number(row_number, column, value, style)
        sheet.set_row(row_number, LINE_HEIGHT * lines)
    sheet.autofilter(header_row, 0, header_row + max(frame.height, 1), len(frame.columns) - 1)


def _protect(sheet: Worksheet) -> None:
    """Computed cells cannot be typed over (no password: the fingerprint is what proves the evidence);
    filtering, widening columns and rows stay possible."""
    sheet.protect(
        "",
        {"autofilter": True, "format_columns": True, "format_rows": True, "select_locked_cells": True},
    )


def _write_review_sheet(
    book: xlsxwriter.Workbook, table: pl.DataFrame, styles: _Styles, office: str, config: Config
) -> None:
    sheet = book.add_worksheet(REVIEW_SHEET)
    title = f"{office}: kandidater til oppfølgingsordningen, skoleår {config.selection.school_year}"
    sheet.write_string(0, 0, title, styles.title)
    sheet.write_string(
        1,
        0,
        "Fyll ut de hvite cellene. Grå celler er beregnet og låst. Kodene er forklart på arket Forklaring, "
        "tallene bak på arket Indikatorer.",
        styles.note,
    )
    headings = dict(REVIEW_FIELDS.values())
    kinds = {
        **{heading: "review:text" for heading in headings},
        REVIEW_FIELDS["justification"][0]: "review:wrap",
        REVIEW_FIELDS["office_priority"][0]: "review:int",
        REVIEW_FIELDS["review_date"][0]: "review:date",
        GROUP_HEADING: "int",
        "Andel risikopoeng": "percent",
        _probability_column(config.holistic.top_n): "percent",
        **{c: "int" for c in table.columns if c.startswith("Udir-kategori")},
        "Udir-rangering": "int",
        "Kommuner med lik andel": "int",
        "Rangering": "int",
        "Udir-status": "wrap",
        "Helhetlig vurdering": "wrap",
        "Samlet utsagn": "wrap",
        EXPLANATION_HEADING: "wrap",
    }
    narrow = ("Udir-", "Kommuner med", "Andel", "Sannsyn", "Rangering")
    widths = {c: 9 for c in table.columns if c.startswith(narrow)} | {
        CODE_HEADING: 11,
        NAME_HEADING: 16,
        REVIEW_FIELDS["recommendation"][0]: 14,
        REVIEW_FIELDS["office_priority"][0]: 9,
        REVIEW_FIELDS["justification"][0]: 36,
        REVIEW_FIELDS["contact"][0]: 15,
        REVIEW_FIELDS["review_date"][0]: 11,
        GROUP_HEADING: 11,
        "Udir-status": 12,
        APPLICANT_HEADING: 12,
        SCHEME_HEADING: 16,
        "Helhetlig vurdering": 12,
        "Samlet utsagn": 18,
        EXPLANATION_HEADING: 48,
    }
    _write_table(sheet, table, styles, kinds, widths, header_row=HEADER_ROW)
    last = HEADER_ROW + max(table.height, 1)
    column = {title: i for i, title in enumerate(table.columns)}
    recommendation, priority, date = (
        column[REVIEW_FIELDS[field][0]] for field in ("recommendation", "office_priority", "review_date")
    )
    sheet.data_validation(
        FIRST_ROW,
        recommendation,
        last,
        recommendation,
        {
            "validate": "list",
            "source": list(RECOMMENDATIONS),
            "input_title": REVIEW_FIELDS["recommendation"][0],
            "input_message": " / ".join(RECOMMENDATIONS),
            "error_title": "Ugyldig anbefaling",
            "error_message": f"Velg {' / '.join(RECOMMENDATIONS)} fra listen.",
        },
    )
    sheet.data_validation(
        FIRST_ROW,
        priority,
        last,
        priority,
        {
            "validate": "integer",
            "criteria": "between",
            "minimum": 1,
            "maximum": max(table.height, 1),
            "error_title": "Ugyldig prioritet",
            "error_message": f"Et helt tall fra 1 til {max(table.height, 1)}.",
        },
    )
    sheet.data_validation(
        FIRST_ROW,
        date,
        last,
        date,
        {
            "validate": "date",
            "criteria": "between",
            "minimum": dt.date(2000, 1, 1),
            "maximum": dt.date(2100, 12, 31),
            "error_title": "Ugyldig dato",
            "error_message": "Skriv datoen som dd.mm.åååå.",
        },
    )
    sheet.freeze_panes(FIRST_ROW, 2)
    _print_setup(sheet, FIRST_ROW, title)
    _protect(sheet)
    sheet.activate()


def _write_evidence_sheet(
    book: xlsxwriter.Workbook,
    name: str,
    frame: pl.DataFrame,
    styles: _Styles,
    kinds: dict[str, str],
    widths: Mapping[str, float],
    title: str,
) -> None:
    sheet = book.add_worksheet(name)
    _write_table(sheet, frame, styles, kinds, widths)
    sheet.freeze_panes(1, 2)
    _print_setup(sheet, 1, f"{title}: {name}")
    _protect(sheet)


def _schools_table(schools: pl.DataFrame, listed: pl.DataFrame) -> pl.DataFrame:
    hidden = pl.col("hidden")
    names = listed.select("municipality_code", "municipality_name")
    return schools.join(names, on="municipality_code", how="left").select(
        pl.col("municipality_code").alias(CODE_HEADING),
        pl.col("municipality_name").alias(NAME_HEADING),
        pl.col("unit_code").alias("Organisasjonsnummer"),
        pl.col("unit_name").alias("Skole"),
        pl.col("label").alias("Indikator"),
        pl.col("school_year").alias("Skoleår"),
        pl.col("value").alias("Verdi"),
        pl.when(hidden).then(None).otherwise(pl.col("n").cast(pl.Float64)).alias("Antall elever"),
        pl.when(hidden).then(pl.lit("skjult (personvern)")).otherwise(None).alias("Merknad"),
    )


def _write_text_sheet(
    book: xlsxwriter.Workbook, name: str, rows: list[tuple[str, str]], styles: _Styles, title: str
) -> None:
    """Two columns, a title and its text, wrapped, each row as high as its longer cell."""
    sheet = book.add_worksheet(name)
    widths = (34, 100)
    sheet.set_column(0, 0, widths[0])
    sheet.set_column(1, 1, widths[1])
    wrap = styles.evidence["wrap"]
    for row_number, (label, text) in enumerate(rows):
        sheet.write_string(row_number, 0, label, styles.label)
        sheet.write_string(row_number, 1, text, wrap)
        sheet.set_row(row_number, LINE_HEIGHT * max(_lines(label, widths[0]), _lines(text, widths[1])))
    _print_setup(sheet, 0, f"{title}: {name}")
    _protect(sheet)


def _write_control_sheet(book: xlsxwriter.Workbook, values: tuple[str, ...]) -> None:
    sheet = book.add_worksheet(CONTROL_SHEET)
    for row_number, (key, value) in enumerate(zip(CONTROL_KEYS, values, strict=True)):
        sheet.write_string(row_number, 0, key)
        sheet.write_string(row_number, 1, value)
    sheet.hide()
    sheet.protect()


def new_workbook(buffer: io.BytesIO, title: str) -> xlsxwriter.Workbook:
    """A workbook written into ``buffer``, Udir as author and a fixed creation time (the same tables give
    the same bytes)."""
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": title, "author": "Utdanningsdirektoratet", "created": FIXED_CREATED})
    return book


def workbook_bytes(
    office: str,
    listed: pl.DataFrame,
    means: pl.DataFrame,
    schools: pl.DataFrame,
    counties: pl.DataFrame,
    config: Config,
    run: tuple[str, str],
    gaps: DataGaps,
    precision: dict[str, float] | None = None,
) -> bytes:
    """The workbook of one statsforvalter as bytes; ``run`` is the run id and a line naming the code and
    inputs, ``gaps`` what the data lacked."""
    run_id, produced_by = run
    buffer = io.BytesIO()
    book = new_workbook(buffer, f"Kandidater til oppfølgingsordningen – {office}")
    styles = _Styles(book)
    review = review_table(listed, config, gaps)
    _write_review_sheet(book, review, styles, office, config)
    _write_evidence_sheet(
        book,
        "Indikatorer",
        indicator_table(listed, means, config),
        styles,
        {
            "Skoleeieren, snitt i perioden": "one",
            "Landet, snitt i perioden": "one",
            "Skoleår med tall": "int",
        },
        {NAME_HEADING: 16, "Indikator": 44, "Retning": 16},
        office,
    )
    _write_evidence_sheet(
        book,
        "Skoler",
        _schools_table(schools, listed),
        styles,
        {"Verdi": "one", "Antall elever": "int"},
        {NAME_HEADING: 16, "Organisasjonsnummer": 20, "Skole": 34, "Indikator": 40, "Merknad": 18},
        office,
    )
    _write_evidence_sheet(
        book,
        "Fylkeskommuner",
        county_table(counties, config),
        styles,
        {
            _probability_column(config.holistic.fylkeskommune_top_n): "percent",
            "Rangering": "int",
            EXPLANATION_HEADING: "wrap",
        },
        {"Fylkeskommune": 22, "Helhetlig vurdering": 14, EXPLANATION_HEADING: 90},
        office,
    )
    _write_text_sheet(book, "Forklaring", legend_rows(config, gaps), styles, office)
    _write_text_sheet(book, "Metode", method_rows(config, produced_by, gaps, precision), styles, office)
    fingerprint = list_fingerprint(review.columns, review.iter_rows())
    _write_control_sheet(book, (FORM_VERSION, run_id, config.selection.school_year, office, fingerprint))
    book.close()
    return buffer.getvalue()


def write_workbooks(
    candidates: pl.DataFrame,
    counties: pl.DataFrame,
    published: pl.DataFrame,
    school_names: pl.DataFrame,
    config: Config,
    out_dir: Path,
    run: tuple[str, str],
    gaps: DataGaps,
    precision: dict[str, float] | None = None,
) -> list[Path]:
    """Write one workbook per statsforvalter office from ``published_figures``; returns the paths.
    ``counties``: the ranked fylkeskommuner; ``run``: the run id and the line naming code and inputs."""
    listed = listed_kommuner(with_county_applicants(candidates, counties))
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
            counties.filter(pl.col("statsforvalter") == office),
            config,
            run,
            gaps,
            precision,
        )
        path = out_dir / file_name(office)
        write_atomically(path, data)
        written.append(path)
    return written
