"""The member list's pages written as JSON: by Postgres in the statement that reads the page,
elsewhere by the core's renderer over the rows.

Postgres builds each member's object with ``json_build_object`` and the page arrives as one
text column a member (plus its sort key): no per-column conversion, no domain objects and
no dicts on our side. The objects are the same JSON values
:func:`~fitdata_core.rules.member_json.render_member_json` makes of the rows (the contract test
tests/integration/contracts/test_contract_member_json_pages.py compares the two on awkward
values): strings escaped by Postgres's JSON writer, timestamps as :func:`iso_timestamp` with
``Z``, enums as their stored values, a missing profile as ``null``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_adapters.db.repositories.member_csv import iso_timestamp
from fitdata_adapters.db.repositories.organizations import (
    ATTRIBUTE_COLUMNS,
    SqlMembershipRepository,
    member_page,
    member_page_total,
)
from fitdata_adapters.db.types import UtcDateTime
from fitdata_core.ports.repositories import JsonShape, MemberFilter, Page, RenderedMember
from fitdata_core.rules.member_json import rendered_page

__all__ = ["SqlMemberJsonPages", "json_object"]

# The table each part of a member comes from; a nested object is NULL when its part's row is
# missing, which only a profile can be (every membership has its user).
_PART_KEY = {
    "membership": t.memberships.c.id,
    "user": t.users.c.id,
    "profile": t.member_profiles.c.user_id,
}


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


def _json_value(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    if isinstance(column.type, UtcDateTime):
        return iso_timestamp(column, "Z")
    return column


def json_object(shape: JsonShape) -> sa.ColumnElement[Any]:
    """``shape`` as a Postgres ``json_build_object`` over the members query's columns."""
    arguments: list[Any] = []
    for key, path in shape.fields:
        # Written into the statement, not bound: two dozen parameters less to send per page.
        # The keys are the API's own names; anything but letters, digits and "_" is refused.
        if not _PLAIN_KEY.fullmatch(key):
            raise ValueError(f"a JSON key to write into SQL must be plain: {key!r}")
        arguments.append(sa.literal_column(f"'{key}'", sa.Text))
        if isinstance(path, JsonShape):
            nested = json_object(path)
            arguments.append(sa.case((_PART_KEY[path.part].is_(None), sa.null()), else_=nested))
        else:
            arguments.append(_json_value(ATTRIBUTE_COLUMNS[path]))
    return sa.func.json_build_object(*arguments)


@functools.cache
def _columns(shape: JsonShape) -> tuple[sa.ColumnElement[Any], ...]:
    """The page's columns for ``shape``, built once per shape (statements are cached on
    them): the object as text (a ``json`` value would be parsed into a dict by the driver),
    then the sort key."""
    return (
        sa.cast(json_object(shape), sa.Text).label("member"),
        t.users.c.email,
        t.memberships.c.id,
    )


class SqlMemberJsonPages(SqlRepository):
    """:class:`~fitdata_core.ports.MemberJsonPages` on the unit of work's connection."""

    async def member_json_page(
        self,
        org_id: str,
        member_filter: MemberFilter,
        shape: JsonShape,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> Page[RenderedMember]:
        """One statement on Postgres, the total included as on
        :meth:`SqlMembershipRepository.list_members` (a page past the end counts
        separately); elsewhere that method's page rendered in Python."""
        if not self._db.is_postgres:
            members = SqlMembershipRepository(self._db)
            page = await members.list_members(
                org_id, member_filter, limit=limit, offset=offset, after=after
            )
            return rendered_page(page, shape)
        query, params = member_page(
            org_id, member_filter, limit=limit, offset=offset, after=after, columns=_columns(shape)
        )
        found = [tuple(row) for row in await self._db.execute(query, params)]
        items = [RenderedMember(row[0], row[1], row[2]) for row in found]
        if after is not None:
            return Page(items=items, total=None, limit=limit, offset=None)
        total = await member_page_total(self._db, org_id, member_filter, found, offset=offset)
        return Page(items=items, total=total, limit=limit, offset=offset)
