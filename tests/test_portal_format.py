"""The one portal parser on every real Udir sample, with values checked by hand against the files."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.ingest.files import parse_raw_file
from pipelines.ingest.portal_format import read_export
from tests.conftest import GSP, MOBBING, NP5, NP8, SKOLEPORTEN, SLUTTA


def observation(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    rows = frame.filter(*[pl.col(k) == v for k, v in where.items()])
    assert rows.height == 1, f"expected one row for {where}, found {rows.height}"
    return rows.row(0, named=True)


def test_nasjonale_prover_5_trinn_arendal_by_hand(registers):
    parsed = parse_raw_file(NP5.read_bytes(), NP5.name, registers)
    assert parsed.source == "nasjonale_prover" and parsed.encoding == "utf-16-le"
    assert parsed.quarantine.is_empty()
    arendal = observation(parsed.observations, level="municipality", unit_code="4203", subject="lesing")
    # Usikkerhet 0,8 is the half-width of a 95 % interval: the standard error is 0,8 / 1,96.
    assert (arendal["value"], arendal["std_error"], arendal["n"]) == (48.0, pytest.approx(0.8 / 1.96), 473)
    assert arendal["school_year"] == "2024-25" and arendal["grade"] == "5"
    assert arendal["indicator"] == "skalapoeng" and arendal["measure"] == "scale_points"
    assert arendal["county_code"] == "42" and arendal["source_line"] == 5
    national = observation(parsed.observations, level="national", subject="engelsk")
    assert (national["value"], national["std_error"], national["n"]) == (
        51.0,
        pytest.approx(0.1 / 1.96),
        56833,
    )
    # Sira skole: Engelsk and Lesing suppressed, Regning published (51; 4,4; 10 pupils).
    sira = parsed.observations.filter(pl.col("unit_code") == "975271463").sort("subject")
    assert sira["suppressed"].to_list() == [True, True, False]
    assert sira.filter(pl.col("subject") == "regning").select("value", "std_error", "n").row(0) == (
        51.0,
        pytest.approx(4.4 / 1.96),
        10,
    )


def test_every_line_and_cell_of_the_5_trinn_file_is_accounted_for(registers):
    export = read_export(NP5)
    assert export.rows.height == 2467  # 2,469 lines less sep= and header
    assert export.cells.height == 2467 * 9
    assert export.cells["problem"].null_count() == export.cells.height
    assert int(export.cells["suppressed"].sum()) == 6187  # every '*' in the file
    parsed = parse_raw_file(NP5.read_bytes(), NP5.name, registers)
    # Values, their uncertainty and count fold into one row per subject; empty cells are not rows.
    scale_points = export.cells.filter((pl.col("measure") == "Skalapoeng") & (pl.col("raw") != ""))
    assert parsed.observations.height == scale_points.height


def test_ungdomstrinn_arendal_by_hand(registers):
    parsed = parse_raw_file(NP8.read_bytes(), NP8.name, registers)
    arendal = observation(parsed.observations, level="municipality", unit_code="4203", subject="engelsk")
    assert (arendal["value"], arendal["std_error"], arendal["n"], arendal["grade"]) == (
        51.0,
        pytest.approx(0.9 / 1.96),
        527,
        "8",
    )
    svalbard = observation(parsed.observations, level="municipality", unit_code="2100", subject="lesing")
    assert (svalbard["value"], svalbard["n"], svalbard["county_code"]) == (49.0, 21, "55")


@pytest.mark.parametrize("path", [NP5, NP8], ids=["5. trinn", "ungdomstrinn"])
@pytest.mark.parametrize("level", ["municipality", "school"])
def test_usikkerhet_becomes_a_standard_error_on_the_real_files(registers, path, level):
    """std_error × √n is the pupil SD within a unit. Read as a standard error, Usikkerhet would give
    about 17.7: more than the national pupil SD of 10, the spread of all pupils together, which a
    kommune's or a school's own pupils cannot exceed on the whole. As the half-width of a 95 % interval
    (÷ 1.96) it gives about 9, below 10 as it must be."""
    figures = parse_raw_file(path.read_bytes(), path.name, registers).observations.filter(
        (pl.col("level") == level) & pl.col("std_error").is_not_null() & (pl.col("n") > 0)
    )
    assert figures.height > 900
    within_unit_sd = (figures["std_error"] * figures["n"].cast(pl.Float64).sqrt()).median()
    assert 8.5 < within_unit_sd < 9.5  # type: ignore[operator]


def test_grunnskolepoeng_xlsx_restores_code_padding_and_break_notes(registers):
    parsed = parse_raw_file(GSP.read_bytes(), GSP.name, registers)
    assert parsed.source == "grunnskolepoeng" and parsed.encoding == "xlsx"
    assert parsed.quarantine.is_empty()
    frame = parsed.observations
    oslo = observation(frame, level="municipality", unit_code="0301", school_year="2020-21")
    assert (oslo["value"], oslo["n"], oslo["county_code"]) == (44.9, 5989, "03")
    baerum_old = observation(frame, level="municipality", unit_code="0219", school_year="2015-16")
    assert (baerum_old["value"], baerum_old["n"], baerum_old["county_code"]) == (44.0, 1508, "02")
    national = observation(frame, level="national", school_year="2019-20")
    assert national["value"] == 43.2 and national["n"] == 59245
    assert national["break_note"].startswith("Skoleårene 2019-20 og 2020-21 ble alle eksamener")
    assert observation(frame, level="national", school_year="2015-16")["break_note"] is None
    asdal = observation(frame, level="school", unit_code="975280888", school_year="2016-17")
    assert (asdal["value"], asdal["n"], asdal["municipality_code"]) == (39.4, 64, "4203")


def test_slutta_vgo_schools_without_kommune_level(registers):
    parsed = parse_raw_file(SLUTTA.read_bytes(), SLUTTA.name, registers)
    assert parsed.source == "gjennomforing"
    frame = parsed.observations
    national = observation(frame, level="national", unit_code="I", school_year="2011-12")
    assert national["value"] == 4.2 and national["indicator"] == "sluttet"
    agder = observation(frame, level="county", unit_code="42", school_year="2019-20")
    assert agder["value"] == 2.9
    assert agder["break_note"].startswith("Agder er resultatet av en sammenslåing")
    # The school is listed under Agder and again under the old Vest-Agder, with the same figures.
    akademiet = frame.filter(pl.col("unit_code") == "982759846").sort("school_year")
    assert akademiet.filter(pl.col("school_year") == "2015-16")["value"].to_list() == [6.1, 6.1]
    assert sorted(akademiet["county_code"].unique().to_list()) == ["10", "42"]
    assert akademiet.filter(pl.col("school_year") != "2015-16")["suppressed"].all()


def test_elevundersokelsen_indicator_per_row_shape(registers):
    parsed = parse_raw_file(MOBBING.read_bytes(), MOBBING.name, registers)
    assert parsed.source == "elevundersokelsen"
    frame = parsed.observations.filter(pl.col("breakdown") == "")
    national = observation(frame, level="national", indicator="mobbing", school_year="2020-21")
    assert national["value"] == 3.3 and national["measure"] == "percent"
    telemark = observation(frame, level="county", indicator="mobbing", school_year="2020-21")
    assert telemark["unit_code"] == "38" and telemark["value"] == 3.3
    by_adults = observation(frame, level="national", indicator="mobbing_av_voksne", school_year="2021-22")
    assert by_adults["value"] == 1.4
    girls = parsed.observations.filter(
        (pl.col("breakdown") == "Jente")
        & (pl.col("level") == "national")
        & (pl.col("indicator") == "mobbing")
    ).sort("school_year")
    assert girls["value"].to_list() == [2.8, 3.1]


def test_skoleporten_long_download(registers):
    parsed = parse_raw_file(SKOLEPORTEN.read_bytes(), SKOLEPORTEN.name, registers)
    assert parsed.source == "skoleporten" and parsed.quarantine.is_empty()
    frame = parsed.observations
    auglend = observation(
        frame,
        unit_name="Auglend skole",
        school_year="2014-15",
        subject="engelsk",
        grade="5",
        breakdown="Offentlig",
    )
    assert auglend["value"] == 53.0 and auglend["source"] == "nasjonale_prover"
    assert frame.height == 599
    assert int(frame["suppressed"].sum()) == 270  # the '.' cells


@pytest.mark.parametrize("path", [NP5, NP8, GSP, SLUTTA, MOBBING, SKOLEPORTEN], ids=lambda p: p.name[:30])
def test_every_real_sample_parses_without_quarantine(path, registers):
    parsed = parse_raw_file(path.read_bytes(), path.name, registers)
    assert parsed.observations.height > 0
    assert parsed.quarantine.is_empty()
