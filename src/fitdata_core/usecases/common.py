"""Steps most use cases share: finding the org and the caller's right to act in it."""

from __future__ import annotations

from fitdata_core.access import Action, require
from fitdata_core.errors import NotFound
from fitdata_core.model.organizations import Membership, Organization
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.services import Actor

__all__ = [
    "authorize",
    "load_org",
]


async def load_org(uow: UnitOfWork, org_id: str) -> Organization:
    """The organization, or ``NotFound``."""
    org = await uow.organizations.get(org_id)
    if org is None:
        raise NotFound(f"Organization {org_id} not found.")
    return org


async def authorize(uow: UnitOfWork, actor: Actor, org_id: str, action: Action) -> Membership:
    """The caller's membership if it may perform ``action`` in ``org_id``.

    404 if the org does not exist; 403 if the caller is not an active member with a role
    that allows the action (another org's data included). One read answers both; a
    read-only unit of work takes it from ``actor.org_access`` when the request's
    authentication already made it (see :class:`~fitdata_core.services.Actor`).
    """
    access = actor.org_access
    if uow.read_only and access is not None and access.org_id == org_id:
        org_exists, membership = access.org_exists, access.membership
    else:
        org_exists, membership = await uow.memberships.get_with_org(org_id, actor.user_id)
    if not org_exists:
        raise NotFound(f"Organization {org_id} not found.")
    return require(membership, action)
