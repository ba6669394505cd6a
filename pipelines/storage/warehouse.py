"""The DuckDB warehouse: atomic, by-name writes of polars frames, and reads back.

Every write replaces a table inside one transaction (``CREATE OR REPLACE TABLE … AS SELECT <named
columns>``): a failed or killed run leaves the previous table as it was, and columns are matched by
name, never by position. Dagster's stock DuckDB IO managers delete before they insert and insert
positionally, so a failed write loses the old table and a reordered column is swapped silently (Dagster
issues #13287, #13098, #16248, #18746); :class:`WarehouseIOManager` replaces them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from pydantic import PrivateAttr

from pipelines.storage.publication import end_run, start_run

TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class WarehouseError(RuntimeError):
    """A write was refused; the previous table is untouched."""


def _roll_back(connection: duckdb.DuckDBPyConnection) -> None:
    """Undo an open transaction; after a failed COMMIT there may be none left to undo."""
    with suppress(duckdb.Error):
        connection.execute("ROLLBACK").fetchall()


def _check_name(table: str) -> str:
    if not TABLE_NAME.match(table):
        raise WarehouseError(f"invalid table name {table!r}")
    return table


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


@contextmanager
def connect_file(path: Path, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a DuckDB file, closed on exit; a writer creates the folder."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path), read_only=read_only)
    try:
        yield connection
    finally:
        connection.close()


def table_names(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of a DuckDB database, sorted."""
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables ORDER BY table_name"
    ).fetchall()
    return [row[0] for row in rows]


class Warehouse:
    """A DuckDB file holding the pipeline's tables."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def connect(self, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect_file(self.path, read_only)

    def write(self, table: str, frame: pl.DataFrame, *, allow_empty: bool = False) -> None:
        """Replace ``table`` with ``frame`` atomically."""
        if frame.is_empty() and not allow_empty:
            raise WarehouseError(
                f"refusing to replace table {table} with an empty frame; the previous table is kept"
            )
        self.write_many({table: frame})

    def write_many(self, tables: dict[str, pl.DataFrame]) -> None:
        """Replace several tables in one transaction (all or none)."""
        for table in tables:
            _check_name(table)
        try:
            with self.connect() as connection:
                connection.execute("BEGIN TRANSACTION").fetchall()
                try:
                    for table, frame in tables.items():
                        name = f"_incoming_{table}"
                        connection.register(name, frame)
                        columns = ", ".join(_quote(c) for c in frame.columns)
                        connection.execute(
                            f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} FROM {name}"
                        ).fetchall()
                        connection.unregister(name)
                    connection.execute("COMMIT").fetchall()
                except Exception:
                    _roll_back(connection)
                    raise
        except (duckdb.IOException, OSError) as error:
            # A full disk, a file held by another process or a folder without write permission.
            raise WarehouseError(
                f"cannot write {', '.join(tables)} to {self.path}: {error}. Free disk space, close the "
                "process that holds the file or choose a writable folder, then run again; the published "
                "warehouse is unchanged"
            ) from error

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as connection:
            return table_names(connection)

    def read(self, table: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        _check_name(table)
        selection = ", ".join(_quote(c) for c in columns) if columns else "*"
        with self.connect(read_only=True) as connection:
            return connection.sql(f"SELECT {selection} FROM {table}").pl()


class RunWarehouse(dg.ConfigurableResource):
    """The published warehouse file and, during a run, the run's working copy of it
    (:mod:`pipelines.storage.publication`): a run reads and writes only its copy."""

    database: str
    _working: Path | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None:
            self._working = start_run(Path(self.database), context.run.run_id)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None:
            end_run(context.run.run_id)

    @property
    def published(self) -> Warehouse:
        return Warehouse(Path(self.database))

    def warehouse(self) -> Warehouse:
        """The run's working copy during a run; the published file outside one."""
        return Warehouse(self._working) if self._working is not None else self.published


class WarehouseIOManager(RunWarehouse, dg.ConfigurableIOManager):
    """Stores each asset's polars frame as a DuckDB table named after the asset, in the run's copy.

    A frame written in this run is handed to the assets downstream of it as it was written, instead of
    being read back from the file once per consumer (the harmonised table has eight): the write is
    committed first, so the table and the frame are the same. Other inputs are read from the copy.
    """

    _written: dict[str, pl.DataFrame] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        self._written = {}

    def _table(self, context: dg.OutputContext | dg.InputContext) -> str:
        return "_".join(context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise WarehouseError(f"{context.asset_key.to_user_string()} must return a polars DataFrame")
        allow_empty = bool((context.definition_metadata or {}).get("allow_empty", False))
        table = self._table(context)
        self.warehouse().write(table, obj, allow_empty=allow_empty)
        self._written[table] = obj
        context.add_output_metadata(
            {
                "table": dg.MetadataValue.text(f"{self.database}::{table}"),
                "dagster/row_count": dg.MetadataValue.int(obj.height),
                "columns": dg.MetadataValue.json(
                    json.loads(json.dumps({name: str(dtype) for name, dtype in obj.schema.items()}))
                ),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        table = self._table(context)
        if table in self._written:
            return self._written[table]
        return self.warehouse().read(table)


def write_snapshot(warehouse: Warehouse, snapshot: Path, tables: Sequence[str]) -> Path:
    """Copy ``tables`` into a new DuckDB file at ``snapshot`` (replaced if it exists).

    Notebooks and other tools read the published snapshot, never the pipeline's warehouse, so they can
    hold it open while the pipeline runs again; publication renames a new one over it.
    """
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.unlink(missing_ok=True)
    connection = duckdb.connect(str(snapshot))
    try:
        source = str(warehouse.path).replace("'", "''")
        connection.execute(f"ATTACH '{source}' AS live (READ_ONLY)").fetchall()
        for table in tables:
            _check_name(table)
            connection.execute(f"CREATE TABLE {table} AS SELECT * FROM live.{table}").fetchall()
        connection.execute("DETACH live").fetchall()
    finally:
        connection.close()
    return snapshot
