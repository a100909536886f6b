"""What every SQL repository shares: the unit of work's connection and error translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from fitdata_adapters.db.errors import translate_errors
from fitdata_core.ports.repositories import Page

T = TypeVar("T")
Params = Mapping[str, Any]


class SqlSession:
    """The connection a unit of work holds open, shared by all of its repositories."""

    def __init__(self, *, separate_reads: bool = False) -> None:
        self._conn: AsyncConnection | None = None
        # A separate-reads unit of work's connection is in autocommit: a write would commit at
        # once and a row lock would be let go at once. So it runs plain SELECTs through
        # ``execute`` only; the raw connection (server-side cursors, COPY, driver calls), which
        # needs a transaction, is refused.
        self._separate_reads = separate_reads

    def bind(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def unbind(self) -> AsyncConnection | None:
        conn, self._conn = self._conn, None
        return conn

    @property
    def active(self) -> bool:
        return self._conn is not None

    @property
    def conn(self) -> AsyncConnection:
        if self._separate_reads:
            raise RuntimeError("A separate-reads unit of work runs SELECTs through execute only.")
        return self._bound

    @property
    def _bound(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("Repositories work only inside `async with uow:`.")
        return self._conn

    @property
    def is_postgres(self) -> bool:
        return self._bound.dialect.name == "postgresql"

    async def execute(
        self, statement: Executable, params: Params | Sequence[Params] | None = None
    ) -> CursorResult[Any]:
        """Run ``statement``; ``params`` fill its bind parameters (a list of them runs it for
        each, batched into one round trip where the driver can). A hot path builds its
        statement once at import with ``sa.bindparam`` and passes only the values here, which
        skips building the statement and finds its compiled form in the cache at once."""
        if self._separate_reads and not _plain_select(statement):
            raise RuntimeError("A separate-reads unit of work runs SELECTs only.")
        with translate_errors():
            return await self._bound.execute(statement, params)

    async def one_or_none(
        self, statement: Executable, params: Params | None = None
    ) -> Mapping[str, Any] | None:
        row = (await self.execute(statement, params)).mappings().first()
        return None if row is None else dict(row)

    async def all(
        self, statement: Executable, params: Params | None = None
    ) -> list[Mapping[str, Any]]:
        return [dict(row) for row in (await self.execute(statement, params)).mappings().all()]

    async def count(self, statement: sa.Select[Any]) -> int:
        total = (
            await self.execute(sa.select(sa.func.count()).select_from(statement.subquery()))
        ).scalar_one()
        return int(total)


def _plain_select(statement: Executable) -> bool:
    """A SELECT that takes no row locks (``FOR UPDATE``/``FOR SHARE`` would be let go the
    moment the statement ends, in autocommit): text and DML are not."""
    return bool(getattr(statement, "is_select", False)) and (
        getattr(statement, "_for_update_arg", None) is None
    )


class SqlRepository:
    """Base of the SQL repositories: holds the shared :class:`SqlSession`."""

    def __init__(self, session: SqlSession) -> None:
        self._db = session


async def fetch_page(
    db: SqlSession,
    statement: sa.Select[Any],
    order_by: Sequence[sa.ColumnElement[Any]],
    convert: Callable[[Mapping[str, Any]], T],
    *,
    limit: int,
    offset: int,
    after: sa.ColumnElement[bool] | None = None,
) -> Page[T]:
    """One page of ``statement`` plus the total count of what it matches; or, with ``after``
    (the keyset condition "sorts after the previous page's last row"), the page that
    condition starts, with no count and no offset: an index then finds the page directly."""
    if after is not None:
        rows = await db.all(statement.where(after).order_by(*order_by).limit(limit))
        return Page(items=[convert(row) for row in rows], total=None, limit=limit, offset=None)
    total = await db.count(statement)
    rows = await db.all(statement.order_by(*order_by).limit(limit).offset(offset))
    return Page(items=[convert(row) for row in rows], total=total, limit=limit, offset=offset)


def _key_of(table: sa.Table, created_at: datetime, item_id: str) -> tuple[Any, Any]:
    # Bound with the columns' types, so the UTC datetime type stores the value as it stores
    # the column.
    return (
        sa.bindparam(None, created_at, type_=table.c.created_at.type),
        sa.bindparam(None, item_id, type_=table.c.id.type),
    )


def older_than(table: sa.Table, created_at: datetime, item_id: str) -> sa.ColumnElement[bool]:
    """Rows after ``(created_at, item_id)`` in newest-first order (``created_at``, then id,
    descending), as one row comparison: a range on an (organization_id, created_at, id)
    index."""
    return sa.tuple_(table.c.created_at, table.c.id) < sa.tuple_(
        *_key_of(table, created_at, item_id)
    )


def newer_than(table: sa.Table, created_at: datetime, item_id: str) -> sa.ColumnElement[bool]:
    """Rows after ``(created_at, item_id)`` in oldest-first order (``created_at``, then id),
    as one row comparison: a range on an (organization_id, created_at, id) index."""
    return sa.tuple_(table.c.created_at, table.c.id) > sa.tuple_(
        *_key_of(table, created_at, item_id)
    )
