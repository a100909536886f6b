"""Feature checks live in the core use cases: a library caller meets the tier rules an HTTP
client meets, with no route guard in between."""

from __future__ import annotations

import attrs
import pytest

from fitdata_adapters.memory import memory_services
from fitdata_core.errors import FeatureNotInTier, PermissionDenied
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.catalog import create_course, list_courses
from fitdata_core.usecases.organizations import create_organization


async def _gym(svc: Services, tier: PlatformTier) -> tuple[str, Actor]:
    org = await create_organization(svc, name="Gym", owner_email="owner@gym.io")
    async with svc.uow() as uow:
        await uow.organizations.update(attrs.evolve(org, platform_tier=tier))
        owner = await uow.users.get_by_email("owner@gym.io")
        await uow.commit()
    assert owner is not None
    return org.id, Actor(owner.id)


async def test_listing_courses_on_the_free_tier_is_refused() -> None:
    svc = memory_services()
    org_id, owner = await _gym(svc, PlatformTier.LITE)

    with pytest.raises(FeatureNotInTier, match='Feature "courses"'):
        await list_courses(svc, owner, org_id)
    with pytest.raises(FeatureNotInTier, match='Feature "courses"'):
        await create_course(svc, owner, org_id, name="Yoga")


async def test_courses_on_pro_are_listed() -> None:
    svc = memory_services()
    org_id, owner = await _gym(svc, PlatformTier.PRO)

    course = await create_course(svc, owner, org_id, name="Yoga")

    assert await list_courses(svc, owner, org_id) == [course]


async def test_membership_is_checked_before_the_tier() -> None:
    svc = memory_services()
    org_id, _ = await _gym(svc, PlatformTier.LITE)

    # A stranger is refused as a stranger, not told about the organization's tier.
    with pytest.raises(PermissionDenied) as refused:
        await list_courses(svc, Actor("someone-else"), org_id)
    assert not isinstance(refused.value, FeatureNotInTier)
