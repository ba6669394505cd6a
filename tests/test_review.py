"""The governor's round trip: a workbook from the national sample filled in as a person would, imported;
every way a returned workbook can be wrong refused by its own test, naming file, sheet and cell."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import dagster as dg
import openpyxl
import polars as pl
import pytest

from assets.automation import review_inbox
from pipelines.cli import main
from pipelines.outputs.review_form import list_fingerprint
from pipelines.register.store import Register
from pipelines.resources import UtvalgSettings
from pipelines.review.imports import REVIEWS, import_path, latest_reviews, review_conflicts
from pipelines.review.read import ReviewError, published_run, read_form, review_rows
from tests.conftest import FIXTURES, SCHOOL_YEAR

INNLANDET = "Statsforvalteren i Innlandet"
FILE = "statsforvalteren_innlandet.xlsx"
LIBREOFFICE = FIXTURES / "review-libreoffice"


@pytest.fixture(scope="module")
def run(published):
    return published_run(published["root"], SCHOOL_YEAR)


@pytest.fixture(scope="module")
def sent(published) -> bytes:
    return (published["workbooks"] / FILE).read_bytes()


def edited(data: bytes, changes: dict[tuple[str, str], object], rows_deleted: int | None = None) -> bytes:
    """The workbook with cells set as a person (or a mistake) would; ``rows_deleted``: a row removed."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    if rows_deleted is not None:
        book["Vurdering"].delete_rows(rows_deleted)
    for (sheet, cell), value in changes.items():
        book[sheet][cell] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOVERNOR = {
    ("Vurdering", "C4"): "anbefales",
    ("Vurdering", "D4"): 1,
    ("Vurdering", "E4"): "Kommunen har bedt om støtte; skolene på Øvre Åsen er med.",
    ("Vurdering", "F4"): "Åse Ødegård",
    ("Vurdering", "G4"): dt.datetime(2026, 10, 12),
    ("Vurdering", "C5"): "anbefales ikke",
    ("Vurdering", "E5"): "Er allerede i veilederkorpset.",
    ("Vurdering", "G5"): "13.10.2026",  # typed as text
    ("Vurdering", "C6"): "usikker",
    ("Vurdering", "D6"): 2,
}


def test_a_workbook_filled_in_by_a_governor_is_read(run, sent):
    rows = review_rows(edited(sent, GOVERNOR), FILE, run)
    listed = read_form(sent, FILE).rows
    assert rows.height == len(listed)
    assert rows["office"].unique().to_list() == [INNLANDET]
    assert rows["sheet_row"].to_list()[:3] == [4, 5, 6]
    first, second, third = rows.head(3).iter_rows(named=True)
    assert (first["recommendation"], first["office_priority"], first["contact"]) == (
        "anbefales",
        1,
        "Åse Ødegård",
    )
    assert first["justification"] == "Kommunen har bedt om støtte; skolene på Øvre Åsen er med."
    assert first["review_date"] == dt.date(2026, 10, 12)
    assert (second["recommendation"], second["review_date"]) == ("anbefales ikke", dt.date(2026, 10, 13))
    assert (third["recommendation"], third["office_priority"]) == ("usikker", 2)
    # The rows nobody answered are recorded empty, not left out.
    empty = rows.slice(3)
    assert (
        empty.select("recommendation", "office_priority", "justification", "contact", "review_date")
        .null_count()
        .row(0)
        == (empty.height,) * 5
    )


def test_the_answers_never_change_the_fingerprint(sent):
    form, answered = read_form(sent, FILE), read_form(edited(sent, GOVERNOR), FILE)
    assert list_fingerprint(form.headings, form.rows) == form.control["fingeravtrykk"]
    assert list_fingerprint(answered.headings, answered.rows) == form.control["fingeravtrykk"]


def _other_office(run) -> str:
    return next(office for office in sorted(run.forms) if office != INNLANDET)


@pytest.mark.parametrize(
    ("change", "sheet", "cell", "message"),
    [
        (
            {("Kontroll", "B2"): "0123456789abcdef"},
            "Kontroll",
            "B2",
            "from run 0123456789abcdef, the published run is",
        ),
        (
            {("Kontroll", "B3"): "2024-25"},
            "Kontroll",
            "B3",
            "school year 2024-25, the published run is for 2025-26",
        ),
        (
            {("Kontroll", "B4"): "Statsforvalteren i Oslo og Viken"},
            "Kontroll",
            "B4",
            "office 'Statsforvalteren i Oslo og Viken'",
        ),
        (
            {("Kontroll", "B5"): "0" * 64},
            "Kontroll",
            "B5",
            "fingerprint is not that of the office's published list",
        ),
        (
            {("Vurdering", "B4"): "Øystre Slidre og Vang"},
            "Vurdering",
            "B4",
            "published workbook has .* \\(renamed\\)",
        ),
        (
            {("Vurdering", "P5"): 0.5},
            "Vurdering",
            "P5",
            "is '0.500000', the published workbook has .*\\(evidence edited\\)",
        ),
        (
            {("Vurdering", "C4"): "ja"},
            "Vurdering",
            "C4",
            "'ja' is not a recommendation: choose anbefales / anbefales ikke / usikker",
        ),
        ({("Vurdering", "C4"): "Anbefales"}, "Vurdering", "C4", "not a recommendation"),
        ({("Vurdering", "D4"): 99}, "Vurdering", "D4", "99 is not a whole number from 1 to"),
        ({("Vurdering", "D4"): 1.5}, "Vurdering", "D4", "not a whole number"),
        ({("Vurdering", "G4"): "i morgen"}, "Vurdering", "G4", "'i morgen' is not a date"),
    ],
)
def test_a_wrong_workbook_is_refused_naming_the_cell(run, sent, change, sheet, cell, message):
    with pytest.raises(ReviewError, match=message) as refused:
        review_rows(edited(sent, {**GOVERNOR, **change}), FILE, run)
    assert (refused.value.file, refused.value.sheet, refused.value.cell) == (FILE, sheet, cell)
    assert str(refused.value).startswith(f"{FILE}, sheet {sheet}, cell {cell}: ")


def test_an_added_kommune_is_refused(run, sent):
    after = 4 + len(read_form(sent, FILE).rows)
    added = {("Vurdering", f"A{after}"): "0301", ("Vurdering", f"B{after}"): "Oslo"}
    with pytest.raises(
        ReviewError, match="kommune '0301' is not on the office's list \\(added\\)"
    ) as refused:
        review_rows(edited(sent, {**GOVERNOR, **added}), FILE, run)
    assert refused.value.cell == f"A{after}"


def test_a_removed_kommune_is_refused(run, sent):
    second = read_form(sent, FILE).rows[1]
    with pytest.raises(
        ReviewError, match=f"kommune {second[0]} {second[1]} is missing from the list \\(removed\\)"
    ):
        review_rows(edited(sent, GOVERNOR, rows_deleted=5), FILE, run)


def test_another_offices_workbook_is_refused_when_the_sender_is_known(run, published):
    other = _other_office(run)
    data = (
        published["workbooks"]
        / next(
            p.name
            for p in published["workbooks"].glob("*.xlsx")
            if read_form(p.read_bytes(), p.name).control["embete"] == other
        )
    ).read_bytes()
    with pytest.raises(ReviewError, match=f"office '{other}', expected {INNLANDET}") as refused:
        review_rows(data, "innlandet.xlsx", run, office=INNLANDET)
    assert refused.value.cell == "B4"


def test_something_else_than_a_workbook_is_refused(run):
    with pytest.raises(ReviewError, match="not a readable xlsx workbook"):
        review_rows(b"Kommunenr;Anbefaling\n3401;anbefales\n", "svar.xlsx", run)


def test_a_workbook_saved_again_by_libreoffice_is_accepted():
    run = published_run(LIBREOFFICE / "2025-26", "2025-26")
    data = (LIBREOFFICE / "returned" / "statsforvalteren_innlandet_libreoffice.xlsx").read_bytes()
    assert b"LibreOffice" in zipfile.ZipFile(io.BytesIO(data)).read("docProps/app.xml")
    rows = review_rows(data, "returned.xlsx", run)
    assert rows["recommendation"].to_list()[:4] == ["anbefales", "anbefales ikke", None, "usikker"]
    assert rows["contact"][0] == "Øyvind Årseth" and rows["review_date"][1] == dt.date(2026, 10, 15)


def test_imports_are_versions_never_overwrites(published, sent, tmp_path):
    register = Register(tmp_path / "register.duckdb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / FILE).write_bytes(edited(sent, GOVERNOR))
    first = import_path(inbox, published["root"], SCHOOL_YEAR, register)
    assert [(f, o, v) for f, o, _, v in first.imported] == [(FILE, INNLANDET, 1)]
    again = import_path(inbox, published["root"], SCHOOL_YEAR, register)
    assert again.imported == [] and again.already == [(FILE, FILE, 1)]
    assert register.read(REVIEWS).height == first.imported[0][2]
    # The office sends a changed workbook: a second version beside the first.
    (inbox / "innlandet_v2.xlsx").write_bytes(edited(sent, {**GOVERNOR, ("Vurdering", "C5"): "usikker"}))
    second = import_path(inbox, published["root"], SCHOOL_YEAR, register)
    assert [(f, v) for f, _, _, v in second.imported] == [("innlandet_v2.xlsx", 2)]
    reviews = register.read(REVIEWS)
    assert reviews["version"].unique().sort().to_list() == [1, 2]
    assert reviews.height == 2 * first.imported[0][2]
    conflicts = review_conflicts(reviews)
    assert conflicts.select("field", "earlier", "later", "earlier_version", "later_version").rows() == [
        ("recommendation", "anbefales ikke", "usikker", 1, 2)
    ]
    assert any("Anbefaling 'anbefales ikke' → 'usikker' (version 1 → 2)" in line for line in second.lines())
    latest = latest_reviews(reviews)
    assert latest.height == first.imported[0][2]
    assert latest.filter(pl.col("sheet_row") == 5)["recommendation"].to_list() == ["usikker"]
    assert latest.filter(pl.col("sheet_row") == 4)["recommendation"].to_list() == ["anbefales"]


def test_nothing_imported_reads_as_no_reviews(tmp_path):
    reviews = Register(tmp_path / "r.duckdb").read(REVIEWS)
    assert latest_reviews(reviews).is_empty() and review_conflicts(reviews).is_empty()
    assert "recommendation" in latest_reviews(reviews).columns


def test_the_command_imports_the_good_and_names_every_refused_one(published, sent, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_innlandet.xlsx").write_bytes(edited(sent, GOVERNOR))
    (inbox / "b_edited.xlsx").write_bytes(edited(sent, {("Vurdering", "P4"): 0.01}))
    (inbox / "c_wrong_value.xlsx").write_bytes(edited(sent, {("Vurdering", "C6"): "kanskje"}))
    register = tmp_path / "register.duckdb"
    argv = [
        "review",
        "import",
        str(inbox),
        "--reports",
        str(published["root"].parents[1]),
        "--register",
        str(register),
        "--year",
        SCHOOL_YEAR,
    ]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "imported a_innlandet.xlsx: Statsforvalteren i Innlandet" in out
    assert "refused b_edited.xlsx, sheet Vurdering, cell P4:" in err
    assert "refused c_wrong_value.xlsx, sheet Vurdering, cell C6: 'kanskje' is not a recommendation" in err
    assert Register(register).read(REVIEWS)["file_name"].unique().to_list() == ["a_innlandet.xlsx"]
    (inbox / "b_edited.xlsx").unlink()
    (inbox / "c_wrong_value.xlsx").unlink()
    assert main(argv) == 0
    assert "already imported a_innlandet.xlsx" in capsys.readouterr().out


def test_the_inbox_sensor_imports_as_the_command_does(published, sent, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / FILE).write_bytes(edited(sent, GOVERNOR))
    monkeypatch.setenv("UTVALG_REVIEW_INBOX", str(inbox))
    monkeypatch.setenv("UTVALG_REGISTER", str(tmp_path / "register.duckdb"))
    utvalg = UtvalgSettings(reports_dir=str(published["root"].parents[1]), school_year=SCHOOL_YEAR)
    result = review_inbox(dg.build_sensor_context(resources={"utvalg": utvalg}))
    assert result.skip_reason.skip_message.startswith("1 imported, 0 already imported, 0 refused")
    assert Register(tmp_path / "register.duckdb").read(REVIEWS)["office"].unique().to_list() == [INNLANDET]
    again = review_inbox(dg.build_sensor_context(resources={"utvalg": utvalg}, cursor=result.cursor))
    assert again.skip_reason.skip_message == "no new or changed workbooks"
