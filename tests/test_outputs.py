"""The published outputs on the national sample: candidate files, workbooks read back with openpyxl,
and a privacy scan of every file."""

from __future__ import annotations

import json
import re

import openpyxl
import polars as pl
import pytest

from pipelines.outputs.privacy import complementary_suppression, primary_suppression

MINIMUM = 10


def test_candidate_files_have_every_kommune_and_the_promised_columns(published, national_run):
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
    listed = candidates.filter(pl.col("tier") == "klar kandidat")
    assert listed.height and listed["drivers"].str.contains(r"^[a-z0-9_]+: \d+\.\d+ SD \(\d/\d år\)").all()
    assert (candidates["udir_category"] == 1).sum() == 30
    assert (candidates["udir_category"] == 2).sum() <= 10
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
    for path in paths:
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == ["Kandidater", "Skoler", "Metode"]
        method = dict(book["Metode"].iter_rows(values_only=True))
        assert re.fullmatch(
            r"kodeversjon [0-9a-f]{16}, 60 inndatafiler \(fingeravtrykk [0-9a-f]{16}\)", method["Laget av"]
        )
        sheet = book["Kandidater"]
        header = [cell.value for cell in sheet[1]]
        assert header[:3] == ["Prioritet", "Kommunenr", "Kommune"]
        assert {"Anbefaling", "Begrunnelse", "Forklaring", "Helhetlig vurdering"} <= set(header)
        assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref
        validations = sheet.data_validations.dataValidation
        assert validations and validations[0].formula1 == '"anbefales,anbefales ikke,usikker"'
        priorities = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert priorities == sorted(priorities)
        listed_total += len(priorities)
        offices = {row[header.index("Kommunenr")][:2] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert all(len(code) == 2 for code in offices)
    candidates = national_run.table("candidates")
    on_a_list = candidates.filter(
        pl.col("udir_category").is_not_null() | pl.col("tier").is_in(["klar kandidat", "grensetilfelle"])
    )
    assert listed_total == on_a_list.height


def test_workbooks_are_byte_identical_between_runs(published, national_run, national_config, tmp_path):
    from pipelines.outputs.workbooks import write_workbooks
    from pipelines.provenance import provenance_line

    again = write_workbooks(
        national_run.table("candidates"),
        national_run.table("indicator_values"),
        national_run.table("school_indicator_values"),
        national_run.table("school_names"),
        national_config,
        tmp_path,
        provenance_line(national_run.table("raw_files")),
    )
    for path in again:
        assert path.read_bytes() == (published["workbooks"] / path.name).read_bytes()


def test_no_published_figure_rests_on_too_few_pupils_or_can_be_recovered(published):
    """Scan every output file that carries figures with pupil counts."""
    checked = 0
    for path in sorted(published["workbooks"].glob("*.xlsx")):
        sheet = openpyxl.load_workbook(path)["Skoler"]
        header = [cell.value for cell in sheet[1]]
        rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]
        for row in rows:
            if row["Verdi"] is not None:
                assert row["Antall elever"] is not None and row["Antall elever"] >= MINIMUM, (path.name, row)
                checked += 1
        groups: dict[tuple, list[bool]] = {}
        for row in rows:
            groups.setdefault((row["Kommunenr"], row["Indikator"], row["Skoleår"]), []).append(
                row["Verdi"] is None
            )
        assert all(sum(hidden) != 1 or len(hidden) == 1 for hidden in groups.values()), path.name
    for path in sorted((published["dashboard"] / "kommuner").glob("*.html")):
        data = json.loads(
            re.search(
                r'<script type="application/json" id="data">(.*?)</script>', path.read_text(), re.S
            ).group(1)
        )
        for indicator in data["indicators"]:
            for value, n in zip(indicator["kommune"], indicator["n"], strict=True):
                if value is not None:
                    assert n is not None and n >= MINIMUM, path.name
                    checked += 1
        groups = {}
        for school in data["schools"]:
            if school["value"] is not None:
                assert school["n"] >= MINIMUM
            groups.setdefault((school["indicator"], school["year"]), []).append(school["value"] is None)
        assert all(sum(hidden) != 1 or len(hidden) == 1 for hidden in groups.values()), path.name
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


@pytest.mark.parametrize("sizes", [[5, 30, 40], [5, 8, 30, 40], [30, 40], [3]])
def test_complementary_suppression_leaves_no_single_hidden_school(sizes):
    frame = pl.DataFrame(
        {
            "group": ["k"] * len(sizes),
            "unit_code": [str(i) for i in range(len(sizes))],
            "n": sizes,
            "value": [50.0] * len(sizes),
        }
    )
    shown = complementary_suppression(primary_suppression(frame, MINIMUM, ["value"]), ["group"], ["value"])
    hidden = shown["hidden"].sum()
    assert hidden != 1 or len(sizes) == 1
    assert shown.filter(pl.col("n") < MINIMUM)["value"].null_count() == (pl.Series(sizes) < MINIMUM).sum()
