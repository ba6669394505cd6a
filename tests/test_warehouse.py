"""Atomic, by-name writes: a failed write leaves the previous table whole."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.storage.warehouse import Warehouse, WarehouseError


def test_replace_is_by_name_and_atomic(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    first = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    warehouse.write("t", first)
    assert warehouse.read("t").equals(first)
    # Reordered columns keep their names; nothing is matched by position.
    warehouse.write("t", pl.DataFrame({"b": ["z"], "a": [3]}))
    assert warehouse.read("t", ["a", "b"]).rows() == [(3, "z")]


def test_a_failing_write_keeps_the_previous_table(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    good = pl.DataFrame({"a": [1, 2, 3]})
    warehouse.write("t", good)
    bad = pl.DataFrame({"a": pl.Series([object(), object()], dtype=pl.Object)})
    with pytest.raises(duckdb.Error):
        warehouse.write("t", bad)
    assert warehouse.read("t").equals(good)
    with pytest.raises(duckdb.Error):
        warehouse.write_many({"u": pl.DataFrame({"x": [1]}), "t": bad})
    assert warehouse.read("t").equals(good)
    assert "u" not in warehouse.tables()  # all or nothing


def test_an_empty_frame_never_replaces_a_table_unless_allowed(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.write("t", pl.DataFrame({"a": [1]}))
    with pytest.raises(WarehouseError, match="refusing to replace table t with an empty frame"):
        warehouse.write("t", pl.DataFrame({"a": []}, schema={"a": pl.Int64}))
    assert warehouse.read("t").height == 1
    warehouse.write("q", pl.DataFrame({"a": []}, schema={"a": pl.Int64}), allow_empty=True)
    assert warehouse.read("q").height == 0


def test_table_names_are_checked(tmp_path):
    with pytest.raises(WarehouseError):
        Warehouse(tmp_path / "w.duckdb").write("t; DROP TABLE x", pl.DataFrame({"a": [1]}))
