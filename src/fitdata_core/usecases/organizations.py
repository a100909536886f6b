"""Creating organizations and adding people to them (operator and demo tooling)."""

from __future__ import annotations

import attrs

from fitdata_core.errors import Conflict, InvalidInput
from fitdata_core.model.organizations import (
    Membership,
    MembershipStatus,
    Organization,
    Role,
    User,
    normalize_email,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.rules.validation import validate_email, validate_phone
from fitdata_core.services import Services
from fitdata_core.usecases.common import load_org

__all__ = [
    "NewMember",
    "add_member",
    "create_organization",
]


@attrs.frozen
class NewMember:
    """A person to add to an organization: email, role, status and optional details."""

    email: str
    role: Role
    status: MembershipStatus = MembershipStatus.ACTIVE
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


async def _find_or_create_user(svc: Services, uow: UnitOfWork, member: NewMember) -> User:
    email = validate_email(member.email)
    existing = await uow.users.get_by_email(email)
    if existing is not None:
        return existing
    user = User(
        id=svc.ids.new_id(),
        email=normalize_email(email),
        first_name=member.first_name,
        last_name=member.last_name,
        phone=validate_phone(member.phone) if member.phone else None,
        created_at=svc.clock.now(),
    )
    await uow.users.add(user)
    return user


async def _join(svc: Services, uow: UnitOfWork, org_id: str, member: NewMember) -> User:
    user = await _find_or_create_user(svc, uow, member)
    if await uow.memberships.get(org_id, user.id) is not None:
        raise Conflict(f"{user.email} is already a member of this organization.")
    await uow.memberships.add(
        Membership(
            id=svc.ids.new_id(),
            organization_id=org_id,
            user_id=user.id,
            role=member.role,
            status=member.status,
            created_at=svc.clock.now(),
        )
    )
    return user


async def create_organization(svc: Services, *, name: str, owner_email: str) -> Organization:
    """A new gym on the free tier, owned by ``owner_email`` (created if unknown)."""
    if not name.strip():
        raise InvalidInput("The organization name must not be empty.", field="name")
    org = Organization(
        id=svc.ids.new_id(),
        name=name.strip(),
        platform_tier=PlatformTier.LITE,
        created_at=svc.clock.now(),
    )
    async with svc.uow() as uow:
        await uow.organizations.add(org)
        await _join(svc, uow, org.id, NewMember(email=owner_email, role=Role.OWNER))
        await uow.commit()
    return org


async def add_member(svc: Services, *, org_id: str, member: NewMember) -> User:
    """Add a person to an organization; an existing user (by email) is reused."""
    async with svc.uow() as uow:
        await load_org(uow, org_id)
        user = await _join(svc, uow, org_id, member)
        await uow.commit()
    return user
