"""Reading an organization's members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fitdata_core.access import Action
from fitdata_core.errors import InvalidInput
from fitdata_core.model.organizations import MemberRow
from fitdata_core.paging import CURSOR_FIELD, decode_cursor, encode_cursor, with_next_cursor
from fitdata_core.ports.repositories import (
    JsonShape,
    MemberFilter,
    Page,
    RenderedMember,
    UnitOfWork,
)
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize

__all__ = [
    "MAX_PAGE_SIZE",
    "check_paging",
    "list_member_json",
    "list_members",
    "member_cursor",
]

T = TypeVar("T")

# The one page-size limit of every paged list (members, export jobs, billing history): the
# HTTP layer validates ``limit`` against it and docs/http-api.md documents it.
MAX_PAGE_SIZE = 200


def check_paging(limit: int, offset: int, cursor: str | None = None) -> None:
    """400 naming ``limit``, ``offset`` or ``cursor`` when a page is asked for outside the
    limits, or by both an offset and a cursor (which would mean two different places)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative.", field="offset")
    if cursor is not None and offset:
        raise InvalidInput("Send either cursor or offset, not both.", field=CURSOR_FIELD)


def member_cursor(row: MemberRow) -> str:
    """The cursor of the page after ``row``: its ``(email, membership id)`` sort key."""
    return encode_cursor(row.user.email_normalized, row.membership.id)


async def list_members(
    svc: Services,
    actor: Actor,
    org_id: str,
    member_filter: MemberFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[MemberRow]:
    """A page of the organization's members matching ``member_filter`` (owner, admin, coach).

    Without ``cursor``: the page at ``offset``, with the total count. With ``cursor`` (a
    previous page's ``next_cursor``): the page after it, without a total, costing what the
    first page costs however deep it is. Either way ``next_cursor`` leads on.
    """
    return await _member_page(
        svc,
        actor,
        org_id,
        lambda uow, after: uow.memberships.list_members(
            org_id, member_filter, limit=limit + 1, offset=offset, after=after
        ),
        limit=limit,
        offset=offset,
        cursor=cursor,
        cursor_of=member_cursor,
    )


async def list_member_json(
    svc: Services,
    actor: Actor,
    org_id: str,
    member_filter: MemberFilter,
    shape: JsonShape,
    *,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[RenderedMember]:
    """:func:`list_members` with each member already written as the JSON object ``shape``
    names (:mod:`fitdata_core.rules.member_json`): the same page, total and cursors, for the
    API's member list, which sends the objects as they are."""
    return await _member_page(
        svc,
        actor,
        org_id,
        lambda uow, after: uow.member_json.member_json_page(
            org_id, member_filter, shape, limit=limit + 1, offset=offset, after=after
        ),
        limit=limit,
        offset=offset,
        cursor=cursor,
        cursor_of=_rendered_cursor,
    )


async def _member_page(
    svc: Services,
    actor: Actor,
    org_id: str,
    read: Callable[[UnitOfWork, tuple[str, str] | None], Awaitable[Page[T]]],
    *,
    limit: int,
    offset: int,
    cursor: str | None,
    cursor_of: Callable[[T], str],
) -> Page[T]:
    """The paging both lists share: ``read`` gets the unit of work and the key to start
    after (from ``cursor``) and reads ``limit + 1`` members."""
    check_paging(limit, offset, cursor)
    after = decode_cursor(cursor, 2) if cursor is not None else None
    # Reads that need no common snapshot (the page carries its own total; the authorization
    # usually comes from the token check's read, see ``authorize``): no BEGIN and ROLLBACK
    # around them, two of the request's round trips.
    async with svc.uow(separate_reads=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_MEMBERS)
        page = await read(uow, (after[0], after[1]) if after is not None else None)
    return with_next_cursor(page, limit, cursor_of)


def _rendered_cursor(member: RenderedMember) -> str:
    return encode_cursor(member.email, member.membership_id)
