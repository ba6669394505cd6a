"""A static HTML dashboard that works offline: one shared ``plotly.min.js`` beside the pages, the charts
drawn in the browser from JSON embedded in each page (``static/dashboard.js``).

Pages: ``index.html`` (map by tier with its legend, ranked list with rank intervals, a filter per
statsforvalter), ``traktplott.html`` (funnel plots per indicator), ``kommuner/<kode>.html`` (a profile per
kommune: trends with 90 % bands, hidden figures marked where they would have been, the sensitivity,
why Udir's rule and the holistic method disagree), ``fylkeskommuner.html`` and
``fylkeskommuner/<kode>.html`` (the same for the fylkeskommuner), ``status.html`` (where the review
stands: each office's progress and each listed kommune's status), ``metode.html`` (method, the validation
on synthetic data, data and breaks). Applicants are listed beside the candidates and marked, with the
kommune's place in Oppfølgingsordningen; the review's status shows no reviewer's free text. Every figure with a pupil count comes from ``published_figures``
(:mod:`pipelines.outputs.privacy`); every number a reader sees has a decimal comma, in charts too.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from statistics import NormalDist

import polars as pl
from plotly.offline import get_plotlyjs

from pipelines import vocabulary
from pipelines.config import Config, Indicator
from pipelines.indicators.coverage import DataGaps, gap_notes, list_note
from pipelines.indicators.values import indicator_measure, pupil_sd
from pipelines.outputs.followup_page import followup_page
from pipelines.outputs.method_text import listing, method_sections, partial_rule_mark
from pipelines.outputs.privacy import figures_at, school_figures, with_national
from pipelines.outputs.workbooks import scheme_text
from pipelines.selection.evaluate import METHODS
from pipelines.selection.explain import disagreement
from pipelines.selection.sensitivity import HOLISTIC, UDIR, outcomes, variant_names
from pipelines.selection.validation import (
    METHOD_LABELS_NB,
    ValidationResult,
    clear_candidate_precision,
    configuration_fingerprint,
    goals,
    metrics_shown,
    summary,
)
from pipelines.storage.files import write_atomically
from pipelines.tables import MEASURE_RANGES
from pipelines.vocabulary import (
    AREA_LABELS,
    IN_SCHEME,
    NOT_ASSESSED,
    ON_LIST,
    SOURCE_LABELS,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
)

STATIC = Path(__file__).parent / "static"
# Bokmål numbers in charts as in tables: a decimal comma, a (non-breaking) space between thousands.
SEPARATORS = ",\u00a0"
Z90 = NormalDist().inv_cdf(0.95)
# The map's categories, strongest first: the holistic tiers and the kommuner without an assessment.
TIERS = [*vocabulary.TIERS, NOT_ASSESSED]
TIER_COLOURS = dict(zip(TIERS, ["#b2182b", "#f4a582", "#d1e5f0", "#cccccc"], strict=True))
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 1rem 3rem; color: #222; }
nav { display: flex; gap: 1.5rem; padding: 0.8rem 0; border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
nav a { color: #2166ac; text-decoration: none; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; position: sticky; top: 0; }
.chart { min-height: 180px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 0.5rem; }
.tier { font-weight: 700; }
.note { color: #555; font-size: 0.9rem; }
.warning { background: #fff3cd; border-left: 4px solid #b2182b; padding: 0.5rem 0.8rem; }
.disagree { background: #eef2f7; border-left: 4px solid #2166ac; padding: 0.5rem 0.8rem; }
table.small { width: auto; }
.badge { display: inline-block; background: #fde0c5; border-radius: 0.3rem; padding: 0 0.4rem; font-size: 0.85rem; font-weight: 600; }
"""


def _page(title: str, body: str, data: Mapping[str, object], init: str | None, depth: int = 0) -> str:
    """A page; ``init`` names the ``Dashboard`` function that draws its charts (None: no charts)."""
    up = "../" * depth
    scripts: list[str] = []
    if init is not None:
        data = {**data, "separators": SEPARATORS}
        scripts = [f'<script src="{up}plotly.min.js"></script>', f'<script src="{up}dashboard.js"></script>']
        if init == "overview":
            scripts.insert(1, f'<script src="{up}kommuner.geojson.js"></script>')
        scripts.append(f"<script>Dashboard.{init}();</script>")
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).replace(
        "</", "<\\/"
    )
    return f"""<!DOCTYPE html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}style.css">
</head>
<body>
<nav><a href="{up}index.html">Oversikt</a><a href="{up}fylkeskommuner.html">Fylkeskommuner</a><a href="{up}traktplott.html">Traktplott</a><a href="{up}status.html">Status for vurderingen</a><a href="{up}oppfolging.html">Oppfølging</a><a href="{up}metode.html">Metode og data</a></nav>
{body}
<script type="application/json" id="data">{payload}</script>
{"".join(scripts)}
</body>
</html>
"""


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}".replace(".", ",")


def _digits(indicator: Indicator) -> int:
    """Indices on the 1–5 scale need two decimals to show a difference; the other measures one."""
    return 2 if indicator_measure(indicator) == "index" else 1


def _pct(p: float | None) -> str:
    return "–" if p is None else f"{round(p * 100)} %"


def hidden_label(config: Config) -> str:
    """What a reader sees where a hidden figure would have been."""
    return f"skjult (færre enn {config.selection.minimum_pupils} elever)"


def _clean(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def _udir(row: dict[str, object]) -> str:
    """Udir's rule for one kommune: its category, or "for lite data", and a tie at the category 1 cutoff
    with the number of kommuner sharing the share (their order is by kommune code, not by the rule)."""
    if row["udir_status"] == UDIR_TOO_LITTLE_DATA:
        return UDIR_TOO_LITTLE_DATA
    text = f"kategori {row['udir_category']}" if row["udir_category"] else "ikke på listen"
    if row["udir_status"] == UDIR_TIED_AT_CUTOFF:
        text += f", {UDIR_TIED_AT_CUTOFF}: {row['udir_tied_count']} kommuner"
    return text


def _warnings(notes: list[str]) -> str:
    """What the selection's data lacked, above everything else on a page."""
    return "".join(f'<p class="warning">{html.escape(note)}</p>\n' for note in notes)


def _date(day: object) -> str:
    return day.strftime("%d.%m.%Y") if day is not None else ""  # type: ignore[attr-defined]


def _applicant(row: Mapping[str, object]) -> str:
    """The applicant's badge: ``Søker om oppfølging (15.09.2025)``; nothing for a kommune that did not apply."""
    if not row["applicant"]:
        return ""
    return f'<span class="badge">Søker om oppfølging ({_date(row["application_date"])})</span>'


def _without_scheme(row: Mapping[str, object]) -> str:
    """Udir's rule and the holistic rank when the kommuner in the scheme are left out (they are not
    selected again while in it)."""
    if row["scheme_status"] == IN_SCHEME:
        return "regnes ikke med"
    category = row["udir_category_without_scheme"]
    rank = row["holistic_rank_without_scheme"]
    return (
        f"{f'kategori {category}' if category else 'ikke i Udirs kategorier'}, "
        f"rangering {rank if rank is not None else '–'}"
    )


def _status(row: Mapping[str, object] | None) -> str:
    """A listed kommune's place in the review: ``kandidat · anbefalt · Udir: tilbud``."""
    if row is None:
        return ""
    decision = f"Udir: {row['decision']}" if row["decision"] else "ikke besluttet"
    return " · ".join(html.escape(str(part)) for part in (row["basis"], row["review_status"], decision))


def _ranked(row: dict[str, object], name: str) -> dict[str, object]:
    """One unit for the rank charts, with the hover text in bokmål."""
    rank, low, high = row["holistic_rank"], row["rank_low"], row["rank_high"]
    p = _clean(row["p_top_n"], 3)  # type: ignore[arg-type]
    text = f"{name}: {row['tier'] or NOT_ASSESSED}, sannsynlighet {_pct(p)}"
    if rank is not None:
        text += f", rangering {rank} ({low}–{high})"
    return {
        "name": name,
        "tier": row["tier"] or NOT_ASSESSED,
        "rank": rank,
        "low": low,
        "high": high,
        "text": text,
    }


def overview_page(candidates: pl.DataFrame, status: pl.DataFrame, config: Config, gaps: DataGaps) -> str:
    """The map, the ranks and the list: the kommuner on the list and the applicants, with their place in
    Oppfølgingsordningen (and, when kommuner are in it, Udir's rule and the rank without them) and the
    review's status (``status``: :func:`pipelines.review.status.review_status`)."""
    kommuner = []
    rows = []
    statuses = {row["municipality_code"]: row for row in status.iter_rows(named=True)}
    in_scheme = bool((candidates["scheme_status"] == IN_SCHEME).any())
    for row in candidates.with_columns(ON_LIST.fill_null(False).alias("listed")).iter_rows(named=True):
        tier = row["tier"] or NOT_ASSESSED
        kommuner.append(
            {
                **_ranked(row, row["municipality_name"]),
                "code": row["municipality_code"],
                "statsforvalter": row["statsforvalter"],
                "listed": row["listed"],
            }
        )
        if row["listed"] or row["applicant"]:
            scheme = html.escape(row["scheme"] or "–")
            without = f"<td>{_without_scheme(row)}</td>" if in_scheme else ""
            rows.append(
                f'<tr data-office="{html.escape(row["statsforvalter"] or "")}">'
                f"<td>{row['holistic_rank'] or '–'}</td>"
                f'<td><a href="kommuner/{row["municipality_code"]}.html">{html.escape(row["municipality_name"])}</a>'
                f"{' ' + _applicant(row) if row['applicant'] else ''}</td>"
                f"<td>{html.escape(row['statsforvalter'] or '')}</td>"
                f"<td>{_udir(row)}</td><td class='tier'>{tier}</td>"
                f"<td>{_pct(row['p_top_n'])}</td>"
                f"<td>{row['rank_low'] or '–'}–{row['rank_high'] or '–'}</td>"
                f"<td>{scheme}</td>{without}<td>{_status(statuses.get(row['municipality_code']))}</td></tr>"
            )
    offices = sorted({str(k["statsforvalter"]) for k in kommuner if k["statsforvalter"]})
    without_heading = "<th>Uten kommunene i ordningen</th>" if in_scheme else ""
    without_note = (
        " «Uten kommunene i ordningen»: Udirs kategori og rangeringen i den helhetlige vurderingen når "
        "kommunene som er i ordningen, holdes utenfor."
        if in_scheme
        else ""
    )
    options = "".join(f'<option value="{html.escape(o)}">{html.escape(o)}</option>' for o in offices)
    body = f"""
<h1>Kandidater til oppfølgingsordningen {config.selection.school_year}</h1>
{_warnings(gap_notes(gaps, config))}<p class="note">Perioden {", ".join(config.window())}. Helhetlig vurdering: sannsynligheten for å være blant de
{config.holistic.top_n} svakeste kommunene, med Udirs regel ved siden av. Fylkeskommunene har en egen
<a href="fylkeskommuner.html">oversikt</a>.</p>
<label>Statsforvalter: <select id="office"><option value="">Alle</option>{options}</select></label>
<div id="map" class="chart"></div>
<div id="ranks" class="chart"></div>
<h2>Kandidater, grensetilfeller og søkere</h2>
<p class="note">Kommuner som har søkt om oppfølging, står på listen med samme grunnlag og er merket som søkere.
Status viser om kommunen er kandidat eller søker, statsforvalterens vurdering og Udirs beslutning
(se <a href="status.html">status for vurderingen</a>).{without_note}</p>
<table id="list"><thead><tr><th>Rangering</th><th>Kommune</th><th>Statsforvalter</th><th>Udirs regel{partial_rule_mark(gaps)}</th>
<th>Vurdering</th><th>Sannsynlighet</th><th>90 % intervall</th><th>Oppfølgingsordningen</th>{without_heading}<th>Status</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
"""
    data = {"kommuner": kommuner, "tiers": TIERS, "colours": TIER_COLOURS}
    return _page(f"Oppfølgingsordningen {config.selection.school_year}", body, data, "overview")


def _funnel_sd(indicator: Indicator, national: float) -> float | None:
    sd = pupil_sd(indicator, national)
    if sd is None and indicator_measure(indicator) == "scale_points":
        # Scale points come with Udir's own Usikkerhet, so the indicators stage needs no pupil SD; the
        # funnel does: 10 points, the pupil SD the national tests' scale is built with.
        return 10.0
    return sd


def funnel_page(values: pl.DataFrame, names: dict[str, str], config: Config) -> str:
    latest = config.selection.school_year
    funnels = []
    blocks = []
    for number, indicator in enumerate(config.for_owner("kommune")):
        rows = values.filter(
            (pl.col("indicator_id") == indicator.id) & (pl.col("school_year") == latest) & ~pl.col("hidden")
        )
        if rows.is_empty():
            continue
        if rows["national"][0] is None:
            continue  # no published national level to centre the funnel on
        national = float(rows["national"][0])
        sd = _funnel_sd(indicator, national)
        if sd is None:
            continue
        n_max = int(rows["n"].max())  # type: ignore[arg-type]
        grid = sorted({round(10 ** (i / 20)) for i in range(0, int(20 * math.log10(max(n_max, 10))) + 2)})
        grid = [n for n in grid if n >= config.selection.minimum_pupils]
        digits = _digits(indicator)
        points = []
        for code, n, value in rows.select("unit_code", "n", "value").iter_rows():
            limit = 3.09 * sd / math.sqrt(n)
            name = names.get(code, code)
            points.append(
                {
                    "n": n,
                    "value": round(value, 2),
                    "text": f"{name}: {_fmt(value, digits)} ({n} elever)",
                    "outside": abs(value - national) > limit,
                }
            )
        low, high = MEASURE_RANGES[indicator_measure(indicator)]

        def clip(limit: float, low: float = low, high: float = high) -> float:
            """Control limits stay within the values the measure can take."""
            return round(min(max(limit, low), high), 3)

        ident = f"funnel{number}"
        funnels.append(
            {
                "id": ident,
                "label": indicator.label,
                "national": round(national, 2),
                "points": points,
                "limits": {
                    "n": grid,
                    "upper95": [clip(national + 1.96 * sd / math.sqrt(n)) for n in grid],
                    "lower95": [clip(national - 1.96 * sd / math.sqrt(n)) for n in grid],
                    "upper99": [clip(national + 3.09 * sd / math.sqrt(n)) for n in grid],
                    "lower99": [clip(national - 3.09 * sd / math.sqrt(n)) for n in grid],
                },
            }
        )
        blocks.append(f'<div id="{ident}" class="chart"></div>')
    body = f"""
<h1>Traktplott {latest}</h1>
<p class="note">Hver prikk er en kommune: verdien mot antall elever. Linjene viser hvor langt fra landsnivået
en kommune kan ligge av tilfeldigheter alene (95 % og 99,8 %). Kommuner utenfor den ytre trakten (røde) skiller
seg ut mer enn tilfeldigheter forklarer. Kommuner med færre enn {config.selection.minimum_pupils} elever vises ikke.</p>
{"".join(blocks)}
"""
    labels = {"outer": "99,8 %", "inner": "95 %", "points": "kommuner", "n": "antall elever"}
    return _page(
        f"Traktplott {latest}", body, {"funnels": funnels, "school_year": latest, "labels": labels}, "funnels"
    )


def _trend(
    ident: str,
    indicator: Indicator,
    name: str,
    own: pl.DataFrame,
    national: dict[str, float],
    comparison: dict[str, float] | None,
    config: Config,
) -> dict[str, object]:
    """One indicator's chart on a profile: the unit's published figures with their 90 % band, the
    comparison (the fylke) and the country, and a marker where a hidden figure would have been (at the
    national level: the figure itself is not known)."""
    window = config.window()
    digits = _digits(indicator)
    rows = {r["school_year"]: r for r in own.iter_rows(named=True)}
    shown = {y: r for y, r in rows.items() if not r["hidden"] and r["value"] is not None}

    lowest, highest = MEASURE_RANGES[indicator_measure(indicator)]

    def band(year: str, sign: float) -> float | None:
        """One edge of the 90 % band, within the values the measure can take."""
        row = shown.get(year)
        if row is None or row["std_error"] is None:
            return None
        return _clean(min(max(row["value"] + sign * Z90 * row["std_error"], lowest), highest))

    def text(year: str) -> str | None:
        row = shown.get(year)
        if row is None:
            return None
        interval = (
            f"; 90 % intervall {_fmt(band(year, -1), digits)}–{_fmt(band(year, 1), digits)}"
            if row["std_error"] is not None
            else ""
        )
        return f"{name} {year}: {_fmt(row['value'], digits)} ({row['n']} elever{interval})"

    def line(values: dict[str, float], who: str) -> tuple[list[float | None], list[str | None]]:
        return (
            [_clean(values.get(y)) for y in window],
            [None if values.get(y) is None else f"{who} {y}: {_fmt(values[y], digits)}" for y in window],
        )

    hidden = [y in rows and rows[y]["hidden"] for y in window]
    entry: dict[str, object] = {
        "id": ident,
        "label": indicator.label,
        "years": window,
        "unit": [_clean(shown[y]["value"]) if y in shown else None for y in window],
        "n": [shown[y]["n"] if y in shown else None for y in window],
        "text": [text(y) for y in window],
        "low": [band(y, -1) for y in window],
        "high": [band(y, 1) for y in window],
        "hidden": [_clean(national.get(y)) if h else None for y, h in zip(window, hidden, strict=True)],
    }
    entry["national"], entry["national_text"] = line(national, "Landet")
    if comparison:
        entry["comparison"], entry["comparison_text"] = line(comparison, "Fylket")
    return entry


def _trend_labels(config: Config, comparison: str | None) -> dict[str, str | None]:
    return {
        "band": "90 % intervall",
        "hidden": hidden_label(config),
        "comparison": comparison,
        "national": "landet",
        "rank": "rangering (1 = svakest)",
    }


def _by_year(frame: pl.DataFrame, indicator_id: str) -> dict[str, float]:
    """The shown values of one indicator by school year."""
    return {
        year: value
        for year, value in frame.filter((pl.col("indicator_id") == indicator_id) & ~pl.col("hidden"))
        .select("school_year", "value")
        .iter_rows()
        if value is not None
    }


def sensitivity_section(name: str, outcome: pl.DataFrame, config: Config) -> str:
    """How the kommune fares under each variant of the methods' choices (:mod:`pipelines.selection.
    sensitivity`), in words and a small table. ``outcome``: the kommune's rows of :func:`outcomes`."""
    top_n = config.holistic.top_n
    names = variant_names(config)
    selected = {(m, v): s for m, v, s in outcome.select("method", "variant", "selected").iter_rows()}
    words = {HOLISTIC: f"blant de {top_n} svakeste", UDIR: "på listen (kategori 1 eller 2)"}
    who = {HOLISTIC: "Den helhetlige vurderingen", UDIR: "Udirs regel"}
    sentences = []
    for method in (HOLISTIC, UDIR):
        mine = [(v, selected[(method, v)]) for v in names[method] if (method, v) in selected]
        if not mine:
            continue
        base = mine[0][1]
        flips = [v for v, s in mine[1:] if s != base]
        count = sum(s for _, s in mine)
        change = (
            f" Utfallet endres av {listing(flips)}." if flips else " Ingen av variantene endrer utfallet."
        )
        sentences.append(
            f"{who[method]}: {name} er {words[method]} i {count} av {len(mine)} varianter, grunnvalget "
            f"medregnet.{change}"
        )
    if not sentences:
        return ""
    variants = list(dict.fromkeys([*names[HOLISTIC], *names[UDIR]]))
    cells = {True: "ja", False: "nei", None: "–"}
    rows = "".join(
        f"<tr><td>{html.escape(v)}</td>"
        + "".join(f"<td>{cells[selected.get((m, v))]}</td>" for m in (HOLISTIC, UDIR))
        + "</tr>"
        for v in variants
    )
    return f"""<h2>Følsomhet for metodens valg</h2>
<p>{" ".join(html.escape(s) for s in sentences)}</p>
<table class="small"><thead><tr><th>Variant</th><th>Helhetlig: {html.escape(words[HOLISTIC])}</th>
<th>Udirs regel: på listen</th></tr></thead><tbody>{rows}</tbody></table>
<p class="note">«–»: varianten gjelder ikke metoden (Udirs regel har ingen vekter eller krymping, den
helhetlige vurderingen ingen absolutte grenser).</p>
"""


def profile_page(
    row: dict[str, object],
    values: pl.DataFrame,
    national: pl.DataFrame,
    fylke_values: pl.DataFrame,
    schools: pl.DataFrame,
    outcome: pl.DataFrame,
    config: Config,
    scored: int,
    gaps: DataGaps,
    status: Mapping[str, object] | None,
    scheme_in_use: bool,
) -> str:
    """A kommune's profile. ``status``: its row of the review's status (None: not under review);
    ``scheme_in_use``: some kommune is in Oppfølgingsordningen, so the rank without them is shown."""
    code = str(row["municipality_code"])
    name = str(row["municipality_name"])
    indicators = []
    blocks = []
    for number, indicator in enumerate(config.for_owner("kommune")):
        mine = values.filter(pl.col("indicator_id") == indicator.id)
        fylke = _by_year(fylke_values, indicator.id)
        if mine.is_empty() and not fylke:
            continue
        ident = f"indicator{number}"
        indicators.append(
            _trend(ident, indicator, name, mine, _by_year(national, indicator.id), fylke, config)
        )
        blocks.append(f'<div id="{ident}" class="chart"></div>')
    school_rows = []
    school_data = []
    for school in schools.iter_rows(named=True):
        school_data.append(
            {
                "code": school["unit_code"],
                "indicator": school["indicator_id"],
                "year": school["school_year"],
                "value": _clean(school["value"]),
                "n": None if school["hidden"] else school["n"],
                "hidden": school["hidden"],
            }
        )
        school_rows.append(
            f"<tr><td>{html.escape(school['unit_name'] or school['unit_code'])}</td><td>{html.escape(school['label'] or '')}</td>"
            f"<td>{school['school_year']}</td><td>{'skjult' if school['hidden'] else _fmt(school['value'])}</td>"
            f"<td>{'–' if school['hidden'] else school['n']}</td></tr>"
        )
    tier = str(row["tier"] or NOT_ASSESSED)
    joint = f" · {html.escape(str(row['joint_statement']))}" if row["joint_statement"] else ""
    udir = _udir(row)
    share = "–" if row["udir_risk_share"] is None else f"{round(float(row['udir_risk_share']) * 100)} %"  # type: ignore[arg-type]
    why = disagreement(row, config)
    review = (
        f"<p>{' '.join(filter(None, [_applicant(row), f'Status for vurderingen: {_status(status)}']))}</p>\n"
        if status is not None
        else ""
    )
    scheme = (
        f"<p>Oppfølgingsordningen: {html.escape(str(row['scheme'] or 'ikke i ordningen'))}"
        + (f" · Uten kommunene i ordningen: {_without_scheme(row)}" if scheme_in_use else "")
        + "</p>\n"
        if scheme_in_use or row["scheme"]
        else ""
    )
    body = f"""
<h1>{html.escape(name)} ({code})</h1>
{_warnings([n for n in [list_note(gaps, config, "kommune")] if n])}<p><span class="tier">{tier}</span>{joint} · Udirs regel{partial_rule_mark(gaps)}: {udir} (andel risikopoeng {share}) · {html.escape(str(row["statsforvalter"] or ""))}</p>
{review}{scheme}<p>{html.escape(str(row["explanation"]))}</p>
{f'<p class="disagree">{html.escape(why)}</p>' if why else ""}
<div id="position" class="chart"></div>
{sensitivity_section(name, outcome, config)}<h2>Indikatorer over tid</h2>
<p class="note">Det skraverte feltet er et 90 % intervall for kommunens tall. {html.escape(_hidden_note(config))}</p>
<div class="grid">{"".join(blocks)}</div>
<h2>Skoler</h2>
<p class="note">Tall fra færre enn {config.selection.minimum_pupils} elever vises ikke, og flere tall skjules der
et skjult tall, eller de skjulte skolene samlet, ellers kunne regnes ut fra dem som vises.</p>
<table><thead><tr><th>Skole</th><th>Indikator</th><th>Skoleår</th><th>Verdi</th><th>Elever</th></tr></thead>
<tbody>{"".join(school_rows)}</tbody></table>
"""
    data = {
        "code": code,
        "name": name,
        "colour": TIER_COLOURS[tier],
        "unit": {**_ranked(row, name), "scored": scored},
        "indicators": indicators,
        "labels": _trend_labels(config, "fylket"),
        "position_title": f"Rangering blant {scored} kommuner (90 % intervall)",
        "schools": school_data,
    }
    return _page(f"{name} – profil", body, data, "profile", depth=1)


def _profile_folder(owner_code: str) -> str:
    """Where an owner's profile is: a fylkeskommune (two digits) that applied is reviewed too."""
    return "fylkeskommuner" if len(owner_code) == 2 else "kommuner"


def status_page(status: pl.DataFrame, progress: pl.DataFrame, config: Config) -> str:
    """Where the review stands: each office's progress and each listed kommune's status (``status`` and
    ``progress``: :mod:`pipelines.review.status`). Said plainly when no office has answered yet."""
    answered = int(progress["answered"].sum()) if not progress.is_empty() else 0
    lead = (
        "Ingen vurderinger er kommet tilbake fra statsforvalterne ennå."
        if answered == 0
        else f"{answered} av {progress.height} embeter har svart."
    )
    offices = "".join(
        f"<tr><td>{html.escape(row['statsforvalter'] or '')}</td><td>{row['reviewed']} av {row['listed']}</td>"
        f"<td>{row['decided']}</td><td>{'ja' if row['answered'] else 'nei, har ikke svart'}</td></tr>"
        for row in progress.iter_rows(named=True)
    )
    kommuner = "".join(
        f'<tr><td><a href="{_profile_folder(row["municipality_code"])}/{row["municipality_code"]}.html">'
        f"{html.escape(row['municipality_name'])}</a></td>"
        f"<td>{html.escape(row['statsforvalter'] or '')}</td><td>{html.escape(row['basis'])}</td>"
        f"<td>{html.escape(row['review_status'])}</td><td>{row['office_priority'] or '–'}</td>"
        f"<td>{html.escape(row['decision'] or 'ikke besluttet')}</td></tr>"
        for row in status.iter_rows(named=True)
    )
    year = config.selection.school_year
    body = f"""
<h1>Status for vurderingen {year}</h1>
<p>{lead}</p>
<p class="note">Kommunene til vurdering er kandidatene på listen og kommunene som har søkt. Hvert embete
vurderer kommunene i sitt område: anbefalt, ikke anbefalt eller usikker; «ikke vurdert» til embetet har
svart. Udir beslutter etterpå. Statsforvalternes begrunnelser vises ikke her.</p>
<h2>Embetene</h2>
<table class="small"><thead><tr><th>Statsforvalter</th><th>Vurdert</th><th>Besluttet av Udir</th><th>Svart</th></tr></thead>
<tbody>{offices}</tbody></table>
<h2>Kommunene</h2>
<table><thead><tr><th>Kommune</th><th>Statsforvalter</th><th>Grunnlag</th><th>Statsforvalterens vurdering</th>
<th>Prioritet i embetet</th><th>Udirs beslutning</th></tr></thead><tbody>{kommuner}</tbody></table>
"""
    return _page(f"Status for vurderingen {year}", body, {}, None)


def _hidden_note(config: Config) -> str:
    """Why a figure is hidden, where a chart marks one."""
    return (
        f"Et kryss markerer et skjult tall: det bygger på færre enn {config.selection.minimum_pupils} "
        "elever, eller er skjult fordi et annet skjult tall ellers kunne regnes ut. Krysset står ved "
        "landsnivået, for tallet selv vises ikke."
    )


def county_overview_page(counties: pl.DataFrame, config: Config, gaps: DataGaps) -> str:
    """The fylkeskommuner, ranked on their own indicators, each linked to its profile."""
    top_n = config.holistic.fylkeskommune_top_n
    units = []
    rows = []
    for row in counties.iter_rows(named=True):
        units.append(_ranked(row, row["county_name"]))
        rows.append(
            f"<tr><td>{row['holistic_rank'] or '–'}</td>"
            f'<td><a href="fylkeskommuner/{row["county_code"]}.html">{html.escape(row["county_name"])}</a>'
            f"{' ' + _applicant(row) if row['applicant'] else ''}</td>"
            f"<td>{html.escape(row['statsforvalter'] or '')}</td><td class='tier'>{row['tier'] or NOT_ASSESSED}</td>"
            f"<td>{_pct(row['p_top_n'])}</td><td>{row['rank_low'] or '–'}–{row['rank_high'] or '–'}</td>"
            f"<td>{html.escape(row['joint_statement'] or '')}</td></tr>"
        )
    labels = listing([f"«{i.label}»" for i in config.for_owner("fylkeskommune")])
    note = list_note(gaps, config, "fylkeskommune")
    body = f"""
<h1>Fylkeskommuner {config.selection.school_year}</h1>
{_warnings([note] if note else [])}<p class="note">Fylkeskommunene eier de videregående skolene og vurderes på egne indikatorer: {html.escape(labels)},
i perioden {", ".join(config.window())}. Helhetlig vurdering: sannsynligheten for å være blant de {top_n}
svakeste fylkeskommunene. Udirs regel gjelder bare kommuner.</p>
<div id="ranks" class="chart"></div>
<table><thead><tr><th>Rangering</th><th>Fylkeskommune</th><th>Statsforvalter</th><th>Vurdering</th>
<th>Sannsynlighet</th><th>90 % intervall</th><th>Samlet utsagn</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
"""
    data = {"units": units, "colours": TIER_COLOURS, "title": "Rangering med 90 % intervall (1 = svakest)"}
    return _page(f"Fylkeskommuner {config.selection.school_year}", body, data, "counties")


def county_profile_page(
    row: dict[str, object],
    values: pl.DataFrame,
    national: pl.DataFrame,
    config: Config,
    scored: int,
    gaps: DataGaps,
) -> str:
    code = str(row["county_code"])
    name = str(row["county_name"])
    indicators = []
    blocks = []
    for number, indicator in enumerate(config.for_owner("fylkeskommune")):
        mine = values.filter(pl.col("indicator_id") == indicator.id)
        if mine.is_empty():
            continue
        ident = f"indicator{number}"
        indicators.append(
            _trend(ident, indicator, name, mine, _by_year(national, indicator.id), None, config)
        )
        blocks.append(f'<div id="{ident}" class="chart"></div>')
    tier = str(row["tier"] or NOT_ASSESSED)
    joint = f" · {html.escape(str(row['joint_statement']))}" if row["joint_statement"] else ""
    note = list_note(gaps, config, "fylkeskommune")
    body = f"""
<h1>{html.escape(name)} fylkeskommune ({code})</h1>
{_warnings([note] if note else [])}<p><span class="tier">{tier}</span>{joint} · {html.escape(str(row["statsforvalter"] or ""))}</p>
{f"<p>{_applicant(row)}</p>" if row["applicant"] else ""}
<p>{html.escape(str(row["explanation"]))}</p>
<div id="position" class="chart"></div>
<h2>Indikatorer over tid</h2>
<p class="note">Det skraverte feltet er et 90 % intervall for fylkeskommunens tall. {html.escape(_hidden_note(config))}</p>
<div class="grid">{"".join(blocks)}</div>
"""
    data = {
        "code": code,
        "name": name,
        "colour": TIER_COLOURS[tier],
        "unit": {**_ranked(row, name), "scored": scored},
        "indicators": indicators,
        "labels": _trend_labels(config, None),
        "position_title": f"Rangering blant {scored} fylkeskommuner (90 % intervall)",
    }
    return _page(f"{name} – profil", body, data, "profile", depth=1)


def _nb(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def _scenario(name: str) -> str:
    """A scenario's file name as words: ``tunge_haler`` → ``tunge haler``."""
    return name.replace("_", " ")


def validation_section(validation: ValidationResult | None, config: Config) -> str:
    """The committed validation on synthetic data (``docs/validation.csv``), in bokmål: per scenario the
    goals and every metric per method, mean over the seeds with the lowest and highest. Shown only
    when it was measured with this run's configuration (school year aside): figures for other
    settings would not describe this method."""
    heading = "<h2>Validering på simulerte data</h2>"
    if validation is None:
        return f"{heading}\n<p>Ingen validering er registrert.</p>\n"
    if validation.provenance["configuration"]["configuration_sha256"] != configuration_fingerprint(config):
        return (
            f"{heading}\n<p>Valideringen på simulerte data er målt med en annen konfigurasjon enn denne "
            "kjøringens, og vises derfor ikke her.</p>\n"
        )
    provenance = validation.provenance
    frame = summary(validation.metrics)
    preliminary = (
        f" Foreløpige tall: {len(validation.seeds)} kjøring(er) per scenario; tallene regnes ut på nytt når "
        "metoden er ferdig."
        if validation.preliminary
        else ""
    )
    parts = [
        "<h2>Validering på simulerte data</h2>",
        "<p>Metodene er prøvd på syntetiske data der den sanne svakheten til hver kommune er kjent: "
        "helhetlig vurdering, den sammensatte skåren uten krymping, Udirs regel og et orakel: den sammensatte "
        "skåren uten krymping, trukket mot snittet med parametere hentet fra fasiten (en referanse som "
        "ingen virkelig metode har, men ikke et tak: den helhetlige vurderingen kan slå den). "
        "Rangeringsintervallet sammenlignes med den sanne plassen blant kommunene metoden rangerer. "
        "Blant de reelt svakeste holder intervallene den sanne plassen sjeldnere enn ni av ti ganger: "
        "en modell som er riktig i snitt, trekker de mest ytterliggående kommunene mot midten, og det gjør "
        "oraklet også (se tallene). Scenarier: "
        f"{html.escape(', '.join(map(_scenario, validation.scenarios)))}; kjøringer (frø): "
        f"{', '.join(map(str, validation.seeds))}; kodeversjon {html.escape(provenance['code_version'])}."
        f"{preliminary}</p>",
    ]
    verdicts = {True: "nådd", False: "ikke nådd", None: "ikke målt"}
    for scenario in validation.scenarios:
        goal_rows = "".join(
            f"<tr><td>{html.escape(g.label_nb)}</td><td>{html.escape(g.target_nb)}</td>"
            f"<td>{html.escape(g.measured(METHOD_LABELS_NB, bokmal=True))}</td>"
            f"<td>{verdicts[g.met]}</td></tr>"
            for g in goals(validation.metrics, scenario, validation.top_n)
        )
        means = {
            (row["method"], row["metric"]): row
            for row in frame.filter(pl.col("scenario") == scenario).iter_rows(named=True)
        }
        metric_rows = []
        for metric in metrics_shown(validation.top_n):
            cells = []
            for method in METHODS:
                row = means.get((method, metric.column))
                digits = 3 if metric.share else 1
                if row is None:
                    cells.append("–")
                elif row["min"] == row["max"]:
                    cells.append(_nb(row["mean"], digits))
                else:
                    cells.append(
                        f"{_nb(row['mean'], digits)} ({_nb(row['min'], digits)}–{_nb(row['max'], digits)})"
                    )
            metric_rows.append(
                f"<tr><td>{html.escape(metric.label_nb)}</td>"
                + "".join(f"<td>{c}</td>" for c in cells)
                + "</tr>"
            )
        methods = "".join(f"<th>{html.escape(METHOD_LABELS_NB[m])}</th>" for m in METHODS)
        parts += [
            f"<h3>Scenario «{html.escape(_scenario(scenario))}»</h3>",
            "<table><thead><tr><th>Mål</th><th>Krav</th><th>Målt (snitt)</th><th></th></tr></thead>"
            f"<tbody>{goal_rows}</tbody></table>",
            '<p class="note">Snitt over kjøringene, laveste–høyeste i parentes.</p>',
            f"<table><thead><tr><th>Mål</th>{methods}</tr></thead><tbody>{''.join(metric_rows)}</tbody></table>",
        ]
    return "\n".join(parts) + "\n"


def method_page(
    config: Config,
    break_notes: pl.DataFrame,
    produced_by: str,
    gaps: DataGaps,
    validation: ValidationResult | None,
) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(SOURCE_LABELS.get(s, s))}</td><td>{html.escape(y)}</td><td>{html.escape(n)}</td></tr>"
        for s, y, n in break_notes.iter_rows()
    )
    indicators = "".join(
        f"<tr><td>{html.escape(i.label)}</td><td>{'ja' if i.udir_rule else 'nei'}</td><td>{AREA_LABELS[i.area]}</td>"
        f"<td>{'høyere er bedre' if i.higher_is_better else 'lavere er bedre'}</td>"
        f"<td>{_fmt(i.absolute_limit) if i.absolute_limit is not None else '–'}</td></tr>"
        for i in config.for_owner("kommune")
    )
    sections = "".join(
        f"<h2>{html.escape(title)}</h2>\n<p>{html.escape(text)}</p>\n"
        for title, text in method_sections(config, gaps, clear_candidate_precision(validation, config))
    )
    body = f"""
<h1>Metode og data</h1>
{sections}{validation_section(validation, config)}<h2>Indikatorer</h2>
<table><thead><tr><th>Indikator</th><th>I Udirs regel</th><th>Område</th><th>Retning</th><th>Absolutt grense</th></tr></thead>
<tbody>{indicators}</tbody></table>
<h2>Data og brudd i tidsseriene</h2>
<p>Kilde: Utdanningsdirektoratets statistikkbank (NLOD 2.0). Alle år er regnet om til kommuneinndelingen som
gjelder nå; sammenslåtte kommuner er vektet etter antall elever, og delte kommuner er bygd opp fra skolene der
det går. Nasjonale prøver fra før 2022-23 kan ikke sammenlignes med senere år. Merknader om brudd fra Udir:</p>
<table><thead><tr><th>Kilde</th><th>Skoleår</th><th>Merknad</th></tr></thead><tbody>{rows}</tbody></table>
<p class="note">Laget av {html.escape(produced_by)}.</p>
"""
    return _page("Metode og data", body, {}, None)


def _signed_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def _clockwise_exterior(polygon: list[list[list[float]]]) -> list[list[list[float]]]:
    """d3-geo (and so plotly) reads a counter-clockwise exterior ring as "everything but the area"."""
    exterior, *holes = polygon
    if _signed_area(exterior) > 0:
        exterior = exterior[::-1]
    return [exterior, *(hole if _signed_area(hole) > 0 else hole[::-1] for hole in holes)]


def _geojson_script(geojson_path: Path) -> str:
    geojson = json.loads(geojson_path.read_text(encoding="utf-8"))

    def rounded(coordinates: object) -> object:
        if isinstance(coordinates, list):
            return [rounded(c) for c in coordinates]
        return round(coordinates, 3) if isinstance(coordinates, float) else coordinates

    for feature in geojson["features"]:
        geometry = feature["geometry"]
        polygons = (
            geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        )
        polygons = [_clockwise_exterior(rounded(polygon)) for polygon in polygons]  # type: ignore[arg-type]
        geometry["coordinates"] = polygons if geometry["type"] == "MultiPolygon" else polygons[0]
        feature["properties"] = {"kommunenummer": feature["properties"]["kommunenummer"]}
    # plotly.js fetches a world base map from its CDN unless one is registered; the map needs none.
    empty = {"type": "GeometryCollection", "geometries": []}
    base_map = {
        "type": "Topology",
        "arcs": [],
        "objects": {
            name: empty
            for name in ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")
        },
    }
    return (
        "window.PlotlyGeoAssets = {topojson: {world_110m: "
        + json.dumps(base_map, separators=(",", ":"))
        + "}};\nwindow.KOMMUNER_GEOJSON = "
        + json.dumps(geojson, separators=(",", ":"))
        + ";\n"
    )


def build_dashboard(
    candidates: pl.DataFrame,
    counties: pl.DataFrame,
    sensitivity: pl.DataFrame,
    published: pl.DataFrame,
    school_names: pl.DataFrame,
    break_notes: pl.DataFrame,
    config: Config,
    geojson_path: Path,
    out_dir: Path,
    produced_by: str,
    gaps: DataGaps,
    validation: ValidationResult | None,
    status: pl.DataFrame,
    progress: pl.DataFrame,
    followup: tuple[pl.DataFrame, pl.DataFrame],
) -> list[Path]:
    """Write every page and the shared files from ``published_figures`` and the selection tables
    (``candidates``, ``fylkeskommune_candidates``, ``sensitivity``); returns the paths written.
    ``gaps``: what the run's data lacked, said at the top of the overview, the profiles and the method.
    ``status``, ``progress``: where the review stands (:func:`pipelines.review.status.review_status`,
    :func:`~pipelines.review.status.office_progress`)."""
    candidates = candidates.with_columns(scheme_text().alias("scheme"))
    scheme_in_use = bool((candidates["scheme_status"] == IN_SCHEME).any())
    status_by_kommune = {row["municipality_code"]: row for row in status.iter_rows(named=True)}
    shown = with_national(published, "municipality")
    schools = school_figures(published, school_names, config).sort("unit_name", "indicator_id", "school_year")
    fylker = figures_at(published, "county")
    national = figures_at(published, "national")
    names = dict(candidates.select("municipality_code", "municipality_name").iter_rows())
    files: dict[str, bytes] = {
        "plotly.min.js": get_plotlyjs().encode("utf-8"),
        "dashboard.js": (STATIC / "dashboard.js").read_bytes(),
        "style.css": STYLE.encode("utf-8"),
        "kommuner.geojson.js": _geojson_script(geojson_path).encode("utf-8"),
        "index.html": overview_page(candidates, status, config, gaps).encode("utf-8"),
        "status.html": status_page(status, progress, config).encode("utf-8"),
        "oppfolging.html": _page(
            "Oppfølging", *followup_page(*followup, published, config), init=None
        ).encode("utf-8"),
        "fylkeskommuner.html": county_overview_page(counties, config, gaps).encode("utf-8"),
        "traktplott.html": funnel_page(shown, names, config).encode("utf-8"),
        "metode.html": method_page(config, break_notes, produced_by, gaps, validation).encode("utf-8"),
    }
    scored = candidates["holistic_rank"].drop_nulls().len()
    values_by_kommune = figures_at(published, "municipality").partition_by("unit_code", as_dict=True)
    schools_by_kommune = schools.partition_by("municipality_code", as_dict=True)
    fylker_by_code = fylker.partition_by("unit_code", as_dict=True)
    outcome_by_kommune = outcomes(sensitivity, config).partition_by("unit_code", as_dict=True)
    empty_values, empty_schools = published.clear(), schools.clear()
    empty_outcome = outcomes(sensitivity.clear(), config)
    for row in candidates.iter_rows(named=True):
        code = row["municipality_code"]
        page = profile_page(
            row,
            values_by_kommune.get((code,), empty_values),
            national,
            fylker_by_code.get((code[:2],), empty_values),
            schools_by_kommune.get((code,), empty_schools),
            outcome_by_kommune.get((code,), empty_outcome),
            config,
            scored,
            gaps,
            status_by_kommune.get(code),
            scheme_in_use,
        )
        files[f"kommuner/{code}.html"] = page.encode("utf-8")
    counties_scored = counties["holistic_rank"].drop_nulls().len()
    for row in counties.iter_rows(named=True):
        code = row["county_code"]
        page = county_profile_page(
            row, fylker_by_code.get((code,), empty_values), national, config, counties_scored, gaps
        )
        files[f"fylkeskommuner/{code}.html"] = page.encode("utf-8")
    written = []
    for name, data in files.items():
        path = out_dir / name
        write_atomically(path, data)
        written.append(path)
    return written
