"""Encodings, separators and number formats the portal has used, and number parsing properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.ingest.portal_format import parse_export, parse_numbers, read_export
from tests.conftest import NP5

ORIGINAL = read_export(NP5)
TEXT = NP5.read_bytes().decode("utf-16-le")


def cells(export):  # type: ignore[no-untyped-def]
    return export.cells.select("source_line", "column", "value", "suppressed")


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + TEXT.encode("utf-8"), id="utf-8-bom"),
        pytest.param(b"\xff\xfe" + TEXT.encode("utf-16-le"), id="utf-16le-bom"),
        pytest.param(TEXT.encode("utf-16-be"), id="utf-16be"),
        pytest.param(TEXT.replace("\n", "\r\n").encode("utf-16-le"), id="crlf"),
        pytest.param(TEXT.replace("\t", ";").replace("sep=;", "sep=;").encode("utf-8"), id="semicolon"),
        pytest.param(TEXT.split("\n", 1)[1].encode("utf-8"), id="no-sep-line"),
        pytest.param(
            TEXT.split("\n", 1)[1].replace("\t", ";").encode("cp1252"),
            id="cp1252-semicolon-sniffed",
        ),
    ],
)
def test_same_cells_in_every_encoding_and_separator(encoded):
    export = parse_export(encoded, "variant.csv")
    expected = cells(ORIGINAL)
    if not encoded.lstrip(b"\xef\xbb\xbf\xff\xfe").startswith((b"s", b"s\x00", b"\x00s")):
        expected = expected.with_columns(pl.col("source_line") - 1)  # no sep= line
    assert cells(export).equals(expected)
    assert export.rows["EnhetNavn"].to_list() == ORIGINAL.rows["EnhetNavn"].to_list()


def portal_number(value: float, decimals: int) -> str:
    """Format a number the way the portal does: space thousands separator, decimal comma."""
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",")
    return ("-" if value < 0 and float(text.replace(" ", "").replace(",", ".")) != 0 else "") + text


def parse(texts: list[str]) -> pl.DataFrame:
    value, suppressed, problem = parse_numbers(pl.col("raw"))
    return pl.DataFrame({"raw": texts}, schema={"raw": pl.String}).select(
        value.alias("value"), suppressed.alias("suppressed"), problem.alias("problem")
    )


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False), st.integers(min_value=0, max_value=3))
def test_portal_numbers_round_trip(number, decimals):
    text = portal_number(number, decimals)
    parsed = parse([text]).row(0, named=True)
    assert parsed["problem"] is None and parsed["suppressed"] is False
    assert parsed["value"] == pytest.approx(round(number, decimals), abs=10**-decimals)


@given(st.text(alphabet="0123456789 ,.-*abcXYZ%", min_size=1, max_size=12))
def test_anything_else_is_a_problem_never_a_silent_number(text):
    parsed = parse([text]).row(0, named=True)
    stripped = text.strip()
    if stripped in ("", "*"):
        assert parsed["value"] is None and parsed["problem"] is None
        assert parsed["suppressed"] == (stripped == "*")
    elif parsed["problem"] is None:
        # Accepted text must look exactly like a portal number.
        digits = stripped.lstrip("-").replace(" ", "").replace(",", ".")
        assert parsed["value"] == pytest.approx(float(("-" if stripped.startswith("-") else "") + digits))
        assert "." not in stripped and stripped.count(",") <= 1
    else:
        assert parsed["value"] is None and stripped in parsed["problem"]


def test_thousands_separators_and_suppression_examples():
    frame = parse(["56 833", "0,8", "1 234 567,25", "*", "", "12\u00a0345", "1.5", "12 34", "abc"])
    assert frame["value"].to_list()[:3] == [56833.0, 0.8, 1234567.25]
    assert frame["suppressed"].to_list() == [
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert frame["value"][5] == 12345.0
    assert frame["problem"].to_list()[6:] != [None, None, None]
    assert all(p is not None for p in frame["problem"].to_list()[6:])
