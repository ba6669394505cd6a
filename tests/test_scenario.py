"""The generator's scenarios: strict files, what each knob does to the exports and to the truth, and
the default calibrated to the real national tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.cli import EXIT_BAD_INPUT, main
from pipelines.ingest.collect import parse_folder
from pipelines.ingest.files import find_raw_files
from pipelines.ingest.portal_format import read_export
from pipelines.sample.calibration import carry_over, carry_over_by_pair, size_band_correlations
from pipelines.sample.generate import NationalSample, generate_sample
from pipelines.sample.population import school_effects
from pipelines.sample.scenario import (
    SCENARIO_FILE,
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_toml,
)
from pipelines.settings import DATA_DIR, REFERENCE_DIR
from tests.conftest import SAMPLE_SEED

SCENARIOS = sorted((DATA_DIR / "scenarios").glob("*.toml"))
NP5 = "nasjonale_prover/2024-25_20260224-1157_Nasjonale_proever_5._trinn.csv"


def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_scenarios_load_and_standard_is_the_default():
    assert [p.stem for p in SCENARIOS] == ["med_effekt", "standard", "trender", "tunge_haler", "ulik_vekt"]
    loaded = {p.stem: load_scenario(p) for p in SCENARIOS}
    assert loaded["standard"] == Scenario()
    assert {s.name for s in loaded.values()} == set(loaded)
    assert loaded["tunge_haler"].school_effects == "heavy_tailed"
    assert loaded["trender"].kommune_trend_sd > 0
    assert loaded["standard"].support_effect == 0
    assert loaded["med_effekt"] == Scenario(name="med_effekt", support_effect=2.0)
    ulik = loaded["ulik_vekt"]
    assert (ulik.estimand, ulik.suppression_minimum) == ("kommune_only", 15)
    assert ulik.truth_area_weights == {"laeringsresultater": 2.0, "laeringsmiljo": 0.5, "gjennomforing": 1.0}
    for path in SCENARIOS:  # each says what it stresses
        assert "stress" in path.read_text(encoding="utf-8").lower(), path.name


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_recorded_scenario_reads_back_to_the_same_knobs(path, tmp_path):
    scenario = load_scenario(path)
    again = load_scenario(write(tmp_path, scenario_toml(scenario, 7), path.name))
    assert again == scenario


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kommune_sdd = 1.0", "unknown key 'kommune_sdd'"),
        ("name = 'other'", "unknown key 'name'"),
        ('kommune_sd = "1.2"', "kommune_sd must be a non-negative number"),
        ("kommune_sd = true", "kommune_sd must be a non-negative number"),
        ("school_sd = -1", "school_sd must be a non-negative number"),
        ("kommune_year_sd = nan", "kommune_year_sd must be a non-negative number"),
        ("suppression_minimum = 10.5", "suppression_minimum must be a whole number"),
        ("suppression_minimum = 0", "suppression_minimum must be a whole number"),
        ('school_effects = "cauchy"', 'school_effects must be "normal" or "heavy_tailed"'),
        ('estimand = "schools"', "estimand must be"),
        ("truth_area_weights = 1", "truth_area_weights must be a table"),
        ("[truth_area_weights]\nlaering = 1", "unknown key truth_area_weights.laering"),
        ('[truth_area_weights]\nlaeringsmiljo = "1"', "truth_area_weights.laeringsmiljo must be"),
        (
            "[truth_area_weights]\nlaeringsresultater = 0\nlaeringsmiljo = 0\ngjennomforing = 0",
            "all zero",
        ),
        ("pupil_subject_correlation = 1.5", "pupil_subject_correlation must be at most 1"),
        ("school_sd = 9.0", "leave less than a pupil SD of 5"),
        ("kommune_sd = ", "not valid TOML"),
    ],
)
def test_a_bad_scenario_file_is_refused_naming_the_file_and_the_key(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(path) in str(raised.value) and named in str(raised.value)


def test_the_cli_refuses_a_bad_or_missing_scenario_with_exit_code_1(tmp_path, capsys):
    bad = write(tmp_path, "school_sd = 'high'")
    assert main(["sample", "--out", str(tmp_path / "out"), "--scenario", str(bad)]) == EXIT_BAD_INPUT
    assert f"{bad}: school_sd must be a non-negative number" in capsys.readouterr().err
    missing = tmp_path / "nowhere.toml"
    assert main(["sample", "--out", str(tmp_path / "out"), "--scenario", str(missing)]) == EXIT_BAD_INPUT
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_heavy_tailed_school_effects_have_unit_variance_and_heavy_tails():
    rng = np.random.Generator(np.random.PCG64(1))
    normal, heavy = school_effects(rng, 200_000, "normal"), school_effects(rng, 200_000, "heavy_tailed")
    assert np.var(normal) == pytest.approx(1, abs=0.02)
    assert np.var(heavy) == pytest.approx(1, abs=0.1)
    # Beyond 4 SD: about 6 in 100 000 for a normal, about 0.2 % for t(3)/√3.
    assert (np.abs(normal) > 4).mean() < 2e-4 < 1e-3 < (np.abs(heavy) > 4).mean()


def standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


@pytest.mark.parametrize("estimand", ["kommune_and_schools", "kommune_only"])
def test_the_truth_by_hand(estimand):
    """The truth recomputed from the population by a second route (polars, not the generator's)."""
    scenario = Scenario(
        estimand=estimand,
        kommune_trend_sd=0.3,
        truth_area_weights={"laeringsresultater": 2.0, "laeringsmiljo": 0.0, "gjennomforing": 1.0},
    )
    sample = NationalSample(5, REFERENCE_DIR, scenario)
    truth = sample.truth()
    kommuner = sample.population.kommuner.with_row_index("k").filter(pl.col("code") != "2100")
    assert truth["municipality_code"].to_list() == sorted(kommuner["code"].to_list())
    # Private schools too: the kommune's figures are its pupils' in every school, whoever owns it.
    schools = sample.population.schools.filter(pl.col("kind") == "grunnskole")
    # Completion is measured on 10th graders: a barneskole (no grades 8–10) carries no completion effect.
    cohorts = {"learning": pl.col("size_5") + pl.col("size_8"), "completion": pl.col("size_8")}
    for area, domain in (("laeringsresultater", "learning"), ("gjennomforing", "completion")):
        # The trend is centred on 2024-25, the middle of the truth window: it averages out there.
        quality = kommuner.select("code", (pl.col(f"latent_{domain}") * scenario.kommune_sd).alias("q"))
        if estimand == "kommune_and_schools":
            weight = cohorts[domain]
            school_part = schools.group_by("code").agg(
                ((pl.col(f"effect_{domain}") * weight).sum() / weight.sum() * scenario.school_sd).alias("s")
            )
            quality = quality.join(school_part, on="code", how="left").select(
                "code", pl.col("q") + pl.col("s").fill_nan(None).fill_null(0)
            )
        expected = standardised(quality.sort("code")["q"].to_numpy())
        np.testing.assert_allclose(truth[f"quality_{area}"].to_numpy(), expected, atol=1e-4)
    risk = -(2 * truth["quality_laeringsresultater"] + truth["quality_gjennomforing"]) / 3
    np.testing.assert_allclose(truth["true_risk"].to_numpy(), risk.to_numpy(), atol=2e-4)
    # With schools in the estimand, a one-school kommune's quality is not its latent alone.
    latent = standardised(truth["latent_learning"].to_numpy())
    gap = np.abs(truth["quality_laeringsresultater"].to_numpy() - latent).max()
    assert (gap > 0.5) if estimand == "kommune_and_schools" else (gap < 1e-3)


def test_the_truth_counts_the_school_effects_the_figures_carry_and_only_those():
    """A barneskole's completion effect acts on no measured pupil and must not move the truth; a private
    school's effects are in its kommune's figures and must."""
    sample = NationalSample(5, REFERENCE_DIR, Scenario())
    schools = sample.population.schools.with_row_index("i")
    grunnskoler = schools.filter(pl.col("kind") == "grunnskole")
    barneskole = grunnskoler.filter((pl.col("size_8") == 0) & (pl.col("size_5") > 0)).row(0, named=True)
    # The private school that holds the largest share of its kommune's 10th graders.
    private = (
        grunnskoler.with_columns((pl.col("size_8") / pl.col("size_8").sum().over("code")).alias("share"))
        .filter(pl.col("private") & (pl.col("size_8") > 0))
        .sort("share", "i", descending=[True, False])
        .row(0, named=True)
    )
    before = sample.truth()
    sample.effect["completion"] = sample.effect["completion"].copy()
    sample.effect["completion"][barneskole["i"]] += 50.0
    assert sample.truth().equals(before)
    sample.effect["completion"][private["i"]] -= 50.0
    after = sample.truth().join(before, on="municipality_code", suffix="_before")
    # Standardising moves every kommune a little; the private school's kommune falls far.
    weakest = after.sort(pl.col("quality_gjennomforing") - pl.col("quality_gjennomforing_before")).row(
        0, named=True
    )
    assert weakest["municipality_code"] == private["code"]
    assert weakest["quality_gjennomforing"] < weakest["quality_gjennomforing_before"] - 0.5


def test_a_trend_moves_the_truth_window_and_not_the_latent():
    sample = NationalSample(5, REFERENCE_DIR, Scenario(kommune_trend_sd=0.5))
    early, late = (sample.kommune_quality("learning", y) for y in ("2015-16", "2025-26"))
    centre = sample.kommune_quality("learning", "2024-25")
    np.testing.assert_allclose(centre, 1.2 * sample.latent["learning"])
    np.testing.assert_allclose(late - early, 10 * sample.trend["learning"])
    assert np.std(sample.trend["learning"]) == pytest.approx(0.5, rel=0.15)


def shown_counts(folder: Path) -> pl.Series:
    export = read_export(folder / NP5)
    counts = export.cells.filter(pl.col("measure") == "Antall elever deltatt")
    return counts.filter(~pl.col("suppressed"))["value"].drop_nulls()


def test_a_scenario_changes_suppression_and_is_recorded_where_the_ingest_does_not_look(
    tmp_path, national_sample
):
    scenario = load_scenario(DATA_DIR / "scenarios" / "ulik_vekt.toml")
    summary = generate_sample(3, tmp_path, REFERENCE_DIR, scenario)
    assert summary["scenario"] == "ulik_vekt"
    assert load_scenario(tmp_path / SCENARIO_FILE) == dataclasses.replace(scenario, name="scenario")
    assert load_scenario(national_sample / SCENARIO_FILE) == dataclasses.replace(Scenario(), name="scenario")
    raw = [p.relative_to(tmp_path).as_posix() for p in find_raw_files(tmp_path)]
    assert SCENARIO_FILE not in raw and "truth.csv" not in raw and len(raw) == 60
    # Udir's usual threshold shows units of 10–14 pupils; this scenario's hides them.
    standard, strict = shown_counts(national_sample), shown_counts(tmp_path)
    assert standard.min() == 10 and ((standard >= 10) & (standard < 15)).sum() > 20
    assert strict.min() >= 15


def test_usikkerhet_is_written_as_udir_writes_it(national_sample):
    """Udir's Usikkerhet is the half-width of a 95 % interval: Usikkerhet·√n ≈ 1.96 × the pupil SD."""
    export = read_export(national_sample / NP5)
    cells = export.cells.join(export.rows.select("source_line", "EnhetNivaa"), on="source_line").filter(
        (pl.col("EnhetNivaa") == "4") & ~pl.col("suppressed")
    )
    wide = (
        cells.with_columns(pl.col("dimensions").list.join("|"))
        .pivot("measure", index=["source_line", "dimensions"], values="value")
        .drop_nulls()
    )
    ratio = (wide["Usikkerhet"] * wide["Antall elever deltatt"].sqrt()).median() / Scenario().pupil_sd
    assert ratio == pytest.approx(1.96, abs=0.05)


def observations_with_standard_errors(observations: pl.DataFrame) -> pl.DataFrame:
    """The parsed figures with ``std_error`` a standard error. Until the parser divides Udir's
    Usikkerhet by 1.96 (issue 11, another branch) it reads the half-width; the school rows tell which."""
    schools = observations.filter(
        (pl.col("source") == "nasjonale_prover")
        & (pl.col("level") == "school")
        & (pl.col("indicator") == "skalapoeng")
    ).drop_nulls(["std_error", "n"])
    ratio = (schools["std_error"] * schools["n"].sqrt()).median() / Scenario().pupil_sd  # type: ignore[operator]
    factor = 1.96 if ratio == pytest.approx(1.96, abs=0.05) else 1.0
    assert ratio == pytest.approx(factor, abs=0.05)
    return observations.with_columns(pl.col("std_error") / factor)


def test_the_default_scenario_persists_as_the_real_national_tests_do(national_sample, registers):
    """Real 2022-23 to 2025-26: carry-over 0.54, four-test-mean correlation 0.45 (under 30 pupils per
    grade) and 0.79 (150 or more). Measured on seeds 2026 and 1–5: carry-over 0.54–0.58 (mean 0.56);
    under 30: 0.36–0.62 (0.47); 150 or more: 0.68–0.79 (0.74). One seed is noisy, so the bands get a
    wide tolerance and the carry-over a tight one; the old generator gave 0.82, 0.58 and 0.92."""
    parsed = parse_folder(national_sample / "nasjonale_prover", registers).observations
    observations = observations_with_standard_errors(parsed)
    assert carry_over_by_pair(observations).height == 12  # 4 tests × 3 pairs of years
    assert carry_over(observations) == pytest.approx(0.54, abs=0.04)
    bands = dict(size_band_correlations(observations).select("band", "correlation").iter_rows())
    assert bands["under 30"] == pytest.approx(0.45, abs=0.15)
    assert bands["150 or more"] == pytest.approx(0.79, abs=0.08)
    assert bands["under 30"] < bands["30-149"] < bands["150 or more"]
    assert SAMPLE_SEED == 2026


def frame(rows: list[tuple[str, str, str, str, float, float, int]], **overrides: object) -> pl.DataFrame:
    """Parsed-observation rows: year, kommune, grade, subject, value, std_error, n."""
    base = {
        "source": "nasjonale_prover",
        "level": "municipality",
        "indicator": "skalapoeng",
        "breakdown": None,
        "suppressed": False,
    }
    return pl.DataFrame(
        [
            {**base, **overrides, "school_year": y, "unit_code": k, "grade": g, "subject": s}
            | {"value": v, "std_error": e, "n": n}
            for y, k, g, s, v, e, n in rows
        ]
    )


def test_carry_over_by_hand():
    # Three kommuner, one test: values 48, 50, 55 then 49, 50, 53; se 1 each.
    rows = [
        ("2022-23", "0301", "5", "lesing", 48.0, 1.0, 100),
        ("2022-23", "1103", "5", "lesing", 50.0, 1.0, 100),
        ("2022-23", "4601", "5", "lesing", 55.0, 1.0, 100),
        ("2023-24", "0301", "5", "lesing", 49.0, 1.0, 100),
        ("2023-24", "1103", "5", "lesing", 50.0, 1.0, 100),
        ("2023-24", "4601", "5", "lesing", 53.0, 1.0, 100),
    ]
    # var(48, 50, 55) = 13; cov with (49, 50, 53) = (−3·−1.667 + −1·−0.667 + 4·2.333)/2 = 7.5;
    # minus the sampling variance 1: 7.5 / 12 = 0.625.
    assert carry_over(frame(rows)) == pytest.approx(7.5 / 12)
    # What is not a kommune's reading or numeracy scale points in 5th or 8th grade is left out.
    noise = [
        ("2023-24", "0301", "9", "lesing", 20.0, 1.0, 100),
        ("2023-24", "0301", "5", "engelsk", 20.0, 1.0, 100),
    ]
    assert carry_over(pl.concat([frame(rows), frame(noise)])) == pytest.approx(7.5 / 12)
    suppressed = frame([("2023-24", "1103", "5", "lesing", 90.0, 1.0, 100)], suppressed=True)
    schools = frame([("2023-24", "0301", "5", "lesing", 90.0, 1.0, 100)], level="school")
    assert carry_over(pl.concat([frame(rows[:4] + rows[5:]), suppressed, schools])) == pytest.approx(
        (((48 - 51.5) * (49 - 51) + (55 - 51.5) * (53 - 51)) / 1) / ((3.5**2 * 2) - 1)
    )
    # Years that do not follow each other are not a pair.
    apart = [(y.replace("2023-24", "2024-25"), *rest) for y, *rest in rows]
    with pytest.raises(ValueError, match="two consecutive school years"):
        carry_over(frame(apart))  # type: ignore[arg-type]


def test_size_bands_by_hand():
    rows = []
    for year, shift in (("2022-23", 0.0), ("2023-24", 1.0)):
        for k, (base, n) in enumerate(
            [(45.0, 20), (50.0, 20), (52.0, 25), (40.0, 200), (45.0, 180), (60.0, 160)]
        ):
            wobble = [0.0, 2.0, -2.0, 0.0, 0.5, -0.5][k] if shift else 0.0
            for grade, subject in (("5", "lesing"), ("5", "regning"), ("8", "lesing"), ("8", "regning")):
                rows.append((year, f"{k:04d}", grade, subject, base + shift + wobble, 1.0, n))
    bands = dict(size_band_correlations(frame(rows)).select("band", "correlation").iter_rows())
    small = np.corrcoef([45, 50, 52], [46, 53, 51])[0, 1]
    large = np.corrcoef([40, 45, 60], [41, 46.5, 60.5])[0, 1]
    assert bands["under 30"] == pytest.approx(small) and bands["150 or more"] == pytest.approx(large)
    assert bands["30-149"] is None
    # A kommune missing one of the four tests has no four-test mean; two kommuner are too few.
    short = [r for r in rows if not (r[1] == "0000" and r[3] == "regning" and r[2] == "8")]
    small_band = size_band_correlations(frame(short)).filter(pl.col("band") == "under 30")
    assert small_band.select("kommuner", "correlation").row(0) == (0, None)
