"""Reading an organization's members."""

from __future__ import annotations

from fitdata_core.access import Action
from fitdata_core.errors import InvalidInput
from fitdata_core.model.organizations import MemberRow
from fitdata_core.ports.repositories import MemberFilter, Page
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize

__all__ = [
    "MAX_PAGE_SIZE",
    "check_paging",
    "list_members",
]

# The one page-size limit of every paged list (members, export jobs, billing history): the
# HTTP layer validates ``limit`` against it and docs/http-api.md documents it.
MAX_PAGE_SIZE = 200


def check_paging(limit: int, offset: int) -> None:
    """400 naming ``limit`` or ``offset`` when a page is asked for outside the limits."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative.", field="offset")


async def list_members(
    svc: Services,
    actor: Actor,
    org_id: str,
    member_filter: MemberFilter,
    *,
    limit: int = 50,
    offset: int = 0,
) -> Page[MemberRow]:
    """A page of the organization's members matching ``member_filter`` (owner, admin, coach)."""
    check_paging(limit, offset)
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_MEMBERS)
        return await uow.memberships.list_members(org_id, member_filter, limit=limit, offset=offset)
