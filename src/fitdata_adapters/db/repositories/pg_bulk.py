"""Set-based writes of a batch on Postgres: one statement over the batch as a record set.

A batch of rows is sent as one JSON document (``jsonb_to_recordset``), so the statement
text is short and the same for every batch, whatever its size, and the database does the
work set-based::

    INSERT INTO users (id, email, ...) SELECT s.id, s.email, ...
    FROM jsonb_to_recordset(:batch) AS s(id text, email text, ...)
    ON CONFLICT (email) DO NOTHING RETURNING id

    UPDATE users AS t SET first_name = s.first_name, ... FROM jsonb_to_recordset(...) AS s(...)
    WHERE t.id = s.id AND (t.first_name IS DISTINCT FROM s.first_name OR ...)

This is several times faster than ``executemany`` (one round trip, no per-row parsing), which
is what lets a big import run near the database's own speed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db.repositories.base import SqlSession
from fitdata_adapters.db.types import UtcDateTime
from fitdata_core.errors import Conflict, DatabaseUnavailable


def _pg_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return "timestamptz"
    if isinstance(kind, sa.JSON):
        return "jsonb"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "bigint"
    if isinstance(kind, sa.Numeric):
        return "numeric"
    if isinstance(kind, sa.LargeBinary):
        return "bytea"
    if isinstance(kind, sa.String):
        return "text"
    raise TypeError(f"no array type for column {column.name} ({kind!r})")


_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _checked(table: sa.Table, names: Sequence[str]) -> list[str]:
    """The names, each a column of ``table`` with a plain name: the SQL below is built from
    the schema's own identifiers, never from data (values are bound parameters)."""
    for name in names:
        if name not in table.c or not _NAME.fullmatch(name):
            raise ValueError(f"not a plain column of {table.name}: {name!r}")
    return list(names)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} in a bulk write")


class _Source:
    """The batch as one JSON document, read back as typed rows ``s(col, ...)``.

    ``jsonb_to_recordset`` turns a JSON array of objects into rows with the given column
    types; the whole batch is one bound parameter, encoded by the C JSON encoder.
    """

    def __init__(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        self.columns = _checked(table, list(rows[0]))
        types = ", ".join(f"{name} {_pg_type(table.c[name])}" for name in self.columns)
        self.values = {name: f"s.{name}" for name in self.columns}
        self.params = {"batch": json.dumps([dict(row) for row in rows], default=_json_value)}
        self.sql = f"jsonb_to_recordset(CAST(:batch AS jsonb)) AS s({types})"


async def insert_rows(
    db: SqlSession,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
    compare: Sequence[str] = (),
    returning: str | None = None,
) -> int:
    """Insert ``rows``; with ``conflict`` (the unique columns), skip clashes or, with
    ``update``, update those columns where one of ``compare`` differs. Returns the rows the
    statement returned (``returning``) or touched."""
    source = _Source(table, rows)
    columns = ", ".join(source.columns)
    select = ", ".join(source.values[c] for c in source.columns)
    _checked(table, [*(conflict or ()), *update, *compare, *([returning] if returning else [])])
    sql = f"INSERT INTO {table.name} ({columns}) SELECT {select} FROM {source.sql}"  # noqa: S608 - identifiers only
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)})"
        if update:
            assignments = ", ".join(f"{c} = excluded.{c}" for c in update)
            changed = " OR ".join(
                f"{table.name}.{c} IS DISTINCT FROM excluded.{c}" for c in compare
            )
            sql += f" DO UPDATE SET {assignments} WHERE {changed}"
        else:
            sql += " DO NOTHING"
    if returning:
        sql += f" RETURNING {returning}"
    result = await db.execute(sa.text(sql).bindparams(**source.params))
    return len(result.all()) if returning else int(result.rowcount)


async def update_rows(
    db: SqlSession,
    table: sa.Table,
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    *,
    fill_only: bool = False,
) -> None:
    """Set ``names`` on the rows matching ``keys``: where a value differs, or (``fill_only``)
    only where the stored value is empty."""
    source = _Source(table, [{k: row[k] for k in (*keys, *names)} for row in rows])
    if fill_only:
        assignments = ", ".join(f"{n} = COALESCE(t.{n}, {source.values[n]})" for n in names)
        changed = " OR ".join(f"(t.{n} IS NULL AND s.{n} IS NOT NULL)" for n in names)
    else:
        assignments = ", ".join(f"{n} = {source.values[n]}" for n in names)
        changed = " OR ".join(f"t.{n} IS DISTINCT FROM {source.values[n]}" for n in names)
    match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    sql = (
        f"UPDATE {table.name} AS t SET {assignments} FROM {source.sql} "  # noqa: S608 - identifiers only
        f"WHERE {match} AND ({changed})"
    )
    await db.execute(sa.text(sql).bindparams(**source.params))


async def copy_rows(
    db: SqlSession, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Load ``rows`` (values in ``columns`` order) with ``COPY … FROM STDIN``, in the unit of
    work's transaction: the fastest way into a table, a few microseconds a row whatever the
    chunk size. JSON columns take the value already encoded (a ``str``)."""
    # Imported here: only the Postgres path loads the driver (an embedded, SQLite service
    # never pays for it; its start-up test checks that).
    import psycopg

    names = ", ".join(_checked(table, columns))
    conn = await db.conn.get_raw_connection()
    raw = conn.driver_connection
    assert raw is not None  # an open unit of work's connection
    try:
        async with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            # The copy's own formatter (psycopg's C row formatter, as ``write_row`` uses it)
            # called directly, and a block sent only when it fills: ``await write_row`` per
            # row made a coroutine per row, a third of a staged member row's COPY cost.
            formatter = copy.formatter
            for row in rows:
                if data := formatter.write_row(row):
                    await copy.write(data)
    except psycopg.errors.IntegrityError as exc:
        raise Conflict("Some of the rows are there already.") from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable("The database is unavailable; try again later.") from exc
