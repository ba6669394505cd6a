"""Oppfølgingsordningen as Udir uses it: historic cohorts, applications and decisions recorded in the
register (and refused whole when wrong), the support periods by hand, the next list marking kommuner in
the scheme or recently out with Udir's rule and the holistic rank without them, and the round trip run
→ governor's workbook → review import → summary workbook → decision."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.config import ConfigError, Scheme, parse_config
from pipelines.flow import FlowRun
from pipelines.reference.mapping import load_changes, municipality_mapping
from pipelines.reference.registers import NEWEST_STRUCTURE, Registers
from pipelines.register.store import Register
from pipelines.review.imports import REVIEWS, import_path, latest_reviews
from pipelines.review.records import RecordError
from pipelines.review.scheme_commands import (
    decide,
    import_application_list,
    import_scheme,
    published_candidates,
    write_summary,
)
from pipelines.review.scheme_records import (
    APPLICATIONS,
    COHORTS,
    DECISIONS_TABLE,
    cohort_rows,
    cohorts,
    decision_rows,
    recorded_lists,
)
from pipelines.review.status import office_progress, review_status
from pipelines.review.summary import DECISION_HEADING, HEADER_ROW, NOT_ANSWERED, SUMMARY_SHEET
from pipelines.selection.scheme import scheme_status, support_periods, without_scheme
from pipelines.settings import REFERENCE_DIR
from pipelines.vocabulary import APPLICANT, IN_SCHEME, NOT_REVIEWED, ON_LIST, RECENTLY_OUT, REVIEW_FIELDS
from tests.conftest import SCHOOL_YEAR, run_sample


def published_root(run: FlowRun) -> Path:
    return Path(run.metadata("candidate_files")["folder"])


SCHEME = Scheme(forfase_years=1, total_years=3, recently_out_years=3)


def _cohorts(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(code, year, "historisk") for code, year in rows],
        schema=["municipality_code", "first_school_year", "origin"],
        orient="row",
    )


# --- the support periods, by hand -------------------------------------------------------------------


def test_support_periods_by_hand():
    periods = support_periods(_cohorts([("0301", "2021-22")]), SCHEME).row(0, named=True)
    assert periods["first_school_year"] == "2021-22"
    assert periods["forfase_last_school_year"] == "2021-22"
    assert periods["gjennomforing_first_school_year"] == "2022-23"
    assert periods["last_school_year"] == "2023-24"
    longer = support_periods(_cohorts([("0301", "2019-20")]), Scheme(2, 4, 3)).row(0, named=True)
    assert (longer["forfase_last_school_year"], longer["gjennomforing_first_school_year"]) == (
        "2020-21",
        "2021-22",
    )
    assert longer["last_school_year"] == "2022-23"
    # The century turns inside a school year's name.
    assert support_periods(_cohorts([("0301", "2098-99")]), SCHEME)["last_school_year"][0] == "2100-01"


def test_status_in_the_scheme_recently_out_or_neither():
    periods = support_periods(
        _cohorts(
            [
                ("1001", "2024-25"),  # 2024-25 to 2026-27: in
                ("1002", "2023-24"),  # to 2025-26, the list's year: still in
                ("1003", "2021-22"),  # ended 2023-24, two years before: recently out
                ("1004", "2020-21"),  # ended 2022-23, three years before: recently out
                ("1005", "2019-20"),  # ended 2021-22, four years before: neither
                ("1006", "2026-27"),  # decided on this year's list: not yet in
                ("1007", "2018-19"),  # out long ago, and in again:
                ("1007", "2025-26"),  # the period in force wins
            ]
        ),
        SCHEME,
    )
    status = scheme_status(periods, "2025-26", SCHEME)
    found = {row[0]: row[1:] for row in status.iter_rows()}
    assert found == {
        "1001": (IN_SCHEME, "2024-25", "2026-27"),
        "1002": (IN_SCHEME, "2023-24", "2025-26"),
        "1003": (RECENTLY_OUT, "2021-22", "2023-24"),
        "1004": (RECENTLY_OUT, "2020-21", "2022-23"),
        "1007": (IN_SCHEME, "2025-26", "2027-28"),
    }
    assert scheme_status(periods.head(0), "2025-26", SCHEME).is_empty()


def test_udir_categories_and_holistic_rank_without_the_scheme(national_config):
    config = dataclasses.replace(
        national_config,
        selection=dataclasses.replace(
            national_config.selection, category_1_count=2, category_2_max=1, category_2_spread=0.3
        ),
    )
    udir = pl.DataFrame(
        {
            "unit_code": ["A", "B", "C", "D", "E", "F"],
            "udir_rank": [1, 2, 3, 4, 5, None],
            "risk_share": [0.9, 0.8, 0.7, 0.6, 0.5, None],
            "schools_scored": [1, 1, 3, 3, 1, 0],
            "school_spread": [0.0, 0.0, 0.5, 0.5, 0.0, None],
            "has_worst_quartile_school": [False, False, True, True, False, False],
        },
        schema_overrides={"udir_rank": pl.UInt32},
    )
    holistic = pl.DataFrame(
        {"unit_code": ["A", "B", "C", "D", "E", "F"], "holistic_rank": [3, 1, 2, 5, 4, None]}
    )
    with_all = without_scheme(udir, holistic, [], config).sort("unit_code")
    # With everyone: category 1 = A, B; category 2 = C (spread, a worst school, highest share).
    assert with_all["udir_category_without_scheme"].to_list() == [1, 1, 2, None, None, None]
    assert with_all["holistic_rank_without_scheme"].to_list() == [3, 1, 2, 5, 4, None]
    # A and B in the scheme: category 1 filled from the next (C, D), category 2 from the rest (none
    # qualifies: E has one school); the holistic rank counted among C, D, E, F.
    without = without_scheme(udir, holistic, ["A", "B"], config).sort("unit_code")
    assert without["unit_code"].to_list() == ["C", "D", "E", "F"]
    assert without["udir_category_without_scheme"].to_list() == [1, 1, None, None]
    assert without["holistic_rank_without_scheme"].to_list() == [1, 3, 2, None]


# --- the configuration ------------------------------------------------------------------------------


def test_the_scheme_section_is_checked():
    import tomllib

    from pipelines.config import DEFAULT_CONFIG

    data = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    assert parse_config(data, "utvalg.toml").scheme == SCHEME
    for bad, expected in (
        ({"forfase_years": 3, "total_years": 3}, "must be more than 'forfase_years'"),
        ({"recently_out_year": 2}, "did you mean 'recently_out_years'"),
        ({"total_years": "3"}, "'total_years' must be int"),
        ({"forfase_years": 0}, "'forfase_years' must be at least 1"),
    ):
        with pytest.raises(ConfigError, match=expected):
            parse_config({**data, "scheme": bad}, "utvalg.toml")


# --- historic cohorts -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapping(registers: Registers) -> pl.DataFrame:
    return municipality_mapping(registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE)


def test_historic_cohorts_are_mapped_to_todays_kommuner(mapping, registers):
    data = "kommunenummer;første skoleår\n1507;2021-22\n3001;2020-21\n301;2022-23\n3101;2024-25\n".encode()
    rows = cohort_rows(data, "kull.csv", mapping, registers.codes(NEWEST_STRUCTURE))
    found = {
        (r["source_code"], r["municipality_code"], r["link"], r["source_line"])
        for r in rows.iter_rows(named=True)
    }
    assert found == {
        # Ålesund was split in 2024: the support went to the whole former kommune, so both successors.
        ("1507", "1508", "split", "line 2"),
        ("1507", "1580", "split", "line 2"),
        ("3001", "3101", "recode", "line 3"),  # Halden, 2020 number
        ("0301", "0301", "unchanged", "line 4"),  # a leading zero lost by a spreadsheet
        ("3101", "3101", "unchanged", "line 5"),  # today's number
    }


def test_the_lists_the_cohorts_were_chosen_from_are_mapped_and_recorded_with_the_cohorts(tmp_path, registers):
    cohorts = tmp_path / "kull.csv"
    cohorts.write_text("kommunenummer;første skoleår\n1018;2018-19\n", encoding="utf-8")
    lists = tmp_path / "lister.csv"
    # 2017-18's Kristiansand (1001) and Søgne (1018) are today's Kristiansand (4204); 1507 Ålesund split.
    lists.write_text(
        "første skoleår;kommunenummer;rangering\n2018-19;1001;5\n2018-19;1018;3\n2021-22;1507;4\n"
        "2018-19;0301;40\n",
        encoding="utf-8",
    )
    register = Register(tmp_path / "register.duckdb")
    import_scheme(cohorts, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register, lists)
    found = recorded_lists(register)
    assert set(found.select("first_school_year", "municipality_code", "rank").iter_rows()) == {
        ("2018-19", "4204", 3),  # merged: the best rank of its former kommuner
        ("2021-22", "1508", 4),
        ("2021-22", "1580", 4),  # split: both successors, as the cohorts
        ("2018-19", "0301", 40),
    }


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            "første skoleår;kommunenummer;rangering\n2018-19;0301;0\n",
            "line 2, column rangering",
            "not a rank",
        ),
        (
            "første skoleår;kommunenummer;rangering\n2018-19;0301;x\n",
            "line 2, column rangering",
            "not a rank",
        ),
        (
            "første skoleår;kommunenummer;rangering\n2018-19;0301;1\n2018-19;1101;1\n",
            "line 3, column rangering",
            "twice",
        ),
        ("første skoleår;kommunenummer\n2018-19;0301\n", "line 1", "'rangering' missing"),
    ],
)
def test_a_wrong_list_refuses_the_cohorts_too(tmp_path, registers, text, where, message):
    cohorts = tmp_path / "kull.csv"
    cohorts.write_text("kommunenummer;første skoleår\n0301;2018-19\n", encoding="utf-8")
    lists = tmp_path / "lister.csv"
    lists.write_text(text, encoding="utf-8")
    register = Register(tmp_path / "register.duckdb")
    with pytest.raises(RecordError, match=message) as error:
        import_scheme(cohorts, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register, lists)
    assert str(error.value).startswith(f"lister.csv, {where}")
    assert register.tables() == []


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            "kommunenummer;første skoleår\n0301;2021-22\n9998;2021-22\n",
            "line 3, column kommunenummer",
            "9998",
        ),
        (
            "kommunenummer;første skoleår\n0301;2021/22\n",
            "line 2, column første skoleår",
            "not a school year",
        ),
        (
            "kommunenummer;første skoleår\n0301;2021-23\n",
            "line 2, column første skoleår",
            "not a school year",
        ),
        (
            "kommunenummer;første skoleår\n0301;2005-06\n",
            "line 2, column første skoleår",
            "before the scheme",
        ),
        (
            "kommunenummer;første skoleår\n0301;2021-22\n0301;2021-22\n",
            "line 3, column kommunenummer",
            "twice",
        ),
        ("kommune;første skoleår\n0301;2021-22\n", "line 1, column 1", "unknown column 'kommune'"),
        ("kommunenummer;første skoleår\n0301\n", "line 2", "1 cells, the header has 2"),
        ("kommunenummer;første skoleår\n", "", "no rows"),
    ],
)
def test_a_wrong_cohort_list_is_refused_whole(tmp_path, mapping, registers, text, where, message):
    path = tmp_path / "kull.csv"
    path.write_text(text, encoding="utf-8")
    register = Register(tmp_path / "register.duckdb")
    with pytest.raises(RecordError, match=message) as error:
        import_scheme(path, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register)
    assert str(error.value).startswith(f"kull.csv, {where}" if where else "kull.csv: ")
    assert register.tables() == []


def test_not_utf8_is_refused(tmp_path, registers):
    path = tmp_path / "kull.csv"
    path.write_bytes("kommunenummer;første skoleår\n0301;2021-22\n".encode("cp1252"))
    with pytest.raises(RecordError, match="not UTF-8"):
        import_scheme(
            path, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, Register(tmp_path / "r.duckdb")
        )


def test_a_re_import_is_a_new_version_only_when_it_changed(tmp_path, registers):
    register = Register(tmp_path / "register.duckdb")
    changes = load_changes(REFERENCE_DIR)
    path = tmp_path / "kull.csv"
    path.write_text("kommunenummer,første skoleår\n0301,2021-22\n", encoding="utf-8")
    assert import_scheme(path, registers, changes, NEWEST_STRUCTURE, register)[1] == 1
    renamed = tmp_path / "kull-kopi.csv"
    shutil.copy(path, renamed)
    assert import_scheme(renamed, registers, changes, NEWEST_STRUCTURE, register)[1] is None
    path.write_text("kommunenummer,første skoleår\n0301,2022-23\n4601,2021-22\n", encoding="utf-8")
    assert import_scheme(path, registers, changes, NEWEST_STRUCTURE, register)[1] == 2
    assert register.read(COHORTS).height == 3  # nothing overwritten
    in_force = cohorts(register, "2030-31")
    assert in_force.select("municipality_code", "first_school_year").rows() == [
        ("0301", "2022-23"),
        ("4601", "2021-22"),
    ]


# --- applications -----------------------------------------------------------------------------------


def test_applications_are_recorded_and_checked(tmp_path, registers):
    register = Register(tmp_path / "register.duckdb")
    path = tmp_path / "søknader.csv"
    path.write_text(
        "eier;dato;begrunnelse\n4601;12.09.2025;Svake resultater over tid\n46;2025-09-30;Frafall\n",
        encoding="utf-8",
    )
    rows, version = import_application_list(path, "2025-26", registers, NEWEST_STRUCTURE, register)
    assert version == 1
    assert rows.select("owner_code", "owner_kind").rows() == [("4601", "kommune"), ("46", "fylkeskommune")]
    for text, message in (
        (
            "eier;dato;begrunnelse\n4601;12.07.2025;x\n",
            "line 2, column dato: 12.07.2025 is in school year 2024-25",
        ),
        ("eier;dato;begrunnelse\n9998;12.09.2025;x\n", "line 2, column eier: '9998' is neither"),
        ("eier;dato;begrunnelse\n4601;31.09.2025;x\n", "line 2, column dato: '31.09.2025' is not a date"),
        ("eier;dato;begrunnelse\n4601;12.09.2025;\n", "line 2, column begrunnelse"),
        (
            "eier;dato;begrunnelse\n4601;12.09.2025;x\n4601;13.09.2025;y\n",
            "line 3, column eier: 4601 is listed twice",
        ),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RecordError, match=message):
            import_application_list(path, "2025-26", registers, NEWEST_STRUCTURE, register)
    assert register.read(APPLICATIONS)["version"].unique().to_list() == [1]


# --- decisions, CSV ---------------------------------------------------------------------------------


LISTED = {"0301": "Oslo", "4601": "Bergen"}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "skoleår;kommunenummer;beslutning\n2025-26;5001;tilbud\n",
            "line 2, column kommunenummer: kommune 5001 is neither",
        ),
        (
            "skoleår;kommunenummer;beslutning\n2025-26;x301;tilbud\n",
            "line 2, column kommunenummer: 'x301' is not",
        ),
        (
            "skoleår;kommunenummer;beslutning\n2024-25;0301;tilbud\n",
            "line 2, column skoleår: school year 2024-25",
        ),
        ("skoleår;kommunenummer;beslutning\n2025-26;0301;kanskje\n", "'kanskje' is not a decision"),
        (
            "skoleår;kommunenummer;beslutning\n2025-26;0301;tilbud\n2025-26;301;ikke tilbud\n",
            "line 3, column kommunenummer: kommune 0301 is decided twice",
        ),
        ("skoleår;kommune;beslutning\n2025-26;0301;tilbud\n", "unknown column 'kommune'"),
    ],
)
def test_a_wrong_decision_list_is_refused(text, message):
    with pytest.raises(RecordError, match=message):
        decision_rows(text.encode(), "vedtak.csv", "2025-26", LISTED)


def test_a_decision_list_read():
    rows = decision_rows(
        "\ufeffSkoleår;Kommunenummer;Beslutning\n2025-26;0301;Tilbud\n\n2025-26;4601;ikke tilbud\n".encode(),
        "vedtak.csv",
        "2025-26",
        LISTED,
    )
    assert rows.select("municipality_code", "decision", "source_line").rows() == [
        ("0301", "tilbud", "line 2, column kommunenummer"),
        ("4601", "ikke tilbud", "line 4, column kommunenummer"),
    ]


# --- the round trip on the national sample ----------------------------------------------------------


def _fill_workbook(source: Path, target: Path, answers: dict[int, str]) -> dict[str, str]:
    """A governor answers rows (0-based among the listed) with openpyxl and saves the workbook; the
    answers by kommune number."""
    book = openpyxl.load_workbook(source)
    sheet = book["Vurdering"]
    headings = [cell.value for cell in sheet[HEADER_ROW + 1]]
    column = headings.index(REVIEW_FIELDS["recommendation"][0]) + 1
    for row, answer in answers.items():
        sheet.cell(row=HEADER_ROW + 2 + row, column=column, value=answer)
    book.save(target)
    return {sheet.cell(row=HEADER_ROW + 2 + row, column=1).value: answer for row, answer in answers.items()}


def test_round_trip_from_the_run_to_the_decision(national_run: FlowRun, published, tmp_path):
    year_folder = published["root"].parents[1] / SCHOOL_YEAR  # reports/<school-year>, as readers see it
    register = Register(tmp_path / "register.duckdb")
    candidates = national_run.table("candidates")
    assert {"applicant", "scheme_status", "udir_category_without_scheme"} <= set(candidates.columns)
    # Without any record, nobody is in the scheme and the with/without columns agree.
    assert candidates["scheme_status"].null_count() == candidates.height
    assert candidates["udir_category_without_scheme"].equals(candidates["udir_category"], check_names=False)
    workbooks = sorted(published["workbooks"].glob("*.xlsx"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    answered = _fill_workbook(workbooks[0], inbox / workbooks[0].name, {0: "anbefales", 1: "anbefales ikke"})
    report = import_path(inbox, year_folder, SCHOOL_YEAR, register)
    assert report.refused == [] and len(report.imported) == 1
    office = report.imported[0][1]

    summary = tmp_path / "oppsummering.xlsx"
    table = write_summary(year_folder, register, summary)
    listed = candidates.filter(ON_LIST | pl.col("applicant"))
    assert table.height == listed.height
    mine = table.filter(pl.col("Statsforvalter") == office)
    shown = dict(mine.select("Kommunenr", "Embetets anbefaling").iter_rows())
    expected = {"anbefales": "anbefalt", "anbefales ikke": "ikke anbefalt"}
    assert {code: shown[code] for code in answered} == {c: expected[a] for c, a in answered.items()}
    assert set(shown.values()) == {"anbefalt", "ikke anbefalt", NOT_REVIEWED}
    others = table.filter(pl.col("Statsforvalter") != office)
    assert set(others["Embetets anbefaling"]) == {NOT_ANSWERED}
    assert write_summary(year_folder, register, tmp_path / "igjen.xlsx").equals(table)
    assert (tmp_path / "igjen.xlsx").read_bytes() == summary.read_bytes()

    # Udir fills in its decision column and returns the workbook.
    book = openpyxl.load_workbook(summary)
    sheet = book[SUMMARY_SHEET]
    column = [c.value for c in sheet[HEADER_ROW + 1]].index(DECISION_HEADING) + 1
    chosen = mine["Kommunenr"].to_list()[:1]
    sheet.cell(
        row=HEADER_ROW + 2 + table["Kommunenr"].to_list().index(chosen[0]), column=column, value="tilbud"
    )
    filled = tmp_path / "oppsummering-utfylt.xlsx"
    book.save(filled)
    rows, version = decide(filled, year_folder, register)
    assert version == 1 and rows["municipality_code"].to_list() == chosen
    assert decide(filled, year_folder, register)[1] is None  # the same decision again: nothing new
    # Next school year's list: the decided kommune starts its forfase and is in the scheme.
    periods = support_periods(cohorts(register, "2026-27"), SCHEME)
    assert periods.select("municipality_code", "first_school_year", "origin").rows() == [
        (chosen[0], "2026-27", "besluttet")
    ]
    assert scheme_status(periods, "2026-27", SCHEME)["scheme_status"].to_list() == [IN_SCHEME]
    # This year's list does not change: the decision starts next year.
    assert cohorts(register, SCHOOL_YEAR).is_empty()
    # The list the cohort was chosen from is recorded with the decision, as published: Udir's rule's
    # ranks (nobody is in the scheme here, so the rank is the rule's own).
    ranked = candidates.filter(pl.col("udir_rank").is_not_null()).sort("udir_rank")
    found = recorded_lists(register)
    assert found["first_school_year"].unique().to_list() == ["2026-27"]
    assert found.select("municipality_code", "rank").rows() == list(
        zip(ranked["municipality_code"], range(1, ranked.height + 1), strict=True)
    )
    assert ranked["udir_rank"].to_list() == list(range(1, ranked.height + 1))


def test_a_returned_summary_workbook_is_checked_cell_by_cell(national_run: FlowRun, published, tmp_path):
    year_folder = published["root"].parents[1] / SCHOOL_YEAR  # reports/<school-year>, as readers see it
    register = Register(tmp_path / "register.duckdb")
    summary = tmp_path / "oppsummering.xlsx"
    table = write_summary(year_folder, register, summary)
    column = table.columns.index(DECISION_HEADING) + 1

    def returned(edit) -> Path:
        book = openpyxl.load_workbook(summary)
        edit(book)
        path = tmp_path / "tilbake.xlsx"
        book.save(path)
        return path

    letter = openpyxl.utils.get_column_letter(column)
    bad = returned(lambda b: b[SUMMARY_SHEET].cell(row=HEADER_ROW + 2, column=column, value="kanskje"))
    with pytest.raises(RecordError, match=f"sheet Oppsummering, cell {letter}{HEADER_ROW + 2}: 'kanskje'"):
        decide(bad, year_folder, register)

    def stranger(book):
        book[SUMMARY_SHEET].cell(row=HEADER_ROW + 2, column=1, value="5001")
        book[SUMMARY_SHEET].cell(row=HEADER_ROW + 2, column=column, value="tilbud")

    if "5001" not in set(table["Kommunenr"]):
        with pytest.raises(RecordError, match=f"cell A{HEADER_ROW + 2}: kommune 5001 is neither"):
            decide(returned(stranger), year_folder, register)

    def twice(book):
        sheet = book[SUMMARY_SHEET]
        sheet.cell(row=HEADER_ROW + 3, column=1, value=sheet.cell(row=HEADER_ROW + 2, column=1).value)
        for row in (HEADER_ROW + 2, HEADER_ROW + 3):
            sheet.cell(row=row, column=column, value="tilbud")

    with pytest.raises(RecordError, match="decided twice"):
        decide(returned(twice), year_folder, register)
    with pytest.raises(RecordError, match="sheet Kontroll, cell B2: school year 2024-25"):
        decide(
            returned(lambda b: b["Kontroll"].cell(row=2, column=2, value="2024-25")), year_folder, register
        )
    with pytest.raises(RecordError, match="no decision"):
        decide(summary, year_folder, register)
    assert register.tables() == []  # nothing recorded on any error
    not_xlsx = tmp_path / "tom.xlsx"
    not_xlsx.write_bytes(b"not a workbook")
    with pytest.raises(RecordError, match="not a readable xlsx"):
        decide(not_xlsx, year_folder, register)
    assert DECISIONS_TABLE not in register.tables()


@pytest.fixture(scope="module")
def applied(national_sample, national_run: FlowRun, tmp_path_factory, registers) -> dict:
    """A run with historic cohorts and two applications in the register (a kommune not on the list and
    the fylkeskommune of its county): the one extra materialisation of this module."""
    tmp_path = tmp_path_factory.mktemp("applied")
    first = national_run.table("candidates")
    category_1 = first.filter(pl.col("udir_category") == 1).sort("udir_rank")
    in_scheme, recently_out = category_1["municipality_code"][0], category_1["municipality_code"][1]
    outside = first.filter(~ON_LIST)["municipality_code"][0]
    county = outside[:2]
    register = Register(tmp_path / "register.duckdb")
    kull = tmp_path / "kull.csv"
    kull.write_text(
        f"kommunenummer;første skoleår\n{in_scheme};2024-25\n{recently_out};2021-22\n", encoding="utf-8"
    )
    import_scheme(kull, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register)
    applications = tmp_path / "søknader.csv"
    applications.write_text(
        "eier;dato;begrunnelse\n"
        f"{outside};15.09.2025;Ønsker støtte\n{county};01.10.2025;Svak gjennomføring\n",
        encoding="utf-8",
    )
    import_application_list(applications, SCHOOL_YEAR, registers, NEWEST_STRUCTURE, register)
    run = run_sample(tmp_path, national_sample, register=register.path)
    codes = {"in_scheme": in_scheme, "recently_out": recently_out, "outside": outside, "county": county}
    return {"run": run, "codes": codes, "reports": tmp_path / "reports"}


def _office_workbook(folder: Path, office: str) -> Path:
    (workbook,) = [
        p
        for p in (folder / "statsforvaltere").glob("*.xlsx")
        if openpyxl.load_workbook(p)["Kontroll"]["B4"].value == office
    ]
    return workbook


def test_the_next_list_marks_the_scheme_and_applicants(national_run: FlowRun, applied):
    """A run with historic cohorts and an application in the register: the list marks them, Udir's rule
    and the holistic rank are shown without the kommuner in the scheme, and provenance names the
    register's content."""
    run = applied["run"]
    in_scheme, recently_out, outside = (applied["codes"][k] for k in ("in_scheme", "recently_out", "outside"))
    frame = run.table("candidates")
    by_code = {row["municipality_code"]: row for row in frame.iter_rows(named=True)}
    assert by_code[in_scheme]["scheme_status"] == IN_SCHEME
    assert (
        by_code[in_scheme]["scheme_first_school_year"],
        by_code[in_scheme]["scheme_last_school_year"],
    ) == (
        "2024-25",
        "2026-27",
    )
    assert by_code[recently_out]["scheme_status"] == RECENTLY_OUT
    assert by_code[in_scheme]["udir_category_without_scheme"] is None
    assert by_code[in_scheme]["holistic_rank_without_scheme"] is None
    assert by_code[outside]["applicant"] and frame["applicant"].sum() == 1
    # Category 1 without the two is still the configured count, filled from the next ranked kommuner.
    count = run.table("udir_risk_points").height and (frame["udir_category_without_scheme"] == 1).sum()
    assert count == (frame["udir_category"] == 1).sum()
    rest = frame.filter(pl.col("scheme_status").is_null() & pl.col("holistic_rank").is_not_null())
    assert sorted(rest["holistic_rank_without_scheme"].to_list()) == list(range(1, rest.height + 1))
    # The applicant is in its governor's workbook, marked, though not a statistical candidate.
    office = by_code[outside]["statsforvalter"]
    folder = Path(run.metadata("candidate_files")["folder"])
    workbook = _office_workbook(folder, office)
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.read_bytes()))["Vurdering"]
    rows = list(sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    headings = list(rows[0])
    (mine,) = [r for r in rows[1:] if r[0] == outside]
    assert mine[headings.index("Søker")] == "søkte 15.09.2025"
    recorded = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))["register"]
    before = json.loads((published_root(national_run) / "provenance.json").read_text(encoding="utf-8"))
    assert recorded != before["register"]  # the register's content is part of the run's inputs


def test_a_fylkeskommune_that_applied_is_reviewed_and_decided(applied, national_config, registers, tmp_path):
    """As a governor and Udir meet it: the fylkeskommune that applied is on its office's review sheet with
    its evidence and review cells, its answer is imported and shown, and Udir decides it; an edited
    evidence cell of its row and a decision on a fylkeskommune that did not apply are refused."""
    run, county = applied["run"], applied["codes"]["county"]
    counties = run.table("fylkeskommune_candidates")
    assert counties.filter(pl.col("applicant"))["county_code"].to_list() == [county]
    row = counties.filter(pl.col("county_code") == county).row(0, named=True)
    assert row["application_date"].isoformat() == "2025-10-01"
    assert county not in set(run.table("candidates")["municipality_code"])  # not on the kommune list
    folder = Path(run.metadata("candidate_files")["folder"])
    year_folder = applied["reports"] / SCHOOL_YEAR
    workbook = _office_workbook(folder, row["statsforvalter"])

    book = openpyxl.load_workbook(workbook)
    sheet = book["Vurdering"]
    headings = [c.value for c in sheet[HEADER_ROW + 1]]
    codes = [r[0].value for r in sheet.iter_rows(min_row=HEADER_ROW + 2)]
    index = codes.index(county)
    mine = {h: c for h, c in zip(headings, sheet[HEADER_ROW + 2 + index], strict=True)}
    assert mine["Kommune"].value == f"{row['county_name']} fylkeskommune"
    assert mine["Søker"].value == "søkte 01.10.2025" and mine["Listegruppe"].value == 5
    assert mine["Helhetlig vurdering"].value == row["tier"] and mine["Forklaring"].value == row["explanation"]
    # Its probability and rank are among fylkeskommuner: stated in the explanation, not in a kommune's column.
    assert mine["Rangering"].value is None
    recommendation = mine[REVIEW_FIELDS["recommendation"][0]]
    assert not recommendation.protection.locked and mine["Helhetlig vurdering"].protection.locked
    (dropdown,) = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert recommendation.coordinate in dropdown.sqref
    # Its indicators are the fylkeskommune's, the means of its published figures (none hidden shown).
    indicators = [r for r in book["Indikatorer"].iter_rows(min_row=2, values_only=True) if r[0] == county]
    assert [r[2] for r in indicators] == [i.label for i in national_config.for_owner("fylkeskommune")]
    shown = run.table("published_figures").filter(
        (pl.col("level") == "county") & (pl.col("unit_code") == county) & ~pl.col("hidden")
    )
    means = dict(shown.group_by("indicator_id").agg(pl.col("value").mean()).iter_rows())
    labels = {i.label: i.id for i in national_config.indicators}
    for r in indicators:
        expected = means.get(labels[r[2]])
        assert r[4] == (None if expected is None else round(expected, 1))

    register = Register(tmp_path / "register.duckdb")
    edited = tmp_path / "endret"
    edited.mkdir()
    mine["Helhetlig vurdering"].value = (
        "klar kandidat" if row["tier"] != "klar kandidat" else "grensetilfelle"
    )
    book.save(edited / workbook.name)
    report = import_path(edited, year_folder, SCHOOL_YEAR, register)
    assert len(report.refused) == 1 and "evidence edited" in report.refused[0][1]
    assert f"cell {mine['Helhetlig vurdering'].coordinate}" in report.refused[0][1]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert _fill_workbook(workbook, inbox / workbook.name, {index: "anbefales"}) == {county: "anbefales"}
    report = import_path(inbox, year_folder, SCHOOL_YEAR, register)
    assert report.refused == [] and report.imported[0][2] == len(codes)

    answers = latest_reviews(register.read(REVIEWS)).filter(pl.col("municipality_code") == county)
    assert answers["recommendation"].to_list() == ["anbefales"]
    listed = published_candidates(year_folder)
    status = review_status(listed, register.read(REVIEWS), register.read(DECISIONS_TABLE), SCHOOL_YEAR)
    (shown_status,) = status.filter(pl.col("municipality_code") == county).iter_rows(named=True)
    assert (shown_status["basis"], shown_status["review_status"]) == (APPLICANT, "anbefalt")
    progress = office_progress(status, register.read(REVIEWS), SCHOOL_YEAR)
    office = progress.filter(pl.col("statsforvalter") == row["statsforvalter"]).row(0, named=True)
    assert (office["listed"], office["reviewed"]) == (len(codes), 1)
    summary = write_summary(year_folder, register, tmp_path / "oppsummering.xlsx")
    assert summary.filter(pl.col("Kommunenr") == county)["Embetets anbefaling"].to_list() == ["anbefalt"]

    other = counties.filter(~pl.col("applicant"))["county_code"][0]
    refused = tmp_path / "vedtak-feil.csv"
    refused.write_text(f"skoleår;kommunenummer;beslutning\n{SCHOOL_YEAR};{other};tilbud\n", encoding="utf-8")
    with pytest.raises(RecordError, match=f"line 2, column kommunenummer: fylkeskommune {other} is neither"):
        decide(refused, year_folder, register)
    assert DECISIONS_TABLE not in register.tables()
    vedtak = tmp_path / "vedtak.csv"
    vedtak.write_text(f"skoleår;kommunenummer;beslutning\n{SCHOOL_YEAR};{county};tilbud\n", encoding="utf-8")
    rows, version = decide(vedtak, year_folder, register)
    assert version == 1 and rows["municipality_code"].to_list() == [county]
    # The recorded list leaves out the kommuner in the scheme or recently out, and ranks the rest 1, 2, …
    # in the rule's order, as the follow-up remakes a list.
    in_scheme, recently_out = (applied["codes"][k] for k in ("in_scheme", "recently_out"))
    ranked = (
        listed.filter(pl.col("udir_rank").is_not_null() & pl.col("scheme_status").is_null())
        .sort("udir_rank")["municipality_code"]
        .to_list()
    )
    decided_list = recorded_lists(register)
    assert decided_list.select("municipality_code", "rank").rows() == [
        (code, rank) for rank, code in enumerate(ranked, start=1)
    ]
    assert {in_scheme, recently_out}.isdisjoint(decided_list["municipality_code"])
    assert decided_list["rank"][0] == 1 and listed.filter(pl.col("udir_rank") == 1)[
        "municipality_code"
    ].to_list() == [in_scheme]
    # The scheme is for school owners: the fylkeskommune gets the same three years from next school year.
    periods = support_periods(cohorts(register, "2026-27"), SCHEME)
    assert periods.select("municipality_code", "first_school_year", "last_school_year").rows() == [
        (county, "2026-27", "2028-29")
    ]
    # A historic list imported later for the same cohort does not replace the one Udir decided on.
    lists = tmp_path / "lister.csv"
    lists.write_text(f"første skoleår;kommunenummer;rangering\n2026-27;{in_scheme};1\n", encoding="utf-8")
    kull = tmp_path / "kull.csv"
    kull.write_text(
        f"kommunenummer;første skoleår\n{in_scheme};2024-25\n{recently_out};2021-22\n", encoding="utf-8"
    )
    import_scheme(kull, registers, load_changes(REFERENCE_DIR), NEWEST_STRUCTURE, register, lists)
    assert recorded_lists(register).equals(decided_list)

    dashboard = folder / "dashboard"
    badge = "Søker om oppfølging (01.10.2025)"
    assert (dashboard / "fylkeskommuner.html").read_text(encoding="utf-8").count(badge) == 1
    assert badge in (dashboard / "fylkeskommuner" / f"{county}.html").read_text(encoding="utf-8")
    assert f'href="fylkeskommuner/{county}.html"' in (dashboard / "status.html").read_text(encoding="utf-8")


def test_the_commands_and_their_exit_codes(tmp_path, capsys):
    from pipelines.cli import main

    register = str(tmp_path / "register.duckdb")
    kull = tmp_path / "kull.csv"
    kull.write_text("kommunenummer;første skoleår\n1507;2021-22\n", encoding="utf-8")
    assert main(["scheme", "import", str(kull), "--register", register]) == 0
    assert "1507 (2021-22) → 1580: split" in capsys.readouterr().out
    assert main(["scheme", "import", str(kull), "--register", register]) == 0
    assert "nothing recorded" in capsys.readouterr().out
    kull.write_text("kommunenummer;første skoleår\n9998;2021-22\n", encoding="utf-8")
    assert main(["scheme", "import", str(kull), "--register", register]) == 1
    assert "kull.csv, line 2, column kommunenummer" in capsys.readouterr().err
    vedtak = tmp_path / "vedtak.csv"
    vedtak.write_text("skoleår;kommunenummer;beslutning\n2025-26;0301;tilbud\n", encoding="utf-8")
    arguments = ["--register", register, "--reports", str(tmp_path / "reports"), "--year", "2025-26"]
    assert main(["decide", str(vedtak), *arguments]) == 1
    assert "no published list" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["decide"])
    assert usage.value.code == 2
    assert Register(Path(register)).read(DECISIONS_TABLE).is_empty()
