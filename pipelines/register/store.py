"""The register: records people make (reviews, decisions, applications) that must outlive every run.

The run warehouse is replaced by each run (:mod:`pipelines.storage.publication`), so human records live
in a DuckDB file of their own (``settings.register_path()``). It only grows: :meth:`Register.append`
inserts, and there is no update or delete. A record is corrected by appending a newer version; what a
table held at any time can be read back from ``version`` and ``recorded_at``.

Every append is one transaction: the rows of one append all get the same ``version`` (one more than the
table's highest, starting at 1) and ``recorded_at`` (UTC). Columns are matched by name; a frame whose
columns or types differ from the table's is refused, naming them, and nothing is written. DuckDB lets one
process at a time write a file: a second writer gets an error, never a half-written table.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager, suppress
from pathlib import Path

import duckdb
import polars as pl

from pipelines.storage.warehouse import TABLE_NAME, connect_file, table_names

VERSION = "version"
RECORDED_AT = "recorded_at"
BOOKKEEPING = (VERSION, RECORDED_AT)


class RegisterWriteError(ValueError):
    """An append was refused; the register is unchanged."""


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _check_name(table: str) -> str:
    if not TABLE_NAME.match(table):
        raise RegisterWriteError(
            f"invalid register table name {table!r}: lower-case letters, digits and _ only"
        )
    return table


class Register:
    """An append-only store of tables in one DuckDB file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self, read_only: bool) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect_file(self.path, read_only)

    def tables(self) -> list[str]:
        """The tables appended to so far, sorted."""
        if not self.path.exists():
            return []
        with self._connect(read_only=True) as connection:
            return table_names(connection)

    def read(self, table: str) -> pl.DataFrame:
        """Every row of ``table`` in the order appended, ``recorded_at`` in UTC.

        A table nothing has been appended to yet (or a register file that does not exist yet) reads as
        an empty frame without columns: "nothing recorded". Reading never creates the file.
        """
        _check_name(table)
        if table not in self.tables():
            return pl.DataFrame()
        with self._connect(read_only=True) as connection:
            frame = connection.sql(f"SELECT * FROM {table}").pl()
        return frame.with_columns(pl.col(RECORDED_AT).dt.replace_time_zone("UTC"))

    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Insert ``frame``'s rows into ``table`` (created on first use) as one new version; returns it.

        Refused, with nothing written: an empty frame (a version without rows could not be seen), a frame
        with a ``version`` or ``recorded_at`` column, and one whose column names or types differ from the
        table's. A column that is entirely empty (polars ``Null``) takes the table's type.
        """
        _check_name(table)
        if frame.is_empty():
            raise RegisterWriteError(f"refusing to append an empty frame to register table {table}")
        reserved = [c for c in BOOKKEEPING if c in frame.columns]
        if reserved:
            raise RegisterWriteError(
                f"register table {table}: the frame has column(s) {', '.join(reserved)}, which the "
                "register sets itself"
            )
        recorded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._connect(read_only=False) as connection:
            connection.execute("BEGIN TRANSACTION").fetchall()
            try:
                version = self._insert(connection, table, frame, recorded_at)
                connection.execute("COMMIT").fetchall()
            except Exception:
                with suppress(duckdb.Error):
                    connection.execute("ROLLBACK").fetchall()
                raise
        return version

    def _insert(
        self,
        connection: duckdb.DuckDBPyConnection,
        table: str,
        frame: pl.DataFrame,
        recorded_at: dt.datetime,
    ) -> int:
        exists = bool(
            connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
            ).fetchall()[0][0]
        )
        connection.register("_incoming", frame)
        incoming = _types(connection, "_incoming")
        if exists:
            stored = {k: v for k, v in _types(connection, table).items() if k not in BOOKKEEPING}
            _check_schema(table, stored, incoming, frame)
            version = connection.execute(f"SELECT max({VERSION}) FROM {table}").fetchall()[0][0] + 1
        else:
            untyped = [c for c in frame.columns if frame.schema[c] == pl.Null]
            if untyped:
                raise RegisterWriteError(
                    f"register table {table} is new and column(s) {', '.join(untyped)} have no type (every "
                    "value empty): give them one. Nothing was written"
                )
            stored = incoming
            version = 1
        columns = ", ".join(_quote(c) for c in stored)
        values = ", ".join(f"CAST({_quote(c)} AS {stored[c]})" for c in stored)
        if not exists:
            definitions = ", ".join(f"{_quote(c)} {kind}" for c, kind in stored.items())
            connection.execute(
                f"CREATE TABLE {table} ({definitions}, {VERSION} BIGINT NOT NULL, "
                f"{RECORDED_AT} TIMESTAMP NOT NULL)"
            ).fetchall()
        connection.execute(
            f"INSERT INTO {table} ({columns}, {VERSION}, {RECORDED_AT}) SELECT {values}, ?, ? FROM _incoming",
            [version, recorded_at],
        ).fetchall()
        connection.unregister("_incoming")
        return version


def _types(connection: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in connection.execute(f"DESCRIBE {relation}").fetchall()}


def _check_schema(table: str, stored: dict[str, str], incoming: dict[str, str], frame: pl.DataFrame) -> None:
    missing = [c for c in stored if c not in incoming]
    extra = [c for c in incoming if c not in stored]
    retyped = [
        f"{c} ({incoming[c]}, the table has {stored[c]})"
        for c in stored
        if c in incoming and incoming[c] != stored[c] and frame.schema[c] != pl.Null
    ]
    problems = [
        *([f"missing column(s) {', '.join(missing)}"] if missing else []),
        *([f"column(s) the table does not have: {', '.join(extra)}"] if extra else []),
        *([f"column(s) of another type: {', '.join(retyped)}"] if retyped else []),
    ]
    if problems:
        raise RegisterWriteError(
            f"register table {table}: the rows do not match the table; {'; '.join(problems)}. "
            "Nothing was written"
        )
