"""Where the review stands on the dashboard: each status in its bokmål word, each office's progress, the
plain sentence while nothing has come back, applicants and the scheme marked, and an adversary's run
proving that no reviewer's free text reaches anything published."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Config
from pipelines.flow import FlowRun
from pipelines.outputs.dashboard import status_page
from pipelines.reference.mapping import load_changes
from pipelines.reference.registers import NEWEST_STRUCTURE
from pipelines.register.store import Register
from pipelines.review.imports import REVIEWS
from pipelines.review.read import REVIEW_SCHEMA
from pipelines.review.scheme_commands import import_application_list, import_scheme
from pipelines.review.scheme_records import DECISION_RECORD, DECISIONS_TABLE
from pipelines.review.status import decisions_in_force, review_answers
from pipelines.settings import REFERENCE_DIR
from pipelines.vocabulary import ON_LIST
from tests.conftest import SCHOOL_YEAR, run_sample

NOTHING_BACK = "Ingen vurderinger er kommet tilbake fra statsforvalterne ennå."
# The adversary's plants: unique strings no page, list or table could contain by chance.
SECRET_REASON = "ZQX-begrunnelse-7f3a91"
SECRET_CONTACT = "ZQX-kontakt-Kari-c52e08"


def _cells(page: str) -> list[list[str]]:
    """The visible text of every table row, cell by cell (tags dropped)."""
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", page)
    ]


def test_each_status_in_its_bokmal_word_by_hand(national_config: Config):
    status = pl.DataFrame(
        {
            "municipality_code": ["0001", "0002", "0003", "0004", "0005"],
            "municipality_name": ["Alfa", "Beta", "Gamma", "Delta", "Epsilon"],
            "statsforvalter": ["Embete A", "Embete A", "Embete A", "Embete B", "Embete B"],
            "basis": ["kandidat", "søker", "kandidat og søker", "kandidat", "kandidat"],
            "review_status": ["anbefalt", "ikke anbefalt", "usikker", "ikke vurdert", "ikke vurdert"],
            "office_priority": [1, None, None, None, None],
            "decision": ["tilbud", "ikke tilbud", None, None, None],
        }
    )
    progress = pl.DataFrame(
        {
            "statsforvalter": ["Embete A", "Embete B"],
            "listed": [3, 2],
            "reviewed": [3, 0],
            "decided": [2, 0],
            "answered": [True, False],
        }
    )
    page = status_page(status, progress, national_config)
    rows = _cells(page)
    assert ["Embete A", "3 av 3", "2", "ja"] in rows
    assert ["Embete B", "0 av 2", "0", "nei, har ikke svart"] in rows
    assert ["Alfa", "Embete A", "kandidat", "anbefalt", "1", "tilbud"] in rows
    assert ["Beta", "Embete A", "søker", "ikke anbefalt", "–", "ikke tilbud"] in rows
    assert ["Gamma", "Embete A", "kandidat og søker", "usikker", "–", "ikke besluttet"] in rows
    assert ["Delta", "Embete B", "kandidat", "ikke vurdert", "–", "ikke besluttet"] in rows
    assert "1 av 2 embeter har svart." in page and NOTHING_BACK not in page
    nobody = status_page(status, progress.with_columns(pl.lit(False).alias("answered")), national_config)
    assert NOTHING_BACK in nobody


def test_the_run_with_an_empty_register_says_nothing_has_come_back(national_run: FlowRun, published):
    page = (published["dashboard"] / "status.html").read_text(encoding="utf-8")
    assert NOTHING_BACK in page
    listed = national_run.table("candidates").filter(ON_LIST).height
    assert page.count("<td>ikke vurdert</td>") == listed > 0
    assert national_run.table("review_answers").is_empty()
    assert national_run.table("decisions").is_empty()


def test_the_run_keeps_no_free_text_of_the_register():
    """The tables a run reads keep the answer, the priority, the office and the date only, and the
    latest version of each answer."""
    rows = pl.DataFrame(
        [
            ("a.xlsx", "x", "Embete A", "run", SCHOOL_YEAR, "f", "0001", "Alfa", 3, "anbefales", 2,
             "hemmelig", "Ola", dt.date(2025, 10, 1), 1),
            ("b.xlsx", "y", "Embete A", "run", SCHOOL_YEAR, "f", "0001", "Alfa", 3, "usikker", None,
             "hemmelig", "Ola", dt.date(2025, 10, 2), 2),
            ("c.xlsx", "z", "Embete A", "run", "2024-25", "f", "0001", "Alfa", 3, "anbefales", 1,
             "hemmelig", "Ola", dt.date(2024, 10, 2), 3),
        ],
        schema={**REVIEW_SCHEMA, "version": pl.Int64},
        orient="row",
    )  # fmt: skip
    answers = review_answers(rows, SCHOOL_YEAR)
    assert answers.columns == [
        "school_year", "office", "municipality_code", "recommendation", "office_priority", "review_date",
        "version",
    ]  # fmt: skip
    assert answers.rows() == [(SCHOOL_YEAR, "Embete A", "0001", "usikker", None, dt.date(2025, 10, 2), 2)]
    assert review_answers(pl.DataFrame(), SCHOOL_YEAR).is_empty()
    assert decisions_in_force(pl.DataFrame(), SCHOOL_YEAR).columns == [
        "school_year", "municipality_code", "decision", "version",
    ]  # fmt: skip


def _published_text(root: Path) -> dict[str, str]:
    """Every published file's text as a reader or a program could get it: text files as they are,
    workbooks' parts unzipped, parquet files' cells (compression would hide a plain byte scan)."""
    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(data)) as book:
                texts[name] = "".join(book.read(part).decode("utf-8", "replace") for part in book.namelist())
        elif path.suffix == ".parquet":
            texts[name] = pl.read_parquet(path).write_csv()
        else:
            texts[name] = data.decode("utf-8", "replace")
    return texts


def _leaks(root: Path) -> set[str]:
    plants = (SECRET_REASON, SECRET_CONTACT)
    return {name for name, text in _published_text(root).items() if any(p in text for p in plants)}


@pytest.fixture(scope="module")
def reviewed_run(
    national_sample, national_run: FlowRun, tmp_path_factory: pytest.TempPathFactory, registers
) -> tuple[FlowRun, dict[str, str]]:
    """A run whose register has a kommune in the scheme, an applicant, an office's answers with the
    adversary's plants in Begrunnelse and Kontaktperson, and one of Udir's decisions."""
    folder = tmp_path_factory.mktemp("reviewed-run")
    first = national_run.table("candidates")
    listed = first.filter(ON_LIST).sort("holistic_rank", nulls_last=True)
    office = listed["statsforvalter"][0]
    mine = listed.filter(pl.col("statsforvalter") == office)["municipality_code"].to_list()
    others = listed.filter(pl.col("statsforvalter") != office)["municipality_code"].to_list()
    outside = first.filter(~ON_LIST)["municipality_code"][0]
    codes = {"recommended": mine[0], "unsure": mine[1], "in_scheme": others[0], "applicant": outside}
    register = Register(folder / "register.duckdb")
    kull = folder / "kull.csv"
    kull.write_text(f"kommunenummer;første skoleår\n{codes['in_scheme']};2024-25\n", encoding="utf-8")
    import_scheme(kull, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register)
    applications = folder / "søknader.csv"
    applications.write_text(f"eier;dato;begrunnelse\n{outside};15.09.2025;Ønsker støtte\n", encoding="utf-8")
    import_application_list(applications, SCHOOL_YEAR, registers, NEWEST_STRUCTURE, register)
    names = dict(first.select("municipality_code", "municipality_name").iter_rows())
    answers = [(mine[0], "anbefales", 1), (mine[1], "usikker", None)]
    register.append(
        REVIEWS,
        pl.DataFrame(
            [
                ("svar.xlsx", "0" * 64, office, "run", SCHOOL_YEAR, "list", code, names[code], row, answer,
                 priority, SECRET_REASON, SECRET_CONTACT, dt.date(2025, 10, 20))
                for row, (code, answer, priority) in enumerate(answers, start=4)
            ],
            schema=REVIEW_SCHEMA,
            orient="row",
        ),
    )  # fmt: skip
    register.append(
        DECISIONS_TABLE,
        pl.DataFrame(
            [(SCHOOL_YEAR, mine[0], "tilbud", "beslutning.csv", "1" * 64, "2")],
            schema=DECISION_RECORD,
            orient="row",
        ),
    )
    run = run_sample(folder, national_sample, register=register.path)
    return run, {**codes, "office": office}


def test_no_free_text_reaches_anything_published(reviewed_run, tmp_path):
    run, _ = reviewed_run
    reports = Path(run.metadata("candidate_files")["folder"]).parent
    assert _leaks(reports) == set()
    for table in ("review_answers", "decisions"):
        assert not {"justification", "contact"} & set(run.table(table).columns)
    # The scan finds a plant wherever it is: a page, a workbook's part, a parquet cell.
    (tmp_path / "side.html").write_text(f"<p>{SECRET_REASON}</p>", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "bok.xlsx", "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/sharedStrings.xml", f"<t>{SECRET_CONTACT}</t>")
    pl.DataFrame({"tekst": [SECRET_REASON * 50]}).write_parquet(tmp_path / "tabell.parquet")
    assert _leaks(tmp_path) == {"side.html", "bok.xlsx", "tabell.parquet"}


def test_the_dashboard_shows_where_the_review_stands(reviewed_run):
    run, codes = reviewed_run
    dashboard = Path(run.metadata("candidate_files")["folder"]) / "dashboard"
    page = (dashboard / "status.html").read_text(encoding="utf-8")
    assert NOTHING_BACK not in page and "1 av " in page
    by_name = {row[0]: row for row in _cells(page) if len(row) == 6}
    names = dict(run.table("candidates").select("municipality_code", "municipality_name").iter_rows())
    assert by_name[names[codes["recommended"]]][2:] == ["kandidat", "anbefalt", "1", "tilbud"]
    assert by_name[names[codes["unsure"]]][2:] == ["kandidat", "usikker", "–", "ikke besluttet"]
    assert by_name[names[codes["applicant"]]][2:4] == ["søker", "ikke vurdert"]
    offices = {row[0]: row for row in _cells(page) if len(row) == 4}
    assert offices[codes["office"]][2:] == ["1", "ja"]
    assert all(row[3] == "nei, har ikke svart" for name, row in offices.items() if name != codes["office"])
    overview = (dashboard / "index.html").read_text(encoding="utf-8")
    badge = "Søker om oppfølging (15.09.2025)"
    assert overview.count(badge) == 1
    assert "kandidat · anbefalt · Udir: tilbud" in overview
    assert "<th>Uten kommunene i ordningen</th>" in overview
    assert "i ordningen 2024-25 til 2026-27" in overview
    applicant = (dashboard / "kommuner" / f"{codes['applicant']}.html").read_text(encoding="utf-8")
    assert badge in applicant and "Status for vurderingen: søker · ikke vurdert · ikke besluttet" in applicant
    in_scheme = (dashboard / "kommuner" / f"{codes['in_scheme']}.html").read_text(encoding="utf-8")
    assert "Oppfølgingsordningen: i ordningen 2024-25 til 2026-27 · Uten kommunene i ordningen: " in in_scheme
    assert "regnes ikke med" in in_scheme
