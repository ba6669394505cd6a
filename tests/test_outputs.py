"""The published outputs on the national sample: candidate files, workbooks read back with openpyxl,
and a privacy scan of every file."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import openpyxl
import polars as pl
import pytest

from pipelines.config import load_config
from pipelines.flow import materialise
from pipelines.outputs.method_text import method_sections, percent
from pipelines.selection.explain import drivers, published_years, sentence
from pipelines.settings import PROJECT_ROOT
from pipelines.vocabulary import (
    CLEAR_CANDIDATE,
    ON_LIST,
    UDIR_RANKED,
    UDIR_STATUSES,
    UDIR_TIED_AT_CUTOFF,
    UDIR_TOO_LITTLE_DATA,
)
from tests.conftest import SCHOOL_YEAR

MINIMUM = 10


def test_candidate_files_have_every_kommune_and_the_promised_columns(
    published, national_run, national_config
):
    candidates = pl.read_csv(published["root"] / "candidates.csv", infer_schema_length=None)
    assert candidates.height == 357 and candidates["municipality_code"].n_unique() == 357
    for column in [
        "municipality_code",
        "municipality_name",
        "statsforvalter",
        "udir_risk_share",
        "udir_category",
        "holistic_score",
        "holistic_rank",
        "p_top_n",
        "rank_low",
        "rank_high",
        "tier",
        "explanation",
    ]:
        assert column in candidates.columns
    # Every clear candidate's explanation comes with the numbers behind it.
    listed = candidates.filter(pl.col("tier") == CLEAR_CANDIDATE)
    assert listed.height and listed["drivers"].str.contains(r"^[a-z0-9_]+: \d+\.\d+ SD \(\d/\d år\)").all()
    selection = national_config.selection
    assert (candidates["udir_category"] == 1).sum() == selection.category_1_count
    assert (candidates["udir_category"] == 2).sum() <= selection.category_2_max
    # "for lite data": neither rank nor category; every other kommune has a rank, and the number of
    # ranked kommuner sharing its share of risk points.
    too_little = pl.col("udir_status") == UDIR_TOO_LITTLE_DATA
    assert set(candidates["udir_status"]) <= set(UDIR_STATUSES)
    assert candidates.filter(too_little).height > 0
    assert (
        candidates.filter(too_little)
        .select("udir_rank", "udir_tied_count", "udir_category")
        .null_count()
        .row(0)
        == (candidates.filter(too_little).height,) * 3
    )
    assert (
        candidates.filter(too_little)["udir_possible_points"].fill_null(0)
        < selection.minimum_possible_share * candidates["udir_possible_points"].max()
    ).all()
    ranked = candidates.filter(~too_little)
    assert ranked["udir_rank"].null_count() == 0 and ranked["udir_tied_count"].min() >= 1
    assert sorted(ranked["udir_rank"]) == list(range(1, ranked.height + 1))
    # The profile pages say it too, and name the kommuner sharing the last category 1 share (the
    # national sample has such a tie; another sample may not).
    tied = candidates.filter(pl.col("udir_status") == UDIR_TIED_AT_CUTOFF)
    shown = [(candidates.filter(too_little)["municipality_code"][0], f"Udirs regel: {UDIR_TOO_LITTLE_DATA} ")]
    shown += [(code, f"{UDIR_TIED_AT_CUTOFF}: {tied.height} kommuner") for code in tied["municipality_code"]]
    for code, text in shown:
        assert text in (published["dashboard"] / "kommuner" / f"{code:04d}.html").read_text(encoding="utf-8")
    assert pl.read_parquet(published["root"] / "candidates.parquet").height == 357
    counties = pl.read_csv(published["root"] / "fylkeskommuner.csv")
    assert counties.height == 15 and counties["holistic_rank"].drop_nulls().len() == 15
    provenance = json.loads((published["root"] / "provenance.json").read_text())
    assert len(provenance["inputs"]) == national_run.table("raw_files").height
    assert re.fullmatch(r"[0-9a-f]{16}", provenance["code_version"])


def test_one_workbook_per_statsforvalter_read_back(published, national_run):
    paths = sorted(published["workbooks"].glob("*.xlsx"))
    assert len(paths) == 10
    listed_total = 0
    counties = national_run.table("fylkeskommune_candidates")
    for path in paths:
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == [
            "Vurdering",
            "Indikatorer",
            "Skoler",
            "Fylkeskommuner",
            "Forklaring",
            "Metode",
            "Kontroll",
        ]
        assert [book[name].sheet_state for name in book.sheetnames][-1] == "hidden"
        assert book["Kontroll"].protection.sheet and book["Vurdering"].protection.sheet
        control = dict(book["Kontroll"].iter_rows(values_only=True))
        office = control["embete"]
        method = dict(book["Metode"].iter_rows(values_only=True))
        assert re.fullmatch(
            r"kodeversjon [0-9a-f]{16}, 60 inndatafiler \(fingeravtrykk [0-9a-f]{16}\)", method["Laget av"]
        )
        # The tier's threshold with how often it was right in the committed validation.
        assert re.search(r"faktisk blant de 30 svakeste i \d+ % \(standard\)", method["Nivå"])
        sheet = book["Vurdering"]
        header = [cell.value for cell in sheet[3]]
        # The name is frozen and the review cells sit right beside it.
        assert header[:7] == [
            "Kommunenr",
            "Kommune",
            "Anbefaling",
            "Prioritet i embetet",
            "Begrunnelse",
            "Kontaktperson",
            "Dato",
        ]
        assert sheet.freeze_panes == "C4" and sheet.auto_filter.ref
        assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToHeight == 0  # as many pages down as needed, one across
        assert sheet.print_title_rows == "$1:$3"
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        statuses = {row[header.index("Udir-status")] for row in rows}
        assert statuses <= set(UDIR_STATUSES)
        validations = sheet.data_validations.dataValidation
        assert validations[0].formula1 == '"anbefales,anbefales ikke,usikker"'
        assert str(validations[0].sqref) == f"C4:C{3 + max(len(rows), 1)}"
        for row in sheet.iter_rows(min_row=4):
            assert [cell.protection.locked for cell in row[2:7]] == [False] * 5
            assert all(cell.protection.locked for cell in row[:2] + row[7:])
        groups = [row[header.index("Listegruppe")] for row in rows]
        assert groups == sorted(groups)
        listed_total += len(rows)
        assert all(len(row[0]) == 4 for row in rows)
        mine = counties.filter(pl.col("statsforvalter") == office)["county_name"].sort().to_list()
        shown = sorted(row[1] for row in book["Fylkeskommuner"].iter_rows(min_row=2, values_only=True))
        assert shown == mine and mine
        legend = dict(book["Forklaring"].iter_rows(values_only=True))
        assert {f"Listegruppe {n}" for n in range(1, 5)} <= set(legend)
        schools = list(book["Skoler"].iter_rows(values_only=True))
        assert schools[0][:2] == ("Kommunenr", "Kommune") and all(row[1] for row in schools[1:])
    assert listed_total == national_run.table("candidates").filter(ON_LIST).height


def test_workbooks_are_byte_identical_between_runs(published, national_run, national_config, tmp_path):
    from pipelines.indicators.coverage import data_gaps
    from pipelines.outputs.workbooks import write_workbooks
    from pipelines.provenance import provenance_id, provenance_line
    from pipelines.selection.validation import clear_candidate_precision, load_validation
    from pipelines.settings import VALIDATION_DIR

    candidate_files_provenance = (published["root"] / "provenance.json").read_text(encoding="utf-8")
    again = write_workbooks(
        national_run.table("candidates"),
        national_run.table("fylkeskommune_candidates"),
        national_run.table("published_figures"),
        national_run.table("school_names"),
        national_config,
        tmp_path,
        (provenance_id(candidate_files_provenance), provenance_line(national_run.table("raw_files"))),
        data_gaps(national_run.table("data_coverage")),
        clear_candidate_precision(load_validation(VALIDATION_DIR), national_config),
    )
    for path in again:
        assert path.read_bytes() == (published["workbooks"] / path.name).read_bytes()


def test_no_published_figure_rests_on_too_few_pupils(published):
    """Scan every output file that carries figures with pupil counts (what can be worked out from them:
    tests/test_privacy.py)."""
    checked = 0
    for path in sorted(published["workbooks"].glob("*.xlsx")):
        sheet = openpyxl.load_workbook(path)["Skoler"]
        header = [cell.value for cell in sheet[1]]
        assert "Verdi" in header
        rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]
        for row in rows:
            if row["Verdi"] is not None:
                assert row["Antall elever"] is not None and row["Antall elever"] >= MINIMUM, (path.name, row)
                checked += 1
    dashboard = published["dashboard"]
    profiles = [*(dashboard / "kommuner").glob("*.html"), *(dashboard / "fylkeskommuner").glob("*.html")]
    for path in sorted(profiles):
        data = json.loads(
            re.search(
                r'<script type="application/json" id="data">(.*?)</script>', path.read_text(), re.S
            ).group(1)
        )
        for indicator in data["indicators"]:
            for value, n in zip(indicator["unit"], indicator["n"], strict=True):
                if value is not None:
                    assert n is not None and n >= MINIMUM, path.name
                    checked += 1
        for school in data.get("schools", []):
            if school["value"] is not None:
                assert school["n"] >= MINIMUM
    funnels = json.loads(
        re.search(
            r'id="data">(.*?)</script>', (published["dashboard"] / "traktplott.html").read_text(), re.S
        ).group(1)
    )
    for funnel in funnels["funnels"]:
        assert all(point["n"] >= MINIMUM for point in funnel["points"])
        if funnel["label"].endswith("(%)"):  # control limits stay within 0–100 %
            assert min(funnel["limits"]["lower99"]) >= 0 and max(funnel["limits"]["upper99"]) <= 100
        checked += len(funnel["points"])
    assert checked > 1000


def _prose(page: str) -> str:
    """What a reader sees of a page: no scripts, no tags, one space between words."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_text_a_governor_reads_follows_the_configuration(national_sample, tmp_path):
    """With 25 in place of 30 in utvalg.toml, the whole run (selection included) says 25 in every
    heading, explanation and method text a governor reads, and never 30."""
    source = (PROJECT_ROOT / "utvalg.toml").read_text(encoding="utf-8")
    changed, replaced = re.subn(r"(?m)^((?:top_n|category_1_count)\s*=\s*)30\b", r"\g<1>25", source)
    assert replaced == 2, "utvalg.toml no longer sets top_n and category_1_count to 30"
    config_file = tmp_path / "utvalg.toml"
    config_file.write_text(changed, encoding="utf-8")
    run = materialise(
        tmp_path / "warehouse.duckdb",
        ["candidate_files", "statsforvalter_workbooks", "dashboard"],
        raise_on_error=True,
        raw_dir=str(national_sample),
        school_year=SCHOOL_YEAR,
        config_file=str(config_file),
        reports_dir=str(tmp_path / "reports"),
    )
    root = tmp_path / "reports" / SCHOOL_YEAR
    candidates = run.table("candidates")
    assert (candidates["udir_category"] == 1).sum() == 25
    assert (candidates["holistic_rank"] <= 25).sum() == 25

    method_texts, sentences = [], candidates["explanation"].to_list()
    for path in sorted((root / "statsforvaltere").glob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        vurdering = list(book["Vurdering"].iter_rows(values_only=True))
        method_texts += [str(cell) for cell in vurdering[2]] + [str(c.value) for c in book["Skoler"][1]]
        sentences += [str(row[vurdering[2].index("Forklaring")]) for row in vurdering[3:]]
        method_texts += [
            str(value) for row in book["Forklaring"].iter_rows(values_only=True) for value in row
        ]
        method_texts += [str(value) for row in book["Metode"].iter_rows(values_only=True) for value in row]
    dashboard = root / "dashboard"
    index = (dashboard / "index.html").read_text(encoding="utf-8")
    method_texts.append(_prose(re.sub(r"<tbody>.*?</tbody>", " ", index, flags=re.S)))  # rows: ranks
    method_texts += [
        _prose((dashboard / name).read_text(encoding="utf-8")) for name in ("metode.html", "traktplott.html")
    ]
    profiles = sorted((dashboard / "kommuner").glob("*.html"))
    sentences += [_prose(path.read_text(encoding="utf-8")) for path in profiles]

    text = " ".join(" ".join(method_texts).split())
    assert "Kategori 1 er de 25 kommunene med høyest andel" in text
    assert "Sannsynlighet blant de 25 svakeste" in text
    assert "blant de 25 svakeste kommunene" in text
    # The one 30 left in the method texts is category_2_spread (0.30), which is not what changed.
    assert {text[m.start() : m.end() + 13] for m in re.finditer(r"\b30\b", text)} == {"30 prosentpoeng"}
    # Explanations and profiles carry ranks and figures (30 may be one of them), never "the 30 weakest".
    prose = " ".join(sentences)
    assert "blant de 25 svakeste" in prose
    assert not re.search(r"\b30 (svakeste|kommunene)|de 30\b", prose)


def test_method_text_renders_weights_shrinkage_and_norwegian_percentages():
    config = load_config()
    config = replace(
        config,
        holistic=replace(
            config.holistic,
            shrinkage=False,
            candidate_probability=0.875,
            area_weights={**config.holistic.area_weights, "laeringsresultater": 2.0},
        ),
    )
    sections = dict(method_sections(config))
    assert (
        "med vektene læringsresultater 2, læringsmiljø 1 og gjennomføring 1"
        in sections["Helhetlig vurdering"]
    )
    assert "trekkes ikke mot gjennomsnittet" in sections["Helhetlig vurdering"]
    # Without the model a kommune's figures are its level, schools and all, whatever the estimand.
    for estimand in ("kommune_and_schools", "kommune_only"):
        told = replace(config, holistic=replace(config.holistic, estimand=estimand))
        text = dict(method_sections(told))["Helhetlig vurdering"]
        assert "regnes som en del av kommunens nivå, fordi kommunen er skoleeier" in text
        assert "teller indikatorene likt" not in text
    modelled = replace(config, holistic=replace(config.holistic, shrinkage=True, estimand="kommune_only"))
    text = dict(method_sections(modelled))["Helhetlig vurdering"]
    assert "regnes ikke som en del av kommunens nivå, men som usikkerhet" in text
    assert "Innen hvert område teller indikatorene likt" in text
    assert "regnes som en del av området, ikke som usikkerhet" in text
    assert "trekkes mindre mot gjennomsnittet enn en by" not in text  # the schools are error here
    # By default the schools are part of the level: "derfor" must follow the sentence it refers to, and
    # the reader is told that a private school counts too.
    default = replace(
        config, holistic=replace(config.holistic, shrinkage=True, estimand="kommune_and_schools")
    )
    text = dict(method_sections(default))["Helhetlig vurdering"]
    assert "fordi kommunen er skoleeier. En kommune med én eller to skoler kan derfor" in text
    assert "kan komme høyt på listen på grunn av en privat skole" in text
    owned = replace(modelled, holistic=replace(modelled.holistic, estimand="kommune_and_schools"))
    owned_text = dict(method_sections(owned))["Helhetlig vurdering"]
    assert "trekkes mindre mot gjennomsnittet enn en by" in owned_text
    assert "minst 87,5 %; «grensetilfelle»: 20–87,5 %" in sections["Nivå"]
    assert "Risikopoeng for «Grunnskolepoeng» teller tre ganger" in sections["Udirs regel"]
    assert percent(0.25) == "25 %"


@pytest.mark.parametrize(
    ("category", "status", "ending"),
    [
        (1, UDIR_RANKED, "; Udirs regel: kategori 1."),
        (None, UDIR_RANKED, "; ikke på Udirs liste."),
        (None, UDIR_TOO_LITTLE_DATA, "; Udirs regel: for lite data til å rangeres."),
        (None, None, "(rangering 2–9 med 90 % sikkerhet)."),
    ],
)
def test_sentence_says_what_udirs_rule_did(category: int | None, status: str | None, ending: str) -> None:
    """A kommune Udir's rule could not rank is not "off Udir's list", and a fylkeskommune (no Udir rule)
    gets no clause about it."""
    text = sentence(
        "Eksempel", "grensetilfelle", 0.5, 2, 9, 30, ["Mobbing, 7. trinn (%) (3 av 3 år)"], category, status
    )
    assert text.endswith(ending)
    assert text.startswith("Eksempel er grensetilfelle: svakest på Mobbing")
    assert "50 %" in text


def _published(rows: list[tuple[str, str, str, float | None, bool]]) -> pl.DataFrame:
    """(level, unit, year, value, hidden) of grunnskolepoeng (higher is better) → published_figures."""
    return pl.DataFrame(
        [
            {
                "level": level,
                "unit_code": unit,
                "indicator_id": "grunnskolepoeng",
                "school_year": year,
                "value": None if hidden else value,
                "hidden": hidden,
            }
            for level, unit, year, value, hidden in rows
        ]
    )


def test_drivers_count_only_published_years_worse_than_the_country():
    published = _published(
        [
            ("national", "", "2023-24", 41.0, False),
            ("national", "", "2024-25", 42.0, False),
            ("national", "", "2025-26", 43.0, False),
            ("municipality", "1111", "2023-24", 40.0, False),  # worse
            ("municipality", "1111", "2024-25", 42.0, False),  # equal: not worse
            ("municipality", "1111", "2025-26", 30.0, True),  # hidden: worse, but not counted
            ("municipality", "2222", "2025-26", 30.0, True),  # every figure hidden
            ("county", "11", "2025-26", 10.0, False),  # another level
        ]
    )
    config = load_config()
    years = published_years(published, "municipality", config)
    assert years.rows() == [("1111", "grunnskolepoeng", 2, 1)]
    # The model's own counts (every figure, small ones too) say 2 of 3 and 1 of 1; the lists say what
    # the published figures show.
    scores = pl.DataFrame(
        {
            "unit_code": ["1111", "2222"],
            "indicator_id": ["grunnskolepoeng"] * 2,
            "area": ["gjennomforing"] * 2,
            "score": [0.5, 0.25],
            "score_var": [0.1, 0.2],
            "years": [3, 1],
            "years_worse": [2, 1],
        }
    )
    found = {row["unit_code"]: row for row in drivers(scores, years, config).iter_rows(named=True)}
    assert found["1111"]["drivers"] == "grunnskolepoeng: 0.5 SD (1/2 år)"
    assert found["1111"]["driver_texts"] == ["Grunnskolepoeng (1 av 2 år svakere enn landet)"]
    assert found["2222"]["drivers"] == "grunnskolepoeng: 0.25 SD (0/0 år)"
    assert found["2222"]["driver_texts"] == ["Grunnskolepoeng (ingen publiserte tall)"]
