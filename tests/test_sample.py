"""The synthetic national sample: parses cleanly, is deterministic, and looks like the real exports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import pytest

from pipelines.ingest.portal_format import read_export
from pipelines.sample.generate import generate_sample
from pipelines.settings import REFERENCE_DIR
from pipelines.validate.schemas import valid_organisation_number
from tests.conftest import GSP, NP5, SAMPLE_SEED

NP5_SYNTHETIC = "nasjonale_prover/2024-25_20260224-1157_Nasjonale_proever_5._trinn.csv"


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def kommune_statistics(path: Path) -> dict[str, object]:
    """What the comparison with the real file measures, for one 5th-grade export."""
    export = read_export(path)
    cells = export.cells.join(export.rows.select("source_line", "EnhetNivaa"), on="source_line")
    suppressed = dict(cells.group_by("EnhetNivaa").agg(pl.col("suppressed").mean()).iter_rows())
    lesing = (
        cells.filter((pl.col("dimensions").list.get(0) == "Lesing") & (pl.col("EnhetNivaa") == "3"))
        .filter(pl.col("measure").is_in(["Skalapoeng", "Antall elever deltatt"]))
        .pivot("measure", index="source_line", values="value")
        .drop_nulls()
    )
    n, mean = lesing["Antall elever deltatt"].to_numpy(), lesing["Skalapoeng"].to_numpy()
    return {
        "suppressed_kommune": suppressed["3"],
        "suppressed_school": suppressed["4"],
        "quantiles": np.quantile(n, [0.1, 0.5, 0.9]),
        "spread_ratio": mean[n < 30].std(ddof=1) / mean[n > 200].std(ddof=1),
    }


def test_every_generated_file_parses_with_nothing_quarantined(national_run):
    files = national_run.table("raw_files")
    assert set(files["source"].unique().to_list()) == {
        "nasjonale_prover",
        "elevundersokelsen",
        "grunnskolepoeng",
        "gjennomforing",
    }
    assert files.height == 60
    assert national_run.table("quarantine").is_empty()
    assert "truth.csv" not in files["source_file"].to_list()


def test_same_seed_same_bytes_other_seed_other_bytes(national_sample, tmp_path):
    again = tmp_path / "again"
    summary = generate_sample(SAMPLE_SEED, again, REFERENCE_DIR)
    assert digests(again) == digests(national_sample)
    assert summary["seconds"] < 60
    other = tmp_path / "other"
    generate_sample(SAMPLE_SEED + 1, other, REFERENCE_DIR)
    differing = [name for name, digest in digests(other).items() if digests(national_sample)[name] != digest]
    assert len(differing) == len(digests(other))


def test_marginals_close_to_the_real_2024_25_file(national_sample):
    real = kommune_statistics(NP5)
    synthetic = kommune_statistics(national_sample / NP5_SYNTHETIC)
    # Kommune pupil counts: each of the 10/50/90 % quantiles within a factor 1.5 of the real file's.
    ratios = synthetic["quantiles"] / real["quantiles"]
    assert np.all((ratios > 1 / 1.5) & (ratios < 1.5)), (synthetic["quantiles"], real["quantiles"])
    # Share of suppressed cells among kommune rows and among school rows within 0.10.
    assert abs(synthetic["suppressed_kommune"] - real["suppressed_kommune"]) < 0.10
    assert abs(synthetic["suppressed_school"] - real["suppressed_school"]) < 0.10
    # Small kommuner's means spread more than large ones', about as much more as in reality.
    assert real["spread_ratio"] > 1.3 and synthetic["spread_ratio"] > 1.3
    assert 1 / 1.5 < synthetic["spread_ratio"] / real["spread_ratio"] < 1.5


def test_national_levels(national_run):
    national = national_run.table("observations").filter(pl.col("level") == "national")
    base = national.filter((pl.col("school_year") == "2022-23") & pl.col("grade").is_in(["5", "8"]))
    scale = base.filter(pl.col("indicator") == "skalapoeng")
    assert scale.height == 6 and scale["value"].to_list() == pytest.approx([50] * 6, abs=1)
    # The levels are cut at the base year's percentiles (25 % at level 1 in 5th, 10 % in 8th grade);
    # 9th grade takes the 8th-grade test a year older, so fewer of them are at level 1.
    lowest = dict(
        national.filter(
            (pl.col("school_year") == "2022-23")
            & (pl.col("indicator") == "mestringsniva_1")
            & (pl.col("subject") == "lesing")
        )
        .select("grade", "value")
        .iter_rows()
    )
    assert lowest["5"] == pytest.approx(25, abs=1.5) and lowest["8"] == pytest.approx(10, abs=1.5)
    assert lowest["9"] < lowest["8"] - 2
    points = national.filter(
        (pl.col("indicator") == "grunnskolepoeng") & (pl.col("school_year") == "2015-16")
    )
    assert 40.5 <= points["value"].item() <= 42.0
    cancelled = national.filter(
        (pl.col("indicator") == "grunnskolepoeng") & (pl.col("school_year") == "2020-21")
    )
    assert cancelled["break_note"].item().startswith("Skoleårene 2019-20 og 2020-21")


def test_units_codes_and_reforms(national_sample, national_run, registers):
    truth = pl.read_csv(national_sample / "truth.csv", schema_overrides={"municipality_code": pl.String})
    register = set(registers.codes(2024)) - {"9999", "2100", "2599"}
    assert truth.height == 357 and set(truth["municipality_code"]) == register
    observations = national_run.table("observations")
    schools = observations.filter(pl.col("level") == "school")["unit_code"].unique().to_list()
    assert all(valid_organisation_number(code) for code in schools)
    assert 2800 <= len(schools) <= 3500
    kommuner = observations.filter(
        (pl.col("level") == "municipality") & (pl.col("source") == "grunnskolepoeng")
    )
    by_year = {year: set(group["unit_code"]) for (year,), group in kommuner.group_by("school_year")}
    assert "1507" in by_year["2023-24"] and {"1508", "1580"} <= by_year["2024-25"]
    assert "0219" in by_year["2019-20"] and "3024" in by_year["2022-23"] and "3201" in by_year["2024-25"]
    names = kommuner.filter((pl.col("school_year") == "2023-24") & (pl.col("unit_code") == "1507"))[
        "unit_name"
    ]
    assert names.item() == "Ålesund (2020 - 2023)"
    assert "2100" in by_year["2025-26"]  # Svalbard
    # Every harmonised kommune row lands on a 2024 code.
    harmonised = national_run.table("harmonised_observations").filter(pl.col("level") == "municipality")
    assert set(harmonised["unit_code"]) <= register | {"2100"}


def test_recoded_kommuner_are_back_filled_and_counted_once(national_run):
    """As in Udir's exports, a 1-to-1 recoded kommune's figures also appear under its newer code."""
    points = national_run.table("observations").filter(
        (pl.col("source") == "grunnskolepoeng") & (pl.col("level") == "municipality")
    )
    year = points.filter(pl.col("school_year") == "2018-19")
    old, new = (year.filter(pl.col("unit_code") == code) for code in ("0219", "3024"))
    assert old.height == new.height == 1 and old["value"].item() == new["value"].item()
    assert new["county_code"].item() == "30"
    baerum = national_run.table("harmonised_observations").filter(
        (pl.col("level") == "municipality")
        & (pl.col("source") == "grunnskolepoeng")
        & (pl.col("school_year") == "2018-19")
        & (pl.col("unit_code") == "3201")
    )
    assert baerum.height == 1 and baerum["n"].item() == old["n"].item()
    assert "also published as 0219 (recode); not counted twice" in baerum["lineage_note"].item()


def xlsx_layout(path: Path) -> dict[str, object]:
    """How an xlsx export stores its cells: figures as numbers or text, and the national row's ids."""
    sheet = fastexcel.read_excel(path.read_bytes()).load_sheet(0, dtypes="string").to_polars()
    figures = [c for c in sheet.columns if c[:7].replace("-", "").isdigit() and not c.endswith("Brudd")]
    cells = pl.concat(sheet[c].drop_nulls() for c in figures)
    national = sheet.filter(pl.col("EnhetNivaa") == "1").row(0, named=True)
    return {
        "figures_as_text": int(cells.str.contains(",").sum()),
        "kinds": set(cells.str.replace(r"^[\d.]+$", "number")),
        "national_ids": [national[c] for c in ("Fylkekode", "Kommunekode", "Organisasjonsnummer")],
    }


def test_grunnskolepoeng_workbooks_store_cells_like_the_real_one(national_sample):
    real = xlsx_layout(GSP)
    for path in sorted((national_sample / "grunnskolepoeng").glob("*.xlsx")):
        assert xlsx_layout(path) == real, path.name


def test_older_files_name_their_fylker(national_sample):
    export = read_export(national_sample / "gjennomforing/2015-16_20260401-0800_Gjennomfoering.csv")
    counties = dict(export.rows.filter(pl.col("EnhetNivaa") == "2").select("Fylkekode", "Fylke").iter_rows())
    assert counties["19"] == "Troms" and counties["16"] == "Sør-Trøndelag" and len(counties) == 19
