"""The dashboard's pages without a browser: the sentence saying why Udir's rule and the holistic method
disagree, the sensitivity on the profile, trends with their 90 % bands and hidden figures, the
fylkeskommuner's pages, and no internal id anywhere a reader looks (the browser checks are in
tests/test_dashboard_browser.py)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import load_config
from pipelines.outputs.dashboard import SEPARATORS, _trend, hidden_label, sensitivity_section
from pipelines.outputs.privacy import PUBLISHED_SCHEMA
from pipelines.selection.explain import disagreement
from pipelines.selection.sensitivity import HOLISTIC, UDIR, outcomes, summarise, variant_names
from pipelines.vocabulary import (
    AREAS,
    BORDERLINE,
    CLEAR_CANDIDATE,
    CLEARLY_NOT,
    SOURCES,
    UDIR_RANKED,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
)
from tests.conftest import SCHOOL_YEAR

CONFIG = load_config().with_year(SCHOOL_YEAR)


def _row(category: int | None, status: str, tier: str | None, p: float | None) -> dict[str, object]:
    return {
        "municipality_name": "Testvik",
        "udir_category": category,
        "udir_status": status,
        "tier": tier,
        "p_top_n": p,
    }


# Why they disagree ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            _row(1, UDIR_RANKED, CLEARLY_NOT, 0.04),
            "Udirs regel setter Testvik i kategori 1 fordi mange av tallene er svakere enn landet eller "
            "den absolutte grensen, uansett hvor lite svakere og hvor få elever de bygger på, mens den "
            "helhetlige vurderingen veier hvert tall etter hvor usikkert det er og gir kommunen bare 4 % "
            "sannsynlighet for å være blant de 30 svakeste.",
        ),
        (
            _row(2, UDIR_RANKED, CLEARLY_NOT, 0.12),
            "Udirs regel setter Testvik i kategori 2 fordi kommunens egne skoler er svært ulike og minst én "
            "skole er blant de svakeste i landet, mens den helhetlige vurderingen ser på kommunens samlede "
            "nivå og gir den bare 12 % sannsynlighet for å være blant de 30 svakeste.",
        ),
        (
            _row(None, UDIR_TOO_LITTLE_DATA, BORDERLINE, 0.26),
            "Udirs regel rangerer ikke Testvik fordi kommunen har tall for færre enn 50 % av de mulige "
            "risikopoengene, mens den helhetlige vurderingen bruker tallene som finnes og fyller ut de som "
            "mangler fra kommunens andre tall, med større usikkerhet, og gir 26 % sannsynlighet for å være "
            "blant de 30 svakeste.",
        ),
        (
            _row(1, UDIR_RANKED, None, None),
            "Udirs regel setter Testvik i kategori 1 på de tallene som finnes, mens den helhetlige "
            "vurderingen har for få tall for kommunen til å vurdere den.",
        ),
    ],
)
def test_disagreement_says_why_in_one_sentence(row, expected):
    assert disagreement(row, CONFIG) == expected


def test_disagreement_when_the_holistic_method_lists_a_kommune_the_rule_does_not():
    text = disagreement(_row(None, UDIR_RANKED, CLEAR_CANDIDATE, 0.91), CONFIG)
    assert text is not None
    assert text.startswith("Den helhetlige vurderingen gir Testvik 91 % sannsynlighet for å være blant de 30")
    # The indicators the rule lacks are named by their labels, every one of them.
    outside = [i for i in CONFIG.for_owner("kommune") if not i.udir_rule]
    assert outside and all(f"«{i.label}»" in text for i in outside)
    assert "kategori 1" in text and "kommunenummer" not in text
    tied = disagreement(_row(None, UDIR_TIED_AT_CUTOFF, CLEAR_CANDIDATE, 0.91), CONFIG)
    assert tied is not None and tied.endswith("men står etter den på kommunenummer.")


@pytest.mark.parametrize(
    "row",
    [
        _row(1, UDIR_RANKED, CLEAR_CANDIDATE, 0.95),  # both list it
        _row(1, UDIR_RANKED, BORDERLINE, 0.5),  # the holistic method in doubt: no disagreement
        _row(None, UDIR_RANKED, BORDERLINE, 0.3),
        _row(None, UDIR_RANKED, CLEARLY_NOT, 0.01),  # neither lists it
        _row(None, UDIR_TOO_LITTLE_DATA, CLEARLY_NOT, 0.01),
        _row(None, UDIR_TOO_LITTLE_DATA, None, None),
    ],
)
def test_no_disagreement_where_the_methods_agree_or_doubt(row):
    assert disagreement(row, CONFIG) is None


# Sensitivity on the profile ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_outcomes_undo_the_summary(data):
    """Every variant's outcome comes back from the summary the warehouse keeps, for any outcomes."""
    names = variant_names(CONFIG)
    rows = [
        (unit, method, name, data.draw(st.booleans()))
        for unit in ("0301", "1101", "5001")
        for method in (HOLISTIC, UDIR)
        for name in names[method]
    ]
    runs = pl.DataFrame(
        rows, schema=["unit_code", "method", "variant", "selected"], orient="row"
    ).with_columns(
        pl.when(pl.col("variant") == names[HOLISTIC][0])
        .then(pl.lit("grunnvalg"))
        .otherwise(pl.lit("x"))
        .alias("choice")
    )
    back = outcomes(summarise(runs), CONFIG)
    key = ["unit_code", "method", "variant"]
    assert back.sort(key).equals(runs.select(*key, "selected").sort(key))


def test_variants_are_named_in_bokmal():
    names = variant_names(CONFIG)
    assert names[HOLISTIC][0] == names[UDIR][0] == "grunnvalg"
    assert "dobbel vekt på læringsmiljø" in names[HOLISTIC]
    assert not any(area in name for area in AREAS for name in names[HOLISTIC] + names[UDIR])


def test_sensitivity_section_in_words_and_a_table():
    names = variant_names(CONFIG)
    flipped = "dobbel vekt på læringsmiljø"
    rows = [(HOLISTIC, v, v != flipped) for v in names[HOLISTIC]] + [(UDIR, v, False) for v in names[UDIR]]
    outcome = pl.DataFrame(rows, schema=["method", "variant", "selected"], orient="row")
    text = sensitivity_section("Testvik", outcome, CONFIG)
    holistic, udir = len(names[HOLISTIC]), len(names[UDIR])
    assert (
        f"Den helhetlige vurderingen: Testvik er blant de 30 svakeste i {holistic - 1} av {holistic} "
        f"varianter, grunnvalget medregnet. Utfallet endres av {flipped}." in text
    )
    assert f"i 0 av {udir} varianter, grunnvalget medregnet. Ingen av variantene endrer utfallet." in text
    assert f"<tr><td>{flipped}</td><td>nei</td><td>–</td></tr>" in text
    assert "<tr><td>strengere grenser</td><td>–</td><td>nei</td></tr>" in text
    assert "<tr><td>grunnvalg</td><td>ja</td><td>nei</td></tr>" in text
    assert sensitivity_section("Testvik", outcome.clear(), CONFIG) == ""


# Trends: 90 % bands and hidden figures ----------------------------------------------------------


def _published(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [("municipality", "9999", "9999", "99", "mobbing_7", *row) for row in rows],
        schema=PUBLISHED_SCHEMA,
        orient="row",
    )


def test_trend_band_hidden_marker_and_decimal_comma_by_hand():
    indicator = next(i for i in CONFIG.indicators if i.id == "mobbing_7")
    window = CONFIG.window()
    own = _published(
        [
            (window[0], 12.0, 40, 2.0, False),
            (window[1], None, None, None, True),
            (window[2], 1.0, 25, 1.5, False),
        ]
    )
    national = dict(zip(window, [8.0, 7.5, 7.0], strict=True))
    entry = _trend("indicator0", indicator, "Testvik", own, national, None, CONFIG)
    # 12 ± 1.6449 × 2 = 8.71–15.29; 1 − 1.6449 × 1.5 < 0 is clipped to the 0 a share can take.
    assert entry["unit"] == [12.0, None, 1.0]
    assert entry["low"] == [8.71, None, 0.0] and entry["high"] == [15.29, None, 3.47]
    assert entry["n"] == [40, None, 25]
    # The hidden figure is marked at the national level of its year, and nowhere else.
    assert entry["hidden"] == [None, 7.5, None]
    assert entry["text"] == [
        f"Testvik {window[0]}: 12,0 (40 elever; 90 % intervall 8,7–15,3)",
        None,
        f"Testvik {window[2]}: 1,0 (25 elever; 90 % intervall 0,0–3,5)",
    ]
    assert entry["national_text"][1] == f"Landet {window[1]}: 7,5"
    assert "comparison" not in entry
    assert hidden_label(CONFIG) == "skjult (færre enn 10 elever)"


# The pages of the national run -------------------------------------------------------------------


def _data(path: Path) -> dict:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', path.read_text(), re.S)
    assert match
    return json.loads(match.group(1))


def _shown_strings(value: object, key: str = "") -> list[str]:
    """The strings of a page's chart data a reader can see (titles, labels, hover texts, names), not
    the keys the code looks things up by."""
    if isinstance(value, dict):
        return [
            s for k, v in value.items() if k not in {"id", "code", "indicator"} for s in _shown_strings(v, k)
        ]
    if isinstance(value, list):
        return [s for v in value for s in _shown_strings(v, key)]
    return [value] if isinstance(value, str) else []


def _visible(page: str) -> str:
    """A page's text and its charts' texts, as a reader meets them."""
    prose = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    prose = html.unescape(re.sub(r"<[^>]+>", " ", prose))
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    shown = _shown_strings(json.loads(match.group(1))) if match else []
    return " ".join([prose, *shown])


def _internal_ids() -> set[str]:
    """Ids of areas, sources and indicators that are not themselves the Norwegian word a reader sees
    (``grunnskolepoeng`` is both)."""
    labels = {i.id: i.label for i in CONFIG.indicators}
    ids = {*AREAS, *SOURCES, *labels}
    return {i for i in ids if labels.get(i, "").lower() != i}


def _ids_in(text: str, ids: set[str]) -> set[str]:
    return {i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)}


def test_the_id_scan_finds_an_id_where_one_is(published):
    ids = _internal_ids()
    assert {"laeringsmiljo", "nasjonale_prover", "fullfort_kommune", "mobbing_7"} <= ids
    page = (published["dashboard"] / "index.html").read_text(encoding="utf-8")
    assert _ids_in(_visible(page), ids) == set()
    planted = page.replace("Kandidater, grensetilfeller og søkere", "Kandidater (fullfort_kommune: 1.97 SD)")
    assert _ids_in(_visible(planted), ids) == {"fullfort_kommune"}
    in_chart = page.replace('"name":"', '"name":"laeringsmiljo ', 1)
    assert _ids_in(_visible(in_chart), ids) == {"laeringsmiljo"}


def test_no_page_shows_an_internal_id_or_a_decimal_point(published):
    dashboard = published["dashboard"]
    pages = [
        *dashboard.glob("*.html"),
        *(dashboard / "kommuner").glob("*.html"),
        *(dashboard / "fylkeskommuner").glob("*.html"),
    ]
    assert len(pages) == 6 + 357 + 15  # overview, fylkeskommuner, funnel, status, method, oppfølging
    ids = _internal_ids()
    for path in pages:
        page = path.read_text(encoding="utf-8")
        visible = _visible(page)
        assert _ids_in(visible, ids) == set(), path.name
        # Numbers a reader sees have a decimal comma (a licence's version is a name, not a number).
        numbers = visible.replace("NLOD 2.0", "")
        assert not re.search(r"\d\.\d", numbers), (path.name, re.search(r".{30}\d\.\d.{30}", numbers))
        if "Dashboard." in page:
            assert _data(path)["separators"] == SEPARATORS


def test_fylkeskommuner_have_their_overview_and_profiles(published, national_run):
    dashboard = published["dashboard"]
    counties = national_run.table("fylkeskommune_candidates")
    index = (dashboard / "index.html").read_text(encoding="utf-8")
    assert 'href="fylkeskommuner.html"' in index
    overview = (dashboard / "fylkeskommuner.html").read_text(encoding="utf-8")
    for code, name in counties.select("county_code", "county_name").iter_rows():
        assert f'href="fylkeskommuner/{code}.html">{html.escape(name)}</a>' in overview
    figures = national_run.table("published_figures").filter(pl.col("level") == "county")
    labels = {i.label: i.id for i in CONFIG.for_owner("fylkeskommune")}
    checked = 0
    for code in counties["county_code"]:
        data = _data(dashboard / "fylkeskommuner" / f"{code}.html")
        assert {entry["label"] for entry in data["indicators"]} == set(labels)
        for entry in data["indicators"]:
            mine = figures.filter(
                (pl.col("unit_code") == code) & (pl.col("indicator_id") == labels[entry["label"]])
            )
            published_values = dict(mine.select("school_year", "value").iter_rows())
            for year, value in zip(entry["years"], entry["unit"], strict=True):
                assert value == pytest.approx(published_values.get(year), abs=0.01)
                checked += value is not None
    assert checked > 100


def test_a_hidden_kommune_figure_is_marked_where_it_would_have_been(published, national_run):
    figures = national_run.table("published_figures")
    hidden = figures.filter((pl.col("level") == "municipality") & pl.col("hidden")).row(0, named=True)
    national = figures.filter(
        (pl.col("level") == "national")
        & (pl.col("indicator_id") == hidden["indicator_id"])
        & (pl.col("school_year") == hidden["school_year"])
    )["value"][0]
    data = _data(published["dashboard"] / "kommuner" / f"{hidden['unit_code']}.html")
    label = next(i.label for i in CONFIG.indicators if i.id == hidden["indicator_id"])
    entry = next(e for e in data["indicators"] if e["label"] == label)
    at = entry["years"].index(hidden["school_year"])
    assert entry["unit"][at] is None and entry["n"][at] is None and entry["low"][at] is None
    assert entry["hidden"][at] == pytest.approx(national, abs=0.01)
    assert data["labels"]["hidden"] == "skjult (færre enn 10 elever)"
