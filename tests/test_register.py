"""The register of human records: append-only, one transaction per append, columns by name."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.register.store import Register, RegisterWriteError


def test_a_table_not_yet_appended_to_reads_as_empty_and_creates_nothing(tmp_path):
    register = Register(tmp_path / "r" / "register.duckdb")
    assert register.read("reviews").shape == (0, 0)
    assert register.tables() == []
    assert not register.path.exists()


def test_each_append_is_a_new_version_with_a_utc_time(tmp_path):
    register = Register(tmp_path / "register.duckdb")
    before = dt.datetime.now(dt.UTC)
    assert register.append("reviews", pl.DataFrame({"kommune": ["3401", "3403"], "n": [1, 2]})) == 1
    # Columns are matched by name, not position.
    assert register.append("reviews", pl.DataFrame({"n": [3], "kommune": ["1804"]})) == 2
    after = dt.datetime.now(dt.UTC)
    frame = register.read("reviews")
    assert frame.select("kommune", "n", "version").rows() == [("3401", 1, 1), ("3403", 2, 1), ("1804", 3, 2)]
    assert frame.schema["recorded_at"] == pl.Datetime("us", "UTC")
    assert all(before <= t <= after for t in frame["recorded_at"])
    assert frame.filter(pl.col("version") == 1)["recorded_at"].n_unique() == 1
    assert register.tables() == ["reviews"]


def test_versions_are_per_table(tmp_path):
    register = Register(tmp_path / "register.duckdb")
    register.append("a", pl.DataFrame({"x": [1]}))
    register.append("a", pl.DataFrame({"x": [2]}))
    assert register.append("b", pl.DataFrame({"y": ["æøå"]})) == 1
    assert register.read("b")["y"].to_list() == ["æøå"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"kommune": ["1"]}), "missing column\\(s\\) n"),
        (pl.DataFrame({"kommune": ["1"], "n": [1], "extra": [1]}), "does not have: extra"),
        (pl.DataFrame({"kommune": ["1"], "n": ["1"]}), "another type: n \\(VARCHAR, the table has BIGINT"),
        (pl.DataFrame({"kommune": ["1"], "n": [1], "version": [9]}), "register sets itself"),
        (pl.DataFrame({"kommune": [], "n": []}, schema={"kommune": pl.String, "n": pl.Int64}), "empty frame"),
    ],
)
def test_a_mismatch_is_refused_and_nothing_is_written(tmp_path, frame, message):
    register = Register(tmp_path / "register.duckdb")
    register.append("reviews", pl.DataFrame({"kommune": ["3401"], "n": [1]}))
    before = register.read("reviews")
    with pytest.raises(RegisterWriteError, match=message):
        register.append("reviews", frame)
    assert register.read("reviews").equals(before)
    assert register.append("reviews", pl.DataFrame({"kommune": ["3"], "n": [3]})) == 2


def test_an_empty_column_takes_the_tables_type_but_cannot_create_one(tmp_path):
    register = Register(tmp_path / "register.duckdb")
    with pytest.raises(RegisterWriteError, match="column\\(s\\) note have no type"):
        register.append("t", pl.DataFrame({"k": ["1"], "note": [None]}))
    assert register.tables() == []
    register.append("t", pl.DataFrame({"k": ["1"], "note": ["tekst"]}))
    register.append("t", pl.DataFrame({"k": ["2"], "note": [None]}))
    assert register.read("t")["note"].to_list() == ["tekst", None]


def test_a_failing_insert_leaves_the_table_unchanged(tmp_path):
    path = tmp_path / "register.duckdb"
    register = Register(path)
    register.append("t", pl.DataFrame({"a": [1, 2]}))
    before = register.read("t")
    # A constraint the register does not know of makes the third row fail inside the transaction.
    connection = duckdb.connect(str(path))
    connection.execute("ALTER TABLE t ALTER COLUMN a SET NOT NULL").fetchall()
    connection.close()
    with pytest.raises(duckdb.ConstraintException):
        register.append("t", pl.DataFrame({"a": [3, 4, None]}))
    assert register.read("t").equals(before)
    assert register.append("t", pl.DataFrame({"a": [5]})) == 2


def test_a_failing_first_append_creates_no_table(tmp_path):
    register = Register(tmp_path / "register.duckdb")
    with pytest.raises(duckdb.Error):
        register.append("t", pl.DataFrame({"a": pl.Series([object()], dtype=pl.Object)}))
    assert register.tables() == []


def test_there_is_no_way_to_change_or_remove_a_record():
    public = {name for name in dir(Register) if not name.startswith("_")}
    assert public == {"append", "read", "tables"}


def test_table_names_are_checked(tmp_path):
    with pytest.raises(RegisterWriteError, match="invalid register table name"):
        Register(tmp_path / "r.duckdb").append("t; DROP TABLE x", pl.DataFrame({"a": [1]}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=5), max_size=6))
def test_the_register_holds_every_append_in_order(tmp_path_factory, batches):
    register = Register(tmp_path_factory.mktemp("hyp") / "register.duckdb")
    for number, batch in enumerate(batches, start=1):
        assert register.append("t", pl.DataFrame({"x": batch})) == number
    frame = register.read("t")
    if not batches:
        assert frame.is_empty()
        return
    assert frame["x"].to_list() == [x for batch in batches for x in batch]
    assert frame["version"].to_list() == [n for n, batch in enumerate(batches, start=1) for _ in batch]
