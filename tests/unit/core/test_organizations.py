"""Creating organizations and members, and reading them back, on the memory adapters."""

from __future__ import annotations

import pytest

from fitdata_adapters.memory import memory_services
from fitdata_core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.ports.repositories import MemberFilter
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.members import list_members
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization


@pytest.fixture
def svc() -> Services:
    return memory_services()


async def test_new_organization_is_lite_and_owned(svc: Services) -> None:
    org = await create_organization(svc, name="  Tel Aviv Strength ", owner_email="Owner@Gym.io")
    assert org.name == "Tel Aviv Strength"
    assert org.platform_tier is PlatformTier.LITE
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@gym.io")
        assert owner is not None
        membership = await uow.memberships.get(org.id, owner.id)
    assert membership is not None
    assert membership.role is Role.OWNER


async def test_empty_name_is_refused(svc: Services) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await create_organization(svc, name="  ", owner_email="a@b.io")
    assert excinfo.value.field == "name"


async def test_same_email_in_other_case_is_the_same_user(svc: Services) -> None:
    org_a = await create_organization(svc, name="A", owner_email="dana@gym.io")
    org_b = await create_organization(svc, name="B", owner_email="DANA@gym.io")
    user = await add_member(svc, org_id=org_b.id, member=NewMember("Coach@gym.io", Role.COACH))
    again = await add_member(svc, org_id=org_a.id, member=NewMember("coach@GYM.io", Role.MEMBER))
    assert user.id == again.id


async def test_adding_a_member_twice_conflicts(svc: Services) -> None:
    org = await create_organization(svc, name="A", owner_email="dana@gym.io")
    await add_member(svc, org_id=org.id, member=NewMember("x@gym.io", Role.MEMBER))
    with pytest.raises(Conflict):
        await add_member(svc, org_id=org.id, member=NewMember("X@gym.io", Role.MEMBER))


async def test_adding_to_unknown_org_is_not_found(svc: Services) -> None:
    with pytest.raises(NotFound):
        await add_member(svc, org_id="nope", member=NewMember("x@gym.io", Role.MEMBER))


async def test_members_listing_filters_and_pages(svc: Services) -> None:
    org = await create_organization(svc, name="A", owner_email="owner@gym.io")
    coach = await add_member(svc, org_id=org.id, member=NewMember("coach@gym.io", Role.COACH))
    for i in range(5):
        status = MembershipStatus.INVITED if i % 2 else MembershipStatus.ACTIVE
        await add_member(
            svc, org_id=org.id, member=NewMember(f"m{i}@gym.io", Role.MEMBER, status=status)
        )
    owner = Actor(user_id=(await _user_id(svc, "owner@gym.io")))
    page = await list_members(svc, owner, org.id, MemberFilter(), limit=3, offset=0)
    assert page.total == 7
    assert [r.user.email for r in page.items] == ["coach@gym.io", "m0@gym.io", "m1@gym.io"]
    invited = await list_members(
        svc,
        owner,
        org.id,
        MemberFilter(statuses=frozenset({MembershipStatus.INVITED})),
        limit=50,
        offset=0,
    )
    assert {r.user.email for r in invited.items} == {"m1@gym.io", "m3@gym.io"}
    coaches = await list_members(
        svc,
        Actor(coach.id),
        org.id,
        MemberFilter(roles=frozenset({Role.COACH})),
        limit=50,
        offset=0,
    )
    assert [r.user.id for r in coaches.items] == [coach.id]


async def test_members_listing_refuses_plain_members_and_strangers(svc: Services) -> None:
    org = await create_organization(svc, name="A", owner_email="owner@gym.io")
    other = await create_organization(svc, name="B", owner_email="other@gym.io")
    member = await add_member(svc, org_id=org.id, member=NewMember("m@gym.io", Role.MEMBER))
    with pytest.raises(PermissionDenied):
        await list_members(svc, Actor(member.id), org.id, MemberFilter(), limit=10, offset=0)
    stranger = Actor(await _user_id(svc, "other@gym.io"))
    with pytest.raises(PermissionDenied):
        await list_members(svc, stranger, org.id, MemberFilter(), limit=10, offset=0)
    with pytest.raises(NotFound):
        await list_members(svc, stranger, "missing-org", MemberFilter(), limit=10, offset=0)
    assert other.id != org.id


@pytest.mark.parametrize(
    ("limit", "offset", "field"), [(0, 0, "limit"), (201, 0, "limit"), (10, -1, "offset")]
)
async def test_bad_paging_names_the_field(
    svc: Services, limit: int, offset: int, field: str
) -> None:
    org = await create_organization(svc, name="A", owner_email="owner@gym.io")
    owner = Actor(await _user_id(svc, "owner@gym.io"))
    with pytest.raises(InvalidInput) as excinfo:
        await list_members(svc, owner, org.id, MemberFilter(), limit=limit, offset=offset)
    assert excinfo.value.field == field


async def _user_id(svc: Services, email: str) -> str:
    async with svc.uow() as uow:
        user = await uow.users.get_by_email(email)
    assert user is not None
    return user.id
