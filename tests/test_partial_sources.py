"""A raw folder without some of the four sources: the selection runs on the sources there are, and every
output a governor or analyst reads says what is missing. A source that is there but lacks a year of the
window still stops the run (tests/test_command_output.py runs that through the command line)."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Collection
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import load_config
from pipelines.flow import FlowRun, materialise
from pipelines.indicators.coverage import (
    COVERAGE_SCHEMA,
    data_coverage,
    data_gaps,
    gap_notes,
    list_note,
    missing_data_text,
)
from pipelines.indicators.coverage import coverage_problems as problems_of
from pipelines.vocabulary import AREAS
from tests.conftest import SCHOOL_YEAR, run_sample

KOMMUNER = (
    "Rangeringen av kommunene bygger bare på læringsresultater: mappen har ingen filer fra "
    "Elevundersøkelsen, grunnskolepoeng eller gjennomføring."
)
FYLKESKOMMUNER = (
    "Fylkeskommunene er ikke rangert: mappen har ingen filer fra Elevundersøkelsen eller gjennomføring."
)
RULE = "Udirs kategorier bygger ikke på Udirs fulle regel: de er uten «Mobbing, 7. trinn (%)»"
PARTIAL_RULE = "Udir-kategori (ufullstendig: tall mangler)"


@pytest.fixture(scope="module")
def national_tests_only(national_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    """`utvalg run` on a folder holding only the synthetic sample's national-test exports."""
    folder = tmp_path_factory.mktemp("national-tests-only")
    raw = folder / "raw"
    shutil.copytree(national_sample / "nasjonale_prover", raw / "nasjonale_prover")
    return run_sample(folder, raw)


def _reports(run: FlowRun) -> Path:
    return Path(run.metadata("candidate_files")["folder"])


def test_national_tests_alone_rank_the_kommuner_on_learning_results(national_tests_only):
    run = national_tests_only
    assert set(run.table("raw_files")["source"].to_list()) == {"nasjonale_prover"}
    candidates = run.table("candidates")
    ranked = candidates.filter(pl.col("holistic_rank").is_not_null())
    # Every kommune with a national-test figure from at least minimum_pupils pupils is ranked.
    with_figures = run.table("indicator_values").filter(pl.col("value").is_not_null())["unit_code"].n_unique()
    assert ranked.height == with_figures > 300
    assert sorted(ranked["holistic_rank"].to_list()) == list(range(1, ranked.height + 1))
    assert ranked["areas"].unique().to_list() == ["laeringsresultater"]
    scored = set(run.table("holistic_scores")["indicator_id"].to_list())
    assert {"skalapoeng_lesing_5", "skalapoeng_regning_8", "mestring1_lesing_5"} <= scored
    assert all(ident.startswith(("skalapoeng_", "mestring1_")) for ident in scored)
    # Udir's rule ranks on what it has: the four mastery-level indicators.
    assert (candidates["udir_category"] == 1).sum() == load_config().selection.category_1_count
    assert run.table("fylkeskommune_candidates")["holistic_rank"].is_null().all()
    assert run.metadata("data_coverage")["no_files"] == "elevundersokelsen, grunnskolepoeng, gjennomforing"
    assert run.metadata("data_coverage")["missing"] == ""


def test_every_output_says_which_areas_and_sources_are_missing(national_tests_only):
    root = _reports(national_tests_only)
    kommuner = pl.read_csv(root / "candidates.csv", infer_schema_length=None)
    assert kommuner["data_note"].str.starts_with(KOMMUNER).all()
    assert kommuner["data_note"].str.contains(RULE, literal=True).all()
    assert kommuner["data_note"].str.contains("«Grunnskolepoeng»", literal=True).all()
    assert not kommuner["data_note"].str.contains("Skalapoeng", literal=True).any()  # not in Udir's rule
    assert pl.read_parquet(root / "candidates.parquet")["data_note"].str.starts_with(KOMMUNER).all()
    counties = pl.read_csv(root / "fylkeskommuner.csv")
    assert counties.height == 15 and (counties["data_note"] == FYLKESKOMMUNER).all()

    dashboard = root / "dashboard"
    for page in ("index.html", "metode.html", "kommuner/5540.html"):
        text = (dashboard / page).read_text(encoding="utf-8")
        assert KOMMUNER in text and RULE in text, page
    overview = (dashboard / "index.html").read_text(encoding="utf-8")
    assert FYLKESKOMMUNER in overview and "Udirs regel (ufullstendig: tall mangler)" in overview
    method = (dashboard / "metode.html").read_text(encoding="utf-8")
    assert "Tallene fra nasjonale prøver gjøres om" in method
    assert "bygger på området læringsresultater, målt i spredningen mellom kommunene." in method
    assert "ingen filer fra Elevundersøkelsen, grunnskolepoeng eller gjennomføring; utvalget bygger" in method

    workbooks = sorted((root / "statsforvaltere").glob("*.xlsx"))
    assert len(workbooks) == 10
    for workbook in workbooks:
        with zipfile.ZipFile(workbook) as archive:
            strings = archive.read("xl/sharedStrings.xml").decode("utf-8")
        assert KOMMUNER in strings and FYLKESKOMMUNER in strings and PARTIAL_RULE in strings, workbook

    provenance = json.loads((root / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["sources_without_files"] == ["elevundersokelsen", "grunnskolepoeng", "gjennomforing"]


def test_a_complete_folder_says_nothing_is_missing(published, national_run):
    gaps = data_gaps(national_run.table("data_coverage"))
    assert gaps.complete and gap_notes(gaps, load_config()) == []
    listed = pl.read_csv(published["root"] / "candidates.csv", infer_schema_length=None)
    assert listed["data_note"].is_null().all()
    overview = (published["dashboard"] / "index.html").read_text(encoding="utf-8")
    assert 'class="warning"' not in overview and "ufullstendig" not in overview


# The configuration against made-up coverage: the rules, with the answers worked out by hand.
CONFIG = load_config().with_year("2025-26")
WINDOW = CONFIG.window()


def _coverage(files: dict[str, int], empty: Collection[tuple[str, str]] = ()) -> pl.DataFrame:
    """Coverage with ``files`` files per source (0: none) and 50 figures per indicator and year, except
    (source, year) in ``empty`` and every year of a source without files."""
    rows = []
    for i in CONFIG.indicators:
        for year in WINDOW:
            found = 0 if files[i.source] == 0 or (i.source, year) in empty else 50
            row = (i.id, i.owner, i.source, i.area, i.udir_rule, files[i.source], year, found, found == 0)
            rows.append(row)
    return pl.DataFrame(rows, schema=COVERAGE_SCHEMA, orient="row")


ALL = {"nasjonale_prover": 6, "elevundersokelsen": 3, "grunnskolepoeng": 3, "gjennomforing": 3}


def test_a_source_without_files_is_not_a_problem_but_one_short_of_a_year_is():
    config = CONFIG
    absent = _coverage(ALL | {"gjennomforing": 0})
    problems = problems_of(_harmonised_frame(absent), absent, config, "utvalg.toml")
    assert problems == []
    short = _coverage(ALL, empty={("gjennomforing", WINDOW[1])})
    problems = problems_of(_harmonised_frame(short), short, config, "utvalg.toml")
    assert problems[0].startswith(f"no figures from gjennomforing for {WINDOW[1]} (indicators fullfort_fylke")
    assert "--allow-missing" in problems[-1]
    # A source with files but no figure in the window looks truncated too: it stops the run.
    outside = _coverage(ALL, empty={("gjennomforing", year) for year in WINDOW})
    assert problems_of(_harmonised_frame(outside), outside, config, "utvalg.toml")


def _harmonised_frame(coverage: pl.DataFrame) -> pl.DataFrame:
    """Harmonised rows matching each configured indicator where the coverage says it has figures."""
    by_id = {i.id: i for i in CONFIG.indicators}
    rows = []
    for ident, year in coverage.filter(~pl.col("missing")).select("indicator_id", "school_year").iter_rows():
        i = by_id[ident]
        level = "municipality" if i.owner == "kommune" else "county"
        rows.append((i.source, i.indicator, i.grade, i.subject, "", level, False, year))
    schema = {
        "source": pl.String,
        "indicator": pl.String,
        "grade": pl.String,
        "subject": pl.String,
        "breakdown": pl.String,
        "level": pl.String,
        "is_pseudo": pl.Boolean,
        "school_year": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_data_coverage_counts_each_sources_files():
    harmonised = _harmonised_frame(_coverage(ALL | {"elevundersokelsen": 0}))
    files = pl.DataFrame({"source": ["nasjonale_prover"] * 2 + ["grunnskolepoeng", "gjennomforing"]})
    coverage = data_coverage(harmonised, CONFIG, files)
    per_source = dict(coverage.select("source", "source_files").unique().iter_rows())
    assert per_source == {
        "nasjonale_prover": 2,
        "elevundersokelsen": 0,
        "grunnskolepoeng": 1,
        "gjennomforing": 1,
    }
    assert coverage.filter(pl.col("source") == "elevundersokelsen")["missing"].all()
    assert not coverage.filter(pl.col("source") != "elevundersokelsen")["missing"].any()


def test_the_gaps_name_areas_sources_and_udirs_indicators():
    gaps = data_gaps(_coverage(ALL | {"gjennomforing": 0}))
    assert gaps.absent_sources == ("gjennomforing",) and gaps.short_sources == ()
    # Fullført is the kommuner's whole gjennomføring area (grunnskolepoeng is a learning result): both
    # owners lose it.
    assert gaps.areas == {"kommune": AREAS[:2], "fylkeskommune": ("laeringsmiljo",)}
    assert gaps.missing_areas == {"kommune": ("gjennomforing",), "fylkeskommune": ("gjennomforing",)}
    assert gaps.missing_rule_years == {}  # gjennomføring is not in Udir's rule
    assert list_note(gaps, CONFIG, "kommune") == (
        "Rangeringen av kommunene bygger bare på læringsresultater og læringsmiljø: mappen har ingen "
        "filer fra gjennomføring."
    )
    assert list_note(gaps, CONFIG, "fylkeskommune") == (
        "Rangeringen av fylkeskommunene bygger bare på læringsmiljø: mappen har ingen filer fra "
        "gjennomføring."
    )

    only_completion = data_gaps(_coverage({s: 0 for s in ALL} | {"gjennomforing": 3}))
    assert only_completion.areas == {"kommune": ("gjennomforing",), "fylkeskommune": ("gjennomforing",)}
    assert list_note(only_completion, CONFIG, "kommune").endswith(
        "Udirs regel kan ikke regnes: mappen har ingen filer fra nasjonale prøver, Elevundersøkelsen "
        "eller grunnskolepoeng."
    )

    short = data_gaps(_coverage(ALL, empty={("grunnskolepoeng", WINDOW[0])}))
    assert short.complete is False and short.short_sources == (("grunnskolepoeng", (WINDOW[0],)),)
    assert short.missing_rule_years == {"grunnskolepoeng": (WINDOW[0],)}
    assert list_note(short, CONFIG, "kommune") == (
        f"Udirs kategorier bygger ikke på Udirs fulle regel: de er uten «Grunnskolepoeng» ({WINDOW[0]}), "
        f"fordi grunnskolepoeng har ingen tall for {WINDOW[0]}. Andelen risikopoeng er regnet av de "
        "tallene som finnes."
    )
    assert missing_data_text(_coverage(ALL, empty={("grunnskolepoeng", WINDOW[0])})) == (
        f"uten tall for grunnskolepoeng {WINDOW[0]}; utvalget bygger på tallene som finnes"
    )


def test_a_source_short_of_a_year_of_the_window_still_stops_the_run(national_sample, tmp_path):
    """The national tests, and the pupil survey without one school year of the window: that looks like a
    truncated delivery, not a missing source, and stops the run; the sources without files are not
    named as problems."""
    raw = tmp_path / "raw"
    shutil.copytree(national_sample / "nasjonale_prover", raw / "nasjonale_prover")
    year = "2024-25"
    survey = sorted((national_sample / "elevundersokelsen").iterdir())
    kept = [path for path in survey if not path.name.startswith(year)]
    assert 0 < len(kept) < len(survey)
    (raw / "elevundersokelsen").mkdir()
    for path in kept:
        shutil.copy(path, raw / "elevundersokelsen" / path.name)
    run = materialise(
        tmp_path / "warehouse.duckdb", ["data_coverage"], raw_dir=str(raw), school_year=SCHOOL_YEAR
    )
    assert not run.success
    (failure,) = run.failures()
    assert failure.error == "ConfigError"
    assert f"no figures from elevundersokelsen for {year} (indicators mobbing_10" in failure.message
    assert "--allow-missing" in failure.message
    assert "grunnskolepoeng" not in failure.message and "gjennomforing" not in failure.message
