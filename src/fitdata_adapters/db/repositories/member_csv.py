"""The member CSV engine: the bulk export's rows written as CSV, by Postgres where it can.

The :class:`~fitdata_core.ports.repositories.MemberCsvStream` port of the SQL unit of work.
On Postgres the database writes the lines itself (``COPY ... TO STDOUT (FORMAT csv)``), to
the byte what :func:`fitdata_core.rules.csv_format.encode_csv_rows` makes of the same values;
elsewhere the member value rows go through that encoder. The COPY itself is driven through
psycopg in :mod:`fitdata_adapters.db.repositories.pg_copy`, loaded only on Postgres.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fitdata_adapters.db.errors import translate_errors
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_adapters.db.repositories.organizations import (
    ATTRIBUTE_COLUMNS,
    MEMBER_ORDER,
    SqlMembershipRepository,
    members_query,
)
from fitdata_adapters.db.types import UtcDateTime
from fitdata_core.ports.repositories import MemberFilter
from fitdata_core.rules.csv_format import FORMULA_TRIGGERS, encode_csv_rows

if TYPE_CHECKING:
    from psycopg.abc import Buffer

__all__ = ["SqlMemberCsvStream", "member_csv_query"]


class SqlMemberCsvStream(SqlRepository):
    """The member CSV engine on the unit of work's connection and transaction."""

    async def stream_member_csv(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """On Postgres the database neutralises the cells (see :func:`_csv_cell`) and its own
        ``COPY ... (FORMAT csv)`` quotes them and streams the lines; elsewhere the rows of
        ``stream_member_values`` go through the core's encoder."""
        if not self._db.is_postgres:
            members = SqlMembershipRepository(self._db)
            async for batch in members.stream_member_values(
                org_id, member_filter, attributes, batch_size=batch_size
            ):
                yield len(batch), encode_csv_rows(batch).encode("utf-8", "replace")
            return
        # Imported here, not at the top: psycopg is only ever loaded by a process that talks
        # to Postgres (an embedded server on SQLite never pays for it).
        from fitdata_adapters.db.repositories.pg_copy import copy_csv

        utf8 = await _server_is_utf8(self._db.conn)
        alone = len(attributes) == 1
        query = member_csv_query(org_id, member_filter, attributes, utf8=utf8)
        # Closed explicitly if the consumer stops early: a COPY holds the connection until it
        # is cancelled, and the unit of work must be able to roll back.
        async with contextlib.aclosing(copy_csv(self._db.conn, query, batch_size)) as rows:
            async for batch in rows:
                yield len(batch), _crlf(batch, alone=alone)


def member_csv_query(
    org_id: str, member_filter: MemberFilter, attributes: Sequence[str], *, utf8: bool
) -> sa.Select[Any]:
    """The SELECT whose ``COPY ... (FORMAT csv)`` is the Postgres export: the members query
    with each of ``attributes`` as a neutralised cell (:func:`_csv_cell`), in export order.
    Public so that the export benchmark can time Postgres running exactly this SQL."""
    unknown = set(attributes) - set(ATTRIBUTE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown member attributes: {sorted(unknown)}")
    alone = len(attributes) == 1
    cells: list[Any] = [
        _csv_cell(ATTRIBUTE_COLUMNS[path], utf8=utf8, alone=alone).label(f"c{i}")
        for i, path in enumerate(attributes)
    ]
    return members_query(org_id, member_filter).with_only_columns(*cells).order_by(*MEMBER_ORDER)


# --- CSV written by Postgres -------------------------------------------------------------------
#
# The bulk export's lines, to the byte what fitdata_core.rules.csv_format makes of the same
# values (tests/integration/exports/test_member_values_stream.py compares the two on awkward
# values). SQL neutralises each cell like ``neutralize`` and renders timestamps like
# ``isoformat``; Postgres's COPY CSV writer then quotes exactly as the csv module's
# QUOTE_MINIMAL does (a field holding a comma, a quote, CR or LF; quotes doubled). What differs
# is mended on the way: an empty string, which COPY would quote (it is its NULL marker), is sent
# as NULL (unquoted, empty); each line ends in LF, not CR LF (see :func:`_crlf`). Python then
# only joins bytes. The quoting and the line assembly run in COPY's C loop rather than as a
# dozen SQL function calls per cell; what is left in SQL is a test of each cell's first
# character, and a regular expression for the few cells that start like a formula.

# csv_format._SAFE in Postgres's regex dialect ([0-9] for \d: only ASCII digits are numbers),
# one regular expression per alternative: a phone number, then a number. Postgres matches the
# short phone pattern in a third of the time of the two together, and phones (+972-...) are
# the cells that most often start with a trigger character.
_SAFE_PHONE = r"^\+?\(?[0-9][0-9 ().-]*$"
_SAFE_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_TRIGGER_CODES = sorted(ord(char) for char in FORMULA_TRIGGERS)


def _csv_cell(column: sa.ColumnElement[Any], *, utf8: bool, alone: bool) -> sa.ColumnElement[str]:
    """A column as the text COPY should write for it: neutralised like ``neutralize`` (a
    timestamp as :func:`_csv_timestamp`), an empty or missing cell as NULL. ``alone``: the only
    column, where the csv module writes an empty cell as ``""``, as COPY does an empty string.

    On a UTF-8 database the first character is tested by code point (``ascii()``; 0 for an
    empty string): integer comparisons, measurably cheaper per cell than comparing texts.
    """
    if isinstance(column.type, UtcDateTime):
        text = _csv_timestamp(column)
        return sa.func.coalesce(text, "") if alone else text
    starts_a_formula = (
        sa.func.ascii(column).in_(_TRIGGER_CODES)
        if utf8
        else sa.func.left(column, 1).in_(sorted(FORMULA_TRIGGERS))
    )
    neutral = sa.case(
        (column.regexp_match(_SAFE_PHONE), column),
        (column.regexp_match(_SAFE_NUMBER), column),
        else_=sa.literal("'", sa.Text) + column,
    )
    if alone:
        return sa.func.coalesce(sa.case((starts_a_formula, neutral), else_=column), "")
    return sa.case((starts_a_formula, neutral), else_=sa.func.nullif(column, ""))


def _csv_timestamp(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A timestamp as ``datetime.isoformat()`` of it in UTC: ``2025-07-01T09:30:15+00:00``,
    with ``.ffffff`` only when there are microseconds; NULL stays NULL."""
    return iso_timestamp(column, "+00:00")


def iso_timestamp(column: sa.ColumnElement[Any], zone: str) -> sa.ColumnElement[str]:
    """A timestamp in UTC as ``datetime.isoformat()`` writes it up to the zone, then
    ``zone`` (``+00:00`` for CSV, ``Z`` for JSON): ``.ffffff`` only when there are
    microseconds; NULL stays NULL (Postgres)."""
    utc = sa.func.timezone("UTC", column)
    whole_second = sa.func.date_trunc("second", utc) == utc
    return sa.case(
        (whole_second, sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')),
        else_=sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    ) + sa.literal(zone, sa.Text)


def _crlf(rows: Sequence[Buffer], *, alone: bool) -> bytes:
    """COPY's CSV lines (one message each, ending in LF) as the csv module writes them: ending
    in CR LF. A line break inside a quoted cell stays LF, as the csv module leaves it.

    Usually no cell holds a line break, so every LF in the batch ends a line and one
    ``replace`` over the joined batch does it, in C. Otherwise, line by line. A lone column
    also undoes COPY's quoting of a cell that is exactly ``\\.`` (its end-of-data marker in
    text format; the csv module has no such marker).
    """
    data = b"".join(rows)
    if data.count(b"\n") == len(rows) and not (alone and b'"\\."\n' in data):
        return data.replace(b"\n", b"\r\n")
    lines = [bytes(row)[:-1] for row in rows]
    if alone:
        lines = [b"\\." if line == b'"\\."' else line for line in lines]
    return b"".join(line + b"\r\n" for line in lines)


async def _server_is_utf8(conn: AsyncConnection) -> bool:
    with translate_errors():
        encoding = (await conn.execute(sa.text("SHOW server_encoding"))).scalar_one()
    return str(encoding).upper() in {"UTF8", "UTF-8"}
