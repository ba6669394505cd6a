"""Harmonisation to the 2024 structure on the real 2019→2020 and 2023→2024 changes."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from pipelines.harmonise.harmonise import Target, harmonise
from pipelines.ingest.collect import parse_folder
from pipelines.reference.mapping import load_changes, target_mappings
from pipelines.reference.registers import Registers, municipality_register
from pipelines.settings import REFERENCE_DIR
from pipelines.validate.observations import validate_observations
from tests.conftest import GSP
from tests.portal_files import county, municipality, national, np5_columns, portal_bytes, school


@pytest.fixture(scope="module")
def target(registers: Registers) -> Target:
    """The 2024 target from the tables the reference assets build, as the harmonise asset gets it."""
    kommune_mapping, fylke_mapping = target_mappings(registers, load_changes(REFERENCE_DIR), 2024)
    register = municipality_register(registers, 2024)
    return Target.from_tables(2024, kommune_mapping, fylke_mapping, register)


def harmonised_from(folder: Path, registers, target):  # type: ignore[no-untyped-def]
    parsed = parse_folder(folder, registers)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    # Only the national row repeated by a multi-year export may be set aside, as a duplicate.
    assert quarantine.filter(pl.col("stage") != "duplicate").is_empty(), quarantine
    return harmonise(observations, target)


def one(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    rows = frame.filter(*[pl.col(k) == v for k, v in where.items()])
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_mapping_kinds_for_the_real_reforms(target):
    links = target.municipality_links

    def targets(structure: int, code: str) -> list[tuple[str, str]]:
        rows = links.filter((pl.col("source_structure") == structure) & (pl.col("source_code") == code))
        return sorted(rows.select("target_code", "kind").iter_rows())

    assert targets(2020, "1507") == [("1508", "split"), ("1580", "split")]
    assert targets(2020, "3024") == [("3201", "recode")]
    assert targets(2019, "0219") == [("3201", "recode")]
    assert targets(2019, "0220") == [("3203", "merge")]  # Asker, Røyken, Hurum → Asker
    assert targets(2019, "1850") == [("1806", "split"), ("1875", "split")]  # Tysfjord
    assert targets(2019, "5012") == [("5055", "split"), ("5056", "split"), ("5059", "split")]
    assert targets(2024, "0301") == [("0301", "unchanged")]
    counts = dict(links.filter(pl.col("source_structure") == 2020).group_by("kind").len().iter_rows())
    assert counts == {"unchanged": 245, "recode": 113, "split": 2}
    # Every kommune of the target structure receives something from every structure.
    for structure in (2013, 2019, 2020):
        reached = set(links.filter(pl.col("source_structure") == structure)["target_code"].to_list())
        assert reached == set(target.municipality_names)


def test_real_grunnskolepoeng_2019_2020_never_counts_a_figure_twice(tmp_path, registers, target):
    (tmp_path / GSP.name).write_bytes(GSP.read_bytes())
    harmonised, _ = harmonised_from(tmp_path, registers, target)
    kommuner = harmonised.filter(pl.col("level") == "municipality")
    # Bærum is published as 0219 and, back-filled, as 3024 with the same figures: counted once.
    baerum = one(kommuner, unit_code="3201", school_year="2016-17")
    assert (baerum["value"], baerum["n"], baerum["lineage"]) == (43.9, 1499, "recode")
    assert "also published as 0219" in baerum["lineage_note"]
    assert baerum["unit_name"] == "Bærum" and baerum["county_code"] == "32"
    # Asker 2018-19 is the merge of 0220 Asker with Røyken and Hurum, which the excerpt lacks.
    asker = one(kommuner, unit_code="3203", school_year="2018-19")
    assert asker["lineage"] == "merge" and asker["value"] == 43.6
    assert "parts not in the data (left out): 0627, 0628" in asker["lineage_note"]
    # From 2019-20 Asker is published under 3025 (2020 codes), recoded to 3203.
    assert one(kommuner, unit_code="3203", school_year="2019-20")["lineage"] == "recode"
    assert kommuners_are_target_codes(kommuner, target)


def kommuners_are_target_codes(kommuner: pl.DataFrame, target) -> bool:  # type: ignore[no-untyped-def]
    return set(kommuner["unit_code"].to_list()) <= set(target.municipality_names)


@pytest.fixture
def reform_folder(tmp_path: Path) -> Path:
    """A 2023-24 file in 2020 codes and a 2024-25 file in 2024 codes that back-fills 2023-24."""
    old = np5_columns("2023-24")
    (tmp_path / "2023-24_np5.csv").write_bytes(
        portal_bytes(
            old,
            [
                national(["50", "0,1", "55 000"]),
                county("15", "Møre og Romsdal", ["49", "0,4", "2 500"]),
                municipality("15", "1507", "Ålesund (2020 - 2023)", ["48", "1,0", "600"]),
                school("15", "1507", "974548658", "Ålesund A skole", ["46", "2,0", "100"]),
                school("15", "1507", "974548666", "Haram B skule", ["52", "3,0", "50"]),
                school("15", "1507", "974548674", "Nedlagt C skole", ["*", "*", "*"]),
                municipality("30", "3024", "Bærum (2020 - 2023)", ["53", "0,7", "1 500"]),
                municipality("54", "5444", "Sør-Varanger (2020 - 2023)", ["*", "*", "*"]),
                municipality("54", "2100", "Svalbard", ["47", "4,0", "20"]),
                municipality("30", "3001", "Halden (2020 - 2023)", ["47", "1,5", "300"]),
            ],
        )
    )
    new = np5_columns("2023-24") + np5_columns("2024-25")
    (tmp_path / "2024-25_np5.csv").write_bytes(
        portal_bytes(
            new,
            [
                national(["50", "0,1", "55 000", "51", "0,1", "56 000"]),
                municipality("15", "1508", "Ålesund", ["", "", "", "49", "1,1", "500"]),
                school("15", "1508", "974548658", "Ålesund A skole", ["", "", "", "47", "2,0", "100"]),
                municipality("15", "1580", "Haram", ["", "", "", "53", "3,1", "60"]),
                school("15", "1580", "974548666", "Haram B skule", ["", "", "", "53", "3,1", "60"]),
                municipality("32", "3201", "Bærum", ["53", "0,7", "1 500", "54", "0,7", "1 550"]),
            ],
        )
    )
    return tmp_path


def test_2023_2024_reform_lands_on_2024_codes(reform_folder, registers, target):
    harmonised, unplaced = harmonised_from(reform_folder, registers, target)
    assert unplaced.is_empty()
    kommuner = harmonised.filter((pl.col("level") == "municipality") & (pl.col("school_year") == "2023-24"))
    # Split kommune rebuilt from its schools' 2024 kommune.
    alesund = one(kommuner, unit_code="1508")
    assert (alesund["value"], alesund["n"], alesund["lineage"]) == (
        46.0,
        100,
        "rebuilt_from_schools",
    )
    assert "covering 17 % of its pupils" in alesund["lineage_note"]
    haram = one(kommuner, unit_code="1580")
    assert (haram["value"], haram["n"], haram["lineage"]) == (52.0, 50, "rebuilt_from_schools")
    # Bærum 2023-24 is published under 3024 and back-filled under 3201: the 3201 row wins, once.
    baerum = one(kommuner, unit_code="3201")
    assert baerum["lineage"] == "unchanged" and baerum["n"] == 1500
    assert "also published as 3024 (recode); not counted twice" in baerum["lineage_note"]
    halden = one(kommuner, unit_code="3101")
    assert (halden["lineage"], halden["unit_name"], halden["lineage_sources"]) == (
        "recode",
        "Halden",
        "3001",
    )
    assert one(kommuner, unit_code="5605")["suppressed"] is True  # Sør-Varanger 5444 → 5605
    svalbard = one(kommuner, unit_code="2100")
    assert svalbard["is_pseudo"] is True and svalbard["value"] == 47.0
    assert kommuners_are_target_codes(kommuner, target)
    # Schools keep their organisation numbers and get their 2024 kommune.
    schools = harmonised.filter((pl.col("level") == "school") & (pl.col("school_year") == "2023-24"))
    assert one(schools, unit_code="974548666")["municipality_code"] == "1580"
    closed = one(schools, unit_code="974548674")
    assert closed["municipality_code"] is None and "kommune split" in closed["lineage_note"]


def test_split_without_school_rows_is_inherited_with_apportioned_count(tmp_path, registers, target):
    (tmp_path / "2023-24.csv").write_bytes(
        portal_bytes(
            np5_columns("2023-24"),
            [municipality("15", "1507", "Ålesund (2020 - 2023)", ["48", "1,0", "600"])],
        )
    )
    harmonised, _ = harmonised_from(tmp_path, registers, target)
    rows = harmonised.filter(pl.col("level") == "municipality").sort("unit_code")
    assert rows["unit_code"].to_list() == ["1508", "1580"]
    assert rows["lineage"].to_list() == ["inherited", "inherited"]
    assert rows["value"].to_list() == [48.0, 48.0]
    assert rows["n"].sum() == 600  # no pupil counted twice


def test_merge_is_pupil_weighted_and_leaves_suppressed_parts_out(tmp_path, registers, target):
    # 2019-20 (2019 codes): Sandefjord-era merge 2020: 0701 Horten stays; Tønsberg 0704 + Re 0716 → 3803.
    columns = np5_columns("2019-20")
    rows = [
        municipality("07", "0704", "Tønsberg", ["48", "1,0", "400"]),
        municipality("07", "0716", "Re", ["54", "2,0", "100"]),
        municipality("10", "1001", "Kristiansand", ["50", "1,0", "900"]),
        municipality("10", "1017", "Songdalen", ["*", "*", "*"]),
        municipality("10", "1018", "Søgne", ["44", "2,0", "100"]),
    ]
    (tmp_path / "2019-20.csv").write_bytes(portal_bytes(columns, rows))
    harmonised, _ = harmonised_from(tmp_path, registers, target)
    kommuner = harmonised.filter(pl.col("level") == "municipality")
    tonsberg = one(kommuner, unit_code="3905")
    assert tonsberg["value"] == pytest.approx((48 * 400 + 54 * 100) / 500)
    assert tonsberg["n"] == 500 and tonsberg["lineage"] == "merge"
    # Usikkerhet 1,0 and 2,0 are 95 % half-widths: standard errors 1/1.96 and 2/1.96.
    assert tonsberg["std_error"] == pytest.approx(math.sqrt((0.8 * 1.0) ** 2 + (0.2 * 2.0) ** 2) / 1.96)
    kristiansand = one(kommuner, unit_code="4204")
    assert kristiansand["value"] == pytest.approx((50 * 900 + 44 * 100) / 1000)
    assert "suppressed parts left out: 1017" in kristiansand["lineage_note"]
    assert kristiansand["suppressed"] is False


def test_county_splits_and_merges(tmp_path, registers, target):
    (tmp_path / "2019-20.csv").write_bytes(
        portal_bytes(
            np5_columns("2019-20"),
            [
                county("09", "Aust-Agder", ["48", "0,5", "1 000"]),
                county("10", "Vest-Agder", ["50", "0,5", "1 500"]),
            ],
        )
    )
    (tmp_path / "2022-23.csv").write_bytes(
        portal_bytes(np5_columns("2022-23"), [county("54", "Troms og Finnmark", ["48", "0,4", "2 000"])])
    )
    harmonised, _ = harmonised_from(tmp_path, registers, target)
    counties = harmonised.filter(pl.col("level") == "county")
    agder = one(counties, unit_code="42", school_year="2019-20")
    assert agder["lineage"] == "merge" and agder["value"] == pytest.approx(49.2) and agder["n"] == 2500
    troms = counties.filter(pl.col("school_year") == "2022-23").sort("unit_code")
    assert troms["unit_code"].to_list() == ["55", "56"]
    assert troms["lineage"].to_list() == ["inherited", "inherited"] and troms["n"].sum() == 2000


def test_a_quarantined_merge_part_withholds_the_merged_figure(tmp_path, registers, target):
    # Re's row names another kommune (code and name disagree): quarantined, so Tønsberg 3905 cannot be
    # the merge of 0704 and 0716; it is withheld and says why, not published as Tønsberg alone.
    columns = np5_columns("2019-20")
    rows = [
        municipality("07", "0704", "Tønsberg", ["48", "1,0", "400"]),
        municipality("07", "0716", "Horten", ["54", "2,0", "100"]),
    ]
    (tmp_path / "2019-20.csv").write_bytes(portal_bytes(columns, rows))
    parsed = parse_folder(tmp_path, registers)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    assert quarantine["reason"].str.contains("code and name disagree").all()
    harmonised, _ = harmonise(observations, target, quarantine)
    tonsberg = one(harmonised.filter(pl.col("level") == "municipality"), unit_code="3905")
    assert (tonsberg["value"], tonsberg["n"], tonsberg["std_error"]) == (None, None, None)
    assert tonsberg["lineage"] == "merge"
    assert (
        "withheld: a row it is made from or stands in for was quarantined: 2019-20.csv:"
        in tonsberg["lineage_note"]
    )
    assert "Kommunekode 0716 is kommune Re" in tonsberg["lineage_note"]
    # Without the quarantine the same observations give the figure from the part left, as before.
    unaware, _ = harmonise(observations, target)
    assert one(unaware.filter(pl.col("level") == "municipality"), unit_code="3905")["value"] == 48.0


def test_a_quarantined_own_row_is_not_silently_replaced_by_an_inherited_figure(tmp_path, registers, target):
    # Akershus (32) back-fills 2023-24 in the 2024-25 export; its 2023-24 cell is a failed formula.
    # Viken (30, split in 2024) would be inherited in its place: withheld instead, naming the cell.
    (tmp_path / "2023-24.csv").write_bytes(
        portal_bytes(np5_columns("2023-24"), [county("30", "Viken", ["49", "0,3", "12 000"])])
    )
    columns = np5_columns("2023-24") + np5_columns("2024-25")
    (tmp_path / "2024-25.csv").write_bytes(
        portal_bytes(columns, [county("32", "Akershus", ["#DIV/0!", "0,4", "6 000", "50", "0,4", "6 100"])])
    )
    parsed = parse_folder(tmp_path, registers)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    harmonised, _ = harmonise(observations, target, quarantine)
    akershus = one(harmonised.filter(pl.col("level") == "county"), unit_code="32", school_year="2023-24")
    assert akershus["lineage"] == "inherited" and akershus["value"] is None
    assert "withheld" in akershus["lineage_note"] and "'#DIV/0!'" in akershus["lineage_note"]
    ostfold = one(harmonised.filter(pl.col("level") == "county"), unit_code="31", school_year="2023-24")
    assert ostfold["value"] == 49.0 and "withheld" not in ostfold["lineage_note"]


def test_a_quarantined_school_row_withholds_the_figure_rebuilt_from_schools(tmp_path, registers, target):
    # Haram B skule's 2023-24 cell is a failed formula: Haram 1580, rebuilt from 1507's schools now in
    # it, would be Haram C alone. Withheld, naming the cell; Ålesund 1508 (its school whole) is not.
    (tmp_path / "2023-24.csv").write_bytes(
        portal_bytes(
            np5_columns("2023-24"),
            [
                municipality("15", "1507", "Ålesund (2020 - 2023)", ["48", "1,0", "600"]),
                school("15", "1507", "974548658", "Ålesund A skole", ["46", "2,0", "100"]),
                school("15", "1507", "974548666", "Haram B skule", ["#DIV/0!", "3,0", "50"]),
                school("15", "1507", "974548682", "Haram C skule", ["50", "2,0", "40"]),
            ],
        )
    )
    (tmp_path / "2024-25.csv").write_bytes(
        portal_bytes(
            np5_columns("2024-25"),
            [
                municipality("15", "1508", "Ålesund", ["49", "1,1", "500"]),
                school("15", "1508", "974548658", "Ålesund A skole", ["47", "2,0", "100"]),
                municipality("15", "1580", "Haram", ["53", "3,1", "100"]),
                school("15", "1580", "974548666", "Haram B skule", ["53", "3,1", "60"]),
                school("15", "1580", "974548682", "Haram C skule", ["53", "3,1", "40"]),
            ],
        )
    )
    parsed = parse_folder(tmp_path, registers)
    observations, quarantine = validate_observations(parsed.observations, parsed.quarantine, registers)
    assert quarantine["reason"].str.contains("'#DIV/0!'").all()
    harmonised, _ = harmonise(observations, target, quarantine)
    kommuner = harmonised.filter((pl.col("level") == "municipality") & (pl.col("school_year") == "2023-24"))
    haram = one(kommuner, unit_code="1580")
    assert haram["lineage"] == "rebuilt_from_schools"
    assert (haram["value"], haram["n"], haram["std_error"]) == (None, None, None)
    assert (
        "withheld: a row it is made from or stands in for was quarantined: 2023-24.csv:"
        in haram["lineage_note"]
    )
    assert "'#DIV/0!'" in haram["lineage_note"]
    alesund = one(kommuner, unit_code="1508")
    assert (alesund["value"], alesund["n"]) == (46.0, 100) and "withheld" not in alesund["lineage_note"]
    # Without the quarantine the same observations give Haram C's figure alone, as before.
    unaware, _ = harmonise(observations, target)
    assert (
        one(unaware.filter(pl.col("level") == "municipality"), unit_code="1580", school_year="2023-24")[
            "value"
        ]
        == 50.0
    )
