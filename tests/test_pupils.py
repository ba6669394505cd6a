"""Pupil-level data (docs/pupil_data.md): checks that name the file, figures computed by hand, the
sample's pupils against its exports, and a run on pupils."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.flow import FlowRun, materialise
from pipelines.pupils.aggregate import figures, read_pupil_folder, survey_figures
from pipelines.pupils.combine import with_pupil_figures
from pipelines.pupils.read import DATASETS, PupilDataError, check_files
from pipelines.sample.generate import SCHOOL_YEARS, generate_sample
from pipelines.settings import REFERENCE_DIR
from pipelines.tables import OBSERVATION_SCHEMA
from tests.conftest import SAMPLE_SEED, SCHOOL_YEAR

SCHOOL_A, SCHOOL_B, SCHOOL_C = "970001018", "970001026", "970001034"  # valid mod-11 numbers
OSLO, BERGEN = "0301", "4601"


def write(folder: Path, dataset: str, year: str, rows: dict[str, list[object]], name: str = "part-0") -> Path:
    path = folder / "elevdata" / dataset / f"school_year={year}" / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows)
    frame.cast(
        {c: t for c, t in DATASETS[dataset].polars_schema().items() if c in frame.columns}
    ).write_parquet(path)
    return path


def points(pupils: list[tuple[str, str, float | None]]) -> dict[str, list[object]]:
    return {
        "pupil_id": [f"p{i}" for i in range(len(pupils))],
        "organisation_number": [school for school, _, _ in pupils],
        "municipality_code": [kommune for _, kommune, _ in pupils],
        "points": [value for _, _, value in pupils],
    }


def figure(frame: pl.DataFrame, level: str, unit: str, indicator: str | None = None) -> dict[str, object]:
    rows = frame.filter((pl.col("level") == level) & (pl.col("unit_code") == unit))
    if indicator is not None:
        rows = rows.filter(pl.col("indicator") == indicator)
    (row,) = rows.to_dicts()
    return row


# --- figures computed by hand -------------------------------------------------------------------


def test_grunnskolepoeng_by_hand_at_every_level(tmp_path):
    write(
        tmp_path,
        "grunnskolepoeng",
        "2024-25",
        points(
            [
                (SCHOOL_A, OSLO, 40),
                (SCHOOL_A, OSLO, 50),
                (SCHOOL_A, OSLO, 60),
                (SCHOOL_B, OSLO, 30),
                (SCHOOL_C, BERGEN, 20),
            ]
        ),
    )
    result = read_pupil_folder(tmp_path)
    assert result.quarantine.is_empty()
    found = result.figures
    school = figure(found, "school", SCHOOL_A)
    assert (school["n"], school["value"]) == (3, 50.0)
    assert school["std_error"] == pytest.approx(10 / math.sqrt(3))  # SD 10 of 40, 50, 60
    assert figure(found, "school", SCHOOL_B)["std_error"] is None  # one pupil has no SD
    kommune = figure(found, "municipality", OSLO)
    assert (kommune["n"], kommune["value"], kommune["municipality_code"]) == (4, 45.0, OSLO)
    assert kommune["std_error"] == pytest.approx(math.sqrt(500 / 3) / 2)
    assert figure(found, "county", "46")["value"] == 20.0
    national = figure(found, "national", "I")
    assert (national["n"], national["value"], national["county_code"]) == (5, 40.0, None)
    assert found["source_file"].unique().to_list() == ["elevdata/grunnskolepoeng/school_year=2024-25"]
    assert not found["suppressed"].any() and found["source_line"].min() == 1


def test_completion_share_and_its_binomial_error_without_a_school_level(tmp_path):
    write(
        tmp_path,
        "gjennomforing",
        "2020-21",
        {
            "pupil_id": ["a", "b", "c", "d"],
            "organisation_number": [SCHOOL_A] * 4,
            "municipality_code": ["2100"] * 4,  # Svalbard: the exports place it under Troms og Finnmark
            "completed": [True, True, True, False],
        },
    )
    found = read_pupil_folder(tmp_path).figures
    kommune = figure(found, "municipality", "2100")
    assert (kommune["value"], kommune["county_code"], kommune["measure"]) == (75.0, "54", "percent")
    assert kommune["std_error"] == pytest.approx(math.sqrt(75 * 25 / 4))
    assert set(found["level"]) == {"municipality", "county", "national"}


def test_national_tests_count_participants_only_and_every_mastery_level(tmp_path):
    write(
        tmp_path,
        "nasjonale_prover",
        "2024-25",
        {
            "pupil_id": ["a", "b", "c", "d"],
            "organisation_number": [SCHOOL_A] * 4,
            "municipality_code": [OSLO] * 4,
            "grade": ["5"] * 4,
            "subject": ["lesing"] * 4,
            "status": ["deltatt", "deltatt", "deltatt", "fritatt"],
            "scale_points": [40.0, 50.0, 60.0, None],
            "mastery_level": [1, 2, 2, None],
        },
    )
    found = read_pupil_folder(tmp_path).figures.filter(pl.col("level") == "school")
    values = dict(zip(found["indicator"], found["value"], strict=True))
    assert values == pytest.approx(
        {"skalapoeng": 50.0, "mestringsniva_1": 100 / 3, "mestringsniva_2": 200 / 3, "mestringsniva_3": 0.0}
    )
    assert set(found["n"]) == {3}


def test_survey_indices_are_pupil_means_and_bullying_is_any_question_from_three(tmp_path):
    answers = [
        ("a", "motivasjon_interessert", 5.0), ("a", "motivasjon_lyst_aa_laere", 3.0),  # pupil mean 4
        ("b", "motivasjon_interessert", 2.0),  # one question answered: mean 2
        ("a", "mobbet_av_elever", 1.0), ("a", "mobbet_digitalt", 3.0),  # bullied
        ("b", "mobbet_av_elever", 2.0), ("b", "mobbet_av_voksne", 2.0),  # not bullied
        ("b", "ukjent_sporsmal", 5.0),  # not mapped: read, not used
    ]  # fmt: skip
    write(
        tmp_path,
        "elevundersokelsen",
        "2024-25",
        {
            "pupil_id": [pupil for pupil, _, _ in answers],
            "organisation_number": [SCHOOL_A] * len(answers),
            "municipality_code": [OSLO] * len(answers),
            "grade": ["7"] * len(answers),
            "question": [question for _, question, _ in answers],
            "answer": [answer for _, _, answer in answers],
        },
    )
    with duckdb.connect() as connection:
        found = survey_figures(connection, tmp_path / "elevdata" / "elevundersokelsen").pl()
    assert figure(found, "school", SCHOOL_A, "motivasjon")["value"] == 3.0  # (4 + 2) / 2, not (5+3+2)/3
    assert figure(found, "school", SCHOOL_A, "mobbing")["value"] == 50.0
    assert set(found["indicator"]) == {"motivasjon", "mobbing"}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([SCHOOL_A, SCHOOL_B, SCHOOL_C]), st.floats(10, 60, allow_nan=False)),
        min_size=2,
        max_size=40,
    )
)
def test_every_level_is_the_mean_of_its_pupils(tmp_path_factory, pupils):
    """Against numpy, for any pupils: one scan's grouping sets give each level its own pupils."""
    folder = tmp_path_factory.mktemp("pupils")
    kommune_of = {SCHOOL_A: OSLO, SCHOOL_B: OSLO, SCHOOL_C: BERGEN}
    write(folder, "grunnskolepoeng", "2024-25", points([(s, kommune_of[s], v) for s, v in pupils]))
    with duckdb.connect() as connection:
        found = figures(connection, folder / "elevdata" / "grunnskolepoeng").pl()
    groups = {("national", "I"): [v for _, v in pupils]}
    for school, value in pupils:
        groups.setdefault(("school", school), []).append(value)
        groups.setdefault(("municipality", kommune_of[school]), []).append(value)
    assert found.height == len(groups) + len({kommune_of[s][:2] for s, _ in pupils})
    for (level, unit), values in groups.items():
        row = figure(found, level, unit)
        assert row["n"] == len(values)
        assert row["value"] == pytest.approx(np.mean(values))
        if len(values) > 1:
            assert row["std_error"] == pytest.approx(
                np.std(values, ddof=1) / math.sqrt(len(values)), abs=1e-9
            )


def test_pupil_figures_replace_the_exports_figures_they_give_and_no_others(registers):
    def observation(year: str, indicator: str, source_file: str, level: str = "municipality") -> dict:
        return {
            "source": "elevundersokelsen", "school_year": year, "level": level, "unit_code": OSLO,
            "unit_name": None, "county_code": "03", "municipality_code": OSLO, "indicator": indicator,
            "grade": "7", "subject": None, "breakdown": "", "measure": "index", "value": 4.0,
            "std_error": None, "n": 20, "suppressed": False, "break_note": None,
            "source_file": source_file, "source_line": 5, "source_column": "x",
        }  # fmt: skip

    exports = pl.DataFrame(
        [
            observation("2024-25", "trivsel", "export.csv") | {"unit_name": "Oslo"},
            observation("2024-25", "trivsel", "export.csv", level="school") | {"unit_code": SCHOOL_A},
            observation("2024-25", "trygt_miljo", "export.csv"),  # no questions for it: the export stays
            observation("2023-24", "trivsel", "export.csv"),  # a year without pupil data
        ],
        schema=OBSERVATION_SCHEMA,
    )
    pupils = pl.DataFrame(
        [observation("2024-25", "trivsel", "elevdata/elevundersokelsen/school_year=2024-25")],
        schema=OBSERVATION_SCHEMA,
    )
    combined = with_pupil_figures(exports, pupils, registers)
    assert sorted(combined.select("school_year", "indicator", "level", "source_file").rows()) == [
        ("2023-24", "trivsel", "municipality", "export.csv"),
        ("2024-25", "trivsel", "municipality", "elevdata/elevundersokelsen/school_year=2024-25"),
        ("2024-25", "trygt_miljo", "municipality", "export.csv"),
    ]
    assert combined.filter(pl.col("source_file").str.starts_with("elevdata"))["unit_name"].item() == "Oslo"


# --- bad files and bad rows ---------------------------------------------------------------------


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 40.0)]))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(PupilDataError, match=rf"{path}: not a readable parquet file"):
        read_pupil_folder(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.pop("points"), "column 'points' is missing"),
        (lambda rows: rows.update(points=["40"]), "column 'points' is VARCHAR; expected number"),
        (lambda rows: rows.update(school_year=["2024-25"]), r"unexpected column\(s\) school_year"),
    ],
)
def test_wrong_columns_are_errors_naming_file_and_column(tmp_path, change, message):
    rows = points([(SCHOOL_A, OSLO, 40.0)])
    change(rows)
    path = tmp_path / "elevdata/grunnskolepoeng/school_year=2024-25/part-0.parquet"
    path.parent.mkdir(parents=True)
    pl.DataFrame(rows).write_parquet(path)
    with pytest.raises(PupilDataError, match=rf"{path}: {message}"):
        read_pupil_folder(tmp_path)


def test_files_outside_a_school_year_folder_and_unknown_datasets_are_errors(tmp_path):
    path = write(tmp_path, "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 40.0)]))
    wrong = path.parent.with_name("school_year=2024-26")
    path.parent.rename(wrong)
    with duckdb.connect() as connection, pytest.raises(PupilDataError, match="is not a school year"):
        check_files(connection, wrong.parent)
    (tmp_path / "elevdata" / "karakterer").mkdir()
    with pytest.raises(PupilDataError, match="karakterer: not a pupil-level dataset"):
        read_pupil_folder(tmp_path)


def test_bad_rows_are_quarantined_with_file_row_column_and_reason(tmp_path):
    rows = points(
        [
            (SCHOOL_A, OSLO, 40.0),
            (SCHOOL_A, OSLO, 75.0),
            ("970001019", OSLO, 50.0),
            (SCHOOL_A, "301", 45.0),
            (SCHOOL_A, OSLO, None),
            (SCHOOL_A, OSLO, 44.0),
        ]
    )
    rows["pupil_id"][5] = rows["pupil_id"][0]  # the first pupil twice
    path = write(tmp_path, "grunnskolepoeng", "2024-25", rows)
    result = read_pupil_folder(tmp_path)
    quarantine = result.quarantine.select(
        "source_file", "source_line", "source_column", "raw_value", "reason"
    )
    assert quarantine["source_file"].unique().to_list() == [path.relative_to(tmp_path).as_posix()]
    assert quarantine.drop("source_file").rows() == [
        (0, "pupil_id", "p0", "the pupil has 2 rows for the same school year"),
        (1, "points", "75.0", "expected points from 10 to 60"),
        (2, "organisation_number", "970001019", "expected a nine-digit organisation number with a valid "
         "mod-11 check digit"),
        (3, "municipality_code", "301", "expected the four-digit kommune number of the school year"),
        (4, "points", None, "expected points from 10 to 60"),
        (5, "pupil_id", "p0", "the pupil has 2 rows for the same school year"),
    ]  # fmt: skip
    assert result.figures.is_empty()  # every row was bad: nothing is guessed


def test_a_pupil_who_did_not_take_the_test_has_no_score(tmp_path):
    write(
        tmp_path,
        "nasjonale_prover",
        "2024-25",
        {
            "pupil_id": ["a", "b"],
            "organisation_number": [SCHOOL_A] * 2,
            "municipality_code": [OSLO] * 2,
            "grade": ["8", "5"],
            "subject": ["lesing", "lesing"],
            "status": ["fritatt", "deltatt"],
            "scale_points": [50.0, 50.0],
            "mastery_level": [None, 4],
        },
    )
    reasons = read_pupil_folder(tmp_path).quarantine["reason"].to_list()
    assert reasons == [
        "scale points or a mastery level for a pupil who did not take the test",
        "a pupil who took the test needs a mastery level from 1 to 3 (5th grade) or 5",
    ]


# --- the sample's pupils and a run on them ------------------------------------------------------


@pytest.fixture(scope="module")
def pupil_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' national sample with the pupils of the selection's three school years."""
    folder = tmp_path_factory.mktemp("pupil-sample")
    generate_sample(SAMPLE_SEED, folder, REFERENCE_DIR, pupil_years=SCHOOL_YEARS[-3:])
    return folder


@pytest.fixture(scope="module")
def pupil_run(pupil_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> FlowRun:
    folder = tmp_path_factory.mktemp("pupil-run")
    return materialise(
        folder / "warehouse.duckdb",
        ["published_figures"],
        raise_on_error=True,
        raw_dir=str(pupil_sample),
        school_year=SCHOOL_YEAR,
        reports_dir=str(folder / "reports"),
        register_path=str(folder / "register.duckdb"),
    )


def test_the_exports_are_the_same_with_pupils(pupil_sample, national_sample):
    exports = sorted(p.relative_to(national_sample) for p in national_sample.rglob("*") if p.is_file())
    assert exports == sorted(
        p.relative_to(pupil_sample)
        for p in pupil_sample.rglob("*")
        if p.is_file() and "elevdata" not in p.parts
    )
    assert all((pupil_sample / p).read_bytes() == (national_sample / p).read_bytes() for p in exports)


KEY = ["source", "school_year", "level", "unit_code", "indicator", "grade", "subject", "breakdown"]


def test_pupil_figures_equal_every_published_export_figure(pupil_run, national_run):
    """Wherever the exports are not suppressed, for every source and level they have: the same pupil
    count, the value to the export's rounding, and for scale points Udir's Usikkerhet (1.96 standard
    errors, one decimal)."""
    years = SCHOOL_YEARS[-3:]
    exports = national_run.table("parsed_observations").filter(
        pl.col("school_year").is_in(years) & ~pl.col("suppressed") & pl.col("value").is_not_null()
    )
    pupils = pupil_run.table("pupil_figures")
    both = exports.join(pupils, on=KEY, how="left", suffix="_pupils", nulls_equal=True)
    assert both.filter(pl.col("value_pupils").is_null()).is_empty()
    levels = both.group_by("source").agg(pl.col("level").unique().sort())
    assert dict(levels.iter_rows()) == {
        "elevundersokelsen": ["county", "municipality", "national", "school"],
        "gjennomforing": ["county", "municipality", "national"],
        "grunnskolepoeng": ["county", "municipality", "national", "school"],
        "nasjonale_prover": ["county", "municipality", "national", "school"],
    }
    decimals = pl.when(pl.col("measure") == "scale_points").then(0).otherwise(1)
    off = both.filter(
        ((pl.col("value") - pl.col("value_pupils")).abs() > 0.5 * 10.0 ** (-decimals) + 1e-9)
        | (pl.col("n") != pl.col("n_pupils"))
        | ((pl.col("std_error") - pl.col("std_error_pupils")).abs() * 1.96 > 0.05 + 1e-9)
    )
    assert off.is_empty(), off.head()
    assert both.height > 100_000


def test_a_run_on_pupils_scores_every_kommune_and_publishes_nothing_small(pupil_run, national_run):
    observations = pupil_run.table("observations")
    window = SCHOOL_YEARS[-3:]
    # The pupil figures stand in for the exports in the years they cover, and only there.
    pupil_years = observations.filter(pl.col("source_file").str.starts_with("elevdata/"))["school_year"]
    assert set(pupil_years) == set(window)
    assert not observations.filter(
        pl.col("school_year").is_in(window) & ~pl.col("source_file").str.starts_with("elevdata/")
    ).height
    scored = pupil_run.table("indicator_values").filter(pl.col("value").is_not_null())
    exports_only = national_run.table("indicator_values").filter(pl.col("value").is_not_null())
    kommuner = set(pupil_run.table("indicator_values")["unit_code"])
    assert set(scored["unit_code"]) == kommuner
    gained = kommuner - set(exports_only["unit_code"])
    assert len(gained) >= 5  # the small kommuner whose every exported figure is suppressed
    published = pupil_run.table("published_figures")
    small = published.filter(pl.col("n").is_not_null() & (pl.col("n") < 10))
    assert small.is_empty()
    hidden = published.filter(pl.col("unit_code").is_in(sorted(gained)) & pl.col("level").eq("municipality"))
    assert hidden["hidden"].all() and hidden["value"].is_null().all()


def test_a_new_pupil_file_is_a_change_of_the_raw_folder(tmp_path):
    from assets.automation import raw_folder_fingerprint

    before = raw_folder_fingerprint(tmp_path)
    write(tmp_path, "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 40.0)]))
    assert raw_folder_fingerprint(tmp_path) != before


def test_a_bad_pupil_file_fails_the_run_as_bad_input_naming_the_file(tmp_path):
    path = write(tmp_path / "raw", "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 40.0)]))
    path.write_bytes(b"PAR1 and then nothing")
    run = materialise(
        tmp_path / "warehouse.duckdb",
        ["pupil_figures"],
        raw_dir=str(tmp_path / "raw"),
        school_year=SCHOOL_YEAR,
        reports_dir=str(tmp_path / "reports"),
        register_path=str(tmp_path / "register.duckdb"),
    )
    (failure,) = run.failures()
    assert failure.bad_input and failure.message.startswith(f"{path}: not a readable parquet file")


def test_sample_pupils_flag_asks_for_every_school_year(tmp_path, monkeypatch):
    import pipelines.sample.generate
    from pipelines.cli import main

    asked: list[object] = []
    monkeypatch.setattr(
        pipelines.sample.generate, "generate_sample", lambda *args: asked.append(args[-1]) or {}
    )
    assert main(["sample", "--out", str(tmp_path)]) == 0
    assert main(["sample", "--pupils", "--out", str(tmp_path)]) == 0
    assert asked == [(), SCHOOL_YEARS]


def test_provenance_names_every_pupil_file_beside_the_exports(tmp_path):
    """A changed pupil-level file must change what the run says produced it (and so the run id)."""
    import hashlib
    import shutil

    from pipelines.provenance import input_files, provenance_document, provenance_id
    from tests.conftest import NP5, run_sample

    raw = tmp_path / "raw"
    path = write(raw, "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 40.0), (SCHOOL_B, OSLO, 38.0)]))
    shutil.copy(NP5, raw / NP5.name)  # a real export beside them
    run = run_sample(tmp_path, raw, "provenance")
    expected = [
        (name, hashlib.sha256(file.read_bytes()).hexdigest(), file.stat().st_size)
        for name, file in [
            (NP5.name, raw / NP5.name),
            ("elevdata/grunnskolepoeng/school_year=2024-25/part-0.parquet", path),
        ]
    ]
    assert run.table("provenance").select("source_file", "sha256", "bytes").rows() == expected
    inputs = input_files(run.table("raw_files"), run.table("pupil_files"))
    before = provenance_id(provenance_document(inputs, {}))
    write(raw, "grunnskolepoeng", "2024-25", points([(SCHOOL_A, OSLO, 41.0), (SCHOOL_B, OSLO, 38.0)]))
    changed = run_sample(tmp_path / "again", raw, "pupil_files")
    inputs = input_files(run.table("raw_files"), changed.table("pupil_files"))
    assert provenance_id(provenance_document(inputs, {})) != before


# --- the survey's one-scan checks ----------------------------------------------------------------


def survey(rows: list[tuple[str, str, str, str, float | None]]) -> dict[str, list[object]]:
    """Survey rows (pupil, school, grade, question, answer), all in Oslo."""
    return {
        "pupil_id": [pupil for pupil, _, _, _, _ in rows],
        "organisation_number": [school for _, school, _, _, _ in rows],
        "municipality_code": [OSLO] * len(rows),
        "grade": [grade for _, _, grade, _, _ in rows],
        "question": [question for _, _, _, question, _ in rows],
        "answer": [answer for _, _, _, _, answer in rows],
    }


def quarantined(result) -> list[tuple[object, ...]]:
    return result.quarantine.select("source_line", "source_column", "raw_value", "reason").rows()


def test_a_broken_answer_to_a_used_question_is_quarantined_and_left_out(tmp_path):
    path = write(
        tmp_path,
        "elevundersokelsen",
        "2024-25",
        survey(
            [
                ("a", SCHOOL_A, "7", "trivsel_skolen", 4.0),
                ("a", SCHOOL_A, "7", "trivsel_klassen", 7.0),  # out of range: set aside
                ("b", SCHOOL_A, "7", "trivsel_skolen", 2.0),
                ("b", SCHOOL_A, "7", "trivsel_klassen", None),  # missing: set aside
                ("c", "970001019", "7", "trivsel_skolen", 5.0),  # bad check digit: the pupil's row out
                ("d", SCHOOL_A, "11", "trivsel_skolen", 5.0),  # no such grade
            ]
        ),
    )
    result = read_pupil_folder(tmp_path)
    assert result.quarantine["source_file"].unique().to_list() == [path.relative_to(tmp_path).as_posix()]
    assert quarantined(result) == [
        (1, "answer", "7.0", "expected an answer from 1 to 5"),
        (3, "answer", None, "expected an answer from 1 to 5"),
        (4, "organisation_number", "970001019", "expected a nine-digit organisation number with a valid "
         "mod-11 check digit"),
        (5, "grade", "11", "expected grade 1–10 or vg1–vg3"),
    ]  # fmt: skip
    school = figure(result.figures, "school", SCHOOL_A, "trivsel")
    assert (school["n"], school["value"]) == (2, 3.0)  # a: 4, b: 2; the broken answers count nowhere
    assert school["std_error"] == pytest.approx(math.sqrt(2) / math.sqrt(2))  # SD of 4 and 2 is √2
    assert set(result.figures["unit_code"]) == {SCHOOL_A, OSLO, "03", "I"}


def test_a_repeated_answer_sets_aside_every_copy_and_keeps_the_pupils_other_answers(tmp_path):
    write(
        tmp_path,
        "elevundersokelsen",
        "2024-25",
        survey(
            [
                ("a", SCHOOL_A, "7", "trivsel_skolen", 5.0),
                ("a", SCHOOL_A, "7", "trivsel_klassen", 3.0),
                ("a", SCHOOL_A, "7", "trivsel_skolen", 1.0),  # a second answer to the same question
                ("b", SCHOOL_A, "7", "trivsel_skolen", 2.0),
                ("c", SCHOOL_A, "7", "mobbet_digitalt", 4.0),
                ("c", SCHOOL_B, "7", "mobbet_digitalt", 1.0),  # the same pupil and question elsewhere
            ]
        ),
    )
    result = read_pupil_folder(tmp_path)
    copies = "the pupil has 2 rows for the same school year and question"
    assert quarantined(result) == [
        (0, "pupil_id", "a", copies),
        (2, "pupil_id", "a", copies),
        (4, "pupil_id", "c", copies),
        (5, "pupil_id", "c", copies),
    ]
    trivsel = figure(result.figures, "school", SCHOOL_A, "trivsel")
    assert (trivsel["n"], trivsel["value"]) == (2, 2.5)  # a's other answer (3) and b's (2)
    assert result.figures.filter(pl.col("indicator") == "mobbing").is_empty()


def test_a_pupil_in_two_schools_for_one_index_is_counted_in_each_as_before(tmp_path):
    """Not a repetition (two questions), but the one scan cannot tell: the exact path gives the figures."""
    write(
        tmp_path,
        "elevundersokelsen",
        "2024-25",
        survey([("a", SCHOOL_A, "7", "trivsel_skolen", 5.0), ("a", SCHOOL_B, "7", "trivsel_klassen", 3.0)]),
    )
    result = read_pupil_folder(tmp_path)
    assert result.quarantine.is_empty()
    assert figure(result.figures, "school", SCHOOL_A, "trivsel")["value"] == 5.0
    assert figure(result.figures, "school", SCHOOL_B, "trivsel")["value"] == 3.0
    assert figure(result.figures, "municipality", OSLO, "trivsel")["n"] == 2


def test_rows_of_questions_the_indicators_do_not_use_are_not_checked_row_by_row(tmp_path):
    write(
        tmp_path,
        "elevundersokelsen",
        "2024-25",
        survey(
            [
                ("a", SCHOOL_A, "7", "trivsel_skolen", 4.0),
                ("a", SCHOOL_A, "7", "sporsmal_099", 9.0),  # out of range, but not used
                ("a", SCHOOL_A, "7", "sporsmal_099", 1.0),  # repeated, but not used
                ("", "123", "x", "sporsmal_100", 2.0),
                ("b", SCHOOL_A, "7", None, 3.0),  # no question: not used either
            ]
        ),
    )
    result = read_pupil_folder(tmp_path)
    assert result.quarantine.is_empty()
    assert result.figures["n"].unique().to_list() == [1]
    doc = (Path(__file__).resolve().parent.parent / "docs" / "pupil_data.md").read_text()
    assert "are not checked row by row" in doc
    # A file's columns are still checked, whatever its questions.
    path = tmp_path / "elevdata/elevundersokelsen/school_year=2024-25/part-1.parquet"
    pl.DataFrame(survey([("a", SCHOOL_A, "7", "sporsmal_099", 1.0)])).with_columns(
        pl.col("answer").cast(pl.String)
    ).write_parquet(path)
    with pytest.raises(PupilDataError, match=rf"{path}: column 'answer' is VARCHAR; expected number"):
        read_pupil_folder(tmp_path)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", " "]),
            st.sampled_from([SCHOOL_A, SCHOOL_B, "970001019"]),
            st.sampled_from(["5", "7", "vg1", "0"]),
            st.sampled_from(["trivsel_skolen", "trivsel_klassen", "mobbet_av_elever", "sporsmal_050"]),
            st.one_of(st.none(), st.sampled_from([1.0, 2.5, 3.0, 5.0, 6.0])),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_the_one_scan_gives_what_the_row_by_row_checks_give(tmp_path_factory, rows):
    """For any rows, broken or repeated or not: the same figures and quarantine as checking each row
    first (the path the product takes when the scan finds repetitions)."""
    from pipelines.pupils import aggregate
    from pipelines.pupils.read import checked, quarantine_frame

    folder = tmp_path_factory.mktemp("survey")
    write(folder, "elevundersokelsen", "2024-25", survey(rows))
    dataset = folder / "elevdata" / "elevundersokelsen"
    with duckdb.connect() as connection:
        fast = aggregate.computed(connection, dataset)
        fast_figures = fast.figures.pl()
        fast_quarantine = quarantine_frame(fast.broken, "elevundersokelsen", folder)
        split = checked(connection, dataset)
        exact_figures = aggregate._figures(connection, aggregate._survey_values(split.rows), dataset).pl()
        exact_quarantine = quarantine_frame(split.broken, "elevundersokelsen", folder)
    assert fast_quarantine.equals(exact_quarantine)
    assert fast_figures.drop("value", "std_error").equals(exact_figures.drop("value", "std_error"))
    for column in ("value", "std_error"):
        assert fast_figures[column].is_null().to_list() == exact_figures[column].is_null().to_list()
        assert np.allclose(
            fast_figures[column].fill_null(0).to_numpy(), exact_figures[column].fill_null(0).to_numpy()
        )


def test_the_pupil_connection_spills_to_a_folder_of_its_own_within_its_memory_limit():
    from pipelines.pupils.read import MEMORY_LIMIT, pupil_connection

    with pupil_connection() as connection:
        ((limit, folder),) = connection.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()
        assert Path(folder).is_dir() and Path(folder).name.startswith("utvalg-duckdb-")
    assert MEMORY_LIMIT == "3GB" and limit == "2.7 GiB"  # DuckDB shows 3 GB (10⁹ bytes) in GiB
    assert not Path(folder).exists()
