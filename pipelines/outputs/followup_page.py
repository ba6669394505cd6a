"""The dashboard's page *Oppfølging* (``oppfolging.html``): did the support help? Per cohort and area
the three estimates (:mod:`pipelines.followup.estimates`) with their 90 % intervals and the number of
kommuner each rests on, and per kommune in the scheme its area score against the mean of its matched
comparison kommuner. Area scores come from figures from at least ``minimum_pupils`` pupils, and a
comparison mean is over several kommuner; no kommune number is shown.

A kommune's area score is a known linear function of its figures that year (the configured pupil SD
and the published national value fix the coefficients), so beside the kommune's published figures it
would give away one the privacy protection hid. Where ``published_figures`` hides a figure of the
area's indicators for the kommune and year, the chart leaves the score out (docs/privacy.md)."""

from __future__ import annotations

import html

import polars as pl

from pipelines.config import Config
from pipelines.followup.estimates import DID, NAIVE, POOLED, RD, TOO_LITTLE

METHOD_NAMES = {
    NAIVE: "Før og etter (naiv)",
    DID: "Mot sammenlignbare kommuner",
    RD: "Rett over og under grensen",
}
AREA_NAMES = {
    "laeringsresultater": "Læringsresultater",
    "laeringsmiljo": "Læringsmiljø",
    "gjennomforing": "Gjennomføring",
}
ALL_COHORTS = "Alle kohorter"
EXPLAINED = (
    "Tallene er endringer i standardavvik for elevene: 0,1 er en tidel av spredningen mellom elever. "
    # The pooled coverage measured in the README's follow-up table (seeds 100-119 and 200-219, with and
    # without an effect).
    "Et 90 %-intervall skal inneholde den sanne effekten ni av ti ganger. I simuleringer der svaret var "
    "kjent (40 utvalg med og 40 uten effekt), gjorde intervallene for alle kohorter samlet det 85–98 % av "
    "gangene for sammenligningen med like kommuner og 85–95 % for sammenligningen ved grensen. "
    "Sammenligningen med like kommuner justerer for at kommunene i ordningen var litt svakere enn selv de "
    "mest like, indikator for indikator. Et intervall som omfatter 0 betyr at dataene ikke kan skille en "
    "effekt fra ingen effekt. Før og etter-tallet smigrer ordningen: kommuner som ble valgt fordi "
    "resultatene var svake, får i snitt bedre resultater årene etter også uten støtte (regresjon mot "
    "gjennomsnittet). "
    "Sammenligningen med kommuner som var like før støtten, og sammenligningen rett over og under "
    "grensen for utvelgelse, tar høyde for det. Kommuner som ble valgt i en senere kohort, er med i "
    "sammenligningen fram til deres egen støtte virker. Er listen kohorten ble valgt fra ikke registrert, "
    "lages den på nytt av dagens tall, så noen kommuner i ordningen kan havne utenfor grensen og noen "
    "andre innenfor; sammenligningen ved grensen deler derfor spranget i endring på spranget i andelen "
    "som fikk støtte. "
    "Med færre enn {minimum} kommuner på en side står det "
    "«for lite data» i stedet for et tall."
)


def _nb(value: float) -> str:
    return f"{value:+.2f}".replace(".", ",").replace("-", "−")


def _cell(row: dict[str, object]) -> str:
    if row["status"] == TOO_LITTLE or row["estimate"] is None:
        return "<td>for lite data</td>"
    return f"<td>{_nb(row['estimate'])} ({_nb(row['lower'])} til {_nb(row['upper'])})</td>"  # type: ignore[arg-type]


def _counts(row: dict[str, object]) -> str:
    if row["method"] == RD:
        wrong = f", {row['wrong_side']} av dem på feil side" if row["wrong_side"] else ""
        return f"{row['treated']} innenfor, {row['comparison']} utenfor grensen{wrong}"
    if row["method"] == DID:
        return f"{row['treated']} i ordningen, {row['comparison']} til sammenligning"
    return f"{row['treated']} i ordningen"


# A kommune in the scheme with no figures in the years before its cohort (its old kommune's figures
# could not be carried over) has nothing to be matched on.
NO_COMPARISON = ", uten sammenligningskommuner: ingen tall fra årene før"


def _rounded(values: pl.Series) -> list[float | None]:
    return [None if v is None else round(v, 3) for v in values.to_list()]


def withhold_hidden(trends: pl.DataFrame, published: pl.DataFrame, config: Config) -> pl.DataFrame:
    """``score`` left out where the kommune has a hidden figure of the area's indicators that year."""
    area = {i.id: i.area for i in config.indicators}
    hidden = (
        published.filter((pl.col("level") == "municipality") & pl.col("hidden"))
        .select(
            pl.col("unit_code").alias("municipality_code"),
            pl.col("indicator_id").replace_strict(area, default=None).alias("area"),
            "school_year",
        )
        .drop_nulls()
        .unique()
        .with_columns(pl.lit(True).alias("_hidden_input"))
    )
    return (
        trends.join(hidden, on=["municipality_code", "area", "school_year"], how="left")
        .with_columns(pl.when(pl.col("_hidden_input")).then(None).otherwise(pl.col("score")).alias("score"))
        .drop("_hidden_input")
    )


def followup_page(
    estimates: pl.DataFrame, trends: pl.DataFrame, published: pl.DataFrame, config: Config
) -> tuple[str, dict[str, object]]:
    """The page's body and its chart data: per kommune (by name) and area, years, its scores (left out
    where an input figure is hidden: :func:`withhold_hidden`) and its comparison group's mean."""
    if estimates.is_empty():
        body = (
            "<h1>Oppfølging av kommunene i ordningen</h1>\n<p>Registeret har ingen kohorter i "
            "Oppfølgingsordningen ennå, så det er ingenting å følge opp. Importer kohortene med "
            "<code>utvalg scheme import</code>.</p>\n"
        )
        return body, {"charts": []}
    rows = []
    for row in estimates.sort("area", "first_school_year", "method").iter_rows(named=True):
        cohort = (
            ALL_COHORTS if row["first_school_year"] == POOLED else f"Kohorten fra {row['first_school_year']}"
        )
        rows.append(
            f"<tr><td>{html.escape(AREA_NAMES[row['area']])}</td><td>{cohort}</td>"
            f"<td>{METHOD_NAMES[row['method']]}</td>{_cell(row)}<td>{_counts(row)}</td></tr>"
        )
    charts = [
        {
            "title": f"{name}: {AREA_NAMES[area]} (kohorten fra {cohort})"
            + ("" if part["comparison_score"].is_not_null().any() else NO_COMPARISON),
            "years": part["school_year"].to_list(),
            "own": _rounded(part["score"]),
            "comparison": _rounded(part["comparison_score"]),
        }
        for (cohort, name, area), part in withhold_hidden(trends, published, config)
        .sort("school_year")
        .group_by("first_school_year", "municipality_name", "area", maintain_order=True)
    ]
    charts.sort(key=lambda c: str(c["title"]))
    body = (
        "<h1>Oppfølging av kommunene i ordningen</h1>\n"
        f"<p>{html.escape(EXPLAINED.format(minimum=config.followup.minimum_units))}</p>\n"
        "<table><thead><tr><th>Område</th><th>Kohort</th><th>Metode</th><th>Effekt (90 %-intervall)</th>"
        "<th>Antall kommuner</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
        "<h2>Hver kommune i ordningen mot sine sammenligningskommuner</h2>\n"
        "<p>Områdepoeng per skoleår: kommunens avstand fra landet i standardavvik for elevene (høyere er "
        "bedre), og snittet for de kommunene den sammenlignes med. En kommune som ble valgt i en senere "
        "kohort, er med i snittet bare fram til dens egen støtte virker, som i tallene over.</p>\n"
        + "".join(f'<div id="oppfolging-{i}" class="chart"></div>\n' for i in range(len(charts)))
        + f'<script src="plotly.min.js"></script>\n<script>{CHART_SCRIPT}</script>\n'
    )
    return body, {"charts": charts}


CHART_SCRIPT = """document.addEventListener("DOMContentLoaded", function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  data.charts.forEach(function (c, i) {
    Plotly.newPlot("oppfolging-" + i, [
      {x: c.years, y: c.own, name: "Kommunen", mode: "lines+markers"},
      {x: c.years, y: c.comparison, name: "Sammenligningskommunene", mode: "lines+markers",
       line: {dash: "dot"}}
    ], {title: {text: c.title}, separators: ",\\u00a0", yaxis: {title: {text: "Standardavvik fra landet"}},
        xaxis: {title: {text: "Skoleår"}, type: "category"}, height: 320}, {displayModeBar: false});
  });
});"""
