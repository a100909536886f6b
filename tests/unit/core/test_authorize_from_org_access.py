"""``authorize`` takes the caller's standing from ``Actor.org_access`` (read by the
request's authentication) only in a read-only unit of work and only for the same
organization; a unit of work that writes reads it again in its own transaction."""

from __future__ import annotations

import attrs
import pytest

from fitdata_adapters.memory import memory_services
from fitdata_core.access import Action, OrgAccess
from fitdata_core.errors import NotFound, PermissionDenied
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize
from fitdata_core.usecases.organizations import create_organization


async def _gym(svc: Services) -> tuple[str, Actor]:
    org = await create_organization(svc, name="Gym", owner_email="owner@gym.io")
    async with svc.uow(read_only=True) as uow:
        owner = await uow.users.get_by_email("owner@gym.io")
    assert owner is not None
    return org.id, Actor(owner.id)


async def _standing(svc: Services, actor: Actor, org_id: str) -> OrgAccess:
    async with svc.uow(separate_reads=True) as uow:
        _, access = await uow.users.get_with_access(actor.user_id, org_id)
    return access


async def test_a_read_only_unit_uses_the_standing_read_with_the_user() -> None:
    svc = memory_services()
    org_id, owner = await _gym(svc)
    seen = attrs.evolve(owner, org_access=await _standing(svc, owner, org_id))
    # The owner is suspended after the request's authentication read their standing.
    async with svc.uow() as uow:
        membership = await uow.memberships.get(org_id, owner.user_id)
        assert membership is not None
        await uow.memberships.update(attrs.evolve(membership, status=MembershipStatus.SUSPENDED))
        await uow.commit()

    async with svc.uow(separate_reads=True) as uow:  # the request's own reads: its standing
        assert (await authorize(uow, seen, org_id, Action.READ_MEMBERS)).role is Role.OWNER
    async with svc.uow() as uow:  # a unit that writes reads it again
        with pytest.raises(PermissionDenied):
            await authorize(uow, seen, org_id, Action.READ_MEMBERS)
    async with svc.uow(read_only=True) as uow:  # a caller without it reads it
        with pytest.raises(PermissionDenied):
            await authorize(uow, owner, org_id, Action.READ_MEMBERS)


async def test_a_standing_in_another_org_is_not_used() -> None:
    svc = memory_services()
    org_id, owner = await _gym(svc)
    other_id, _ = await _gym_named(svc, "Other", "boss@other.io")
    elsewhere = attrs.evolve(owner, org_access=await _standing(svc, owner, other_id))

    async with svc.uow(separate_reads=True) as uow:
        assert (await authorize(uow, elsewhere, org_id, Action.READ_MEMBERS)).role is Role.OWNER
        with pytest.raises(PermissionDenied):
            await authorize(uow, elsewhere, other_id, Action.READ_MEMBERS)


async def test_an_unknown_org_is_404_from_the_standing_too() -> None:
    svc = memory_services()
    _, owner = await _gym(svc)
    missing = attrs.evolve(owner, org_access=await _standing(svc, owner, "no-such-org"))

    async with svc.uow(separate_reads=True) as uow:
        with pytest.raises(NotFound):
            await authorize(uow, missing, "no-such-org", Action.READ_MEMBERS)


async def _gym_named(svc: Services, name: str, owner_email: str) -> tuple[str, Actor]:
    org = await create_organization(svc, name=name, owner_email=owner_email)
    async with svc.uow(read_only=True) as uow:
        owner = await uow.users.get_by_email(owner_email)
    assert owner is not None
    return org.id, Actor(owner.id)
