"""Contract: memberships, the members list (filters, paging) and the members stream."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from seeding import commit_one, seed_org, seed_user

from fitdata_core.access import OrgAccess
from fitdata_core.errors import Conflict
from fitdata_core.model.organizations import MemberProfile, MemberRow, MembershipStatus, Role
from fitdata_core.ports.repositories import MemberFilter, UnitOfWorkFactory
from support import builders

pytestmark = pytest.mark.integration

# email, role, status, has a profile
PEOPLE = [
    ("carol@example.com", Role.COACH, MembershipStatus.ACTIVE, True),
    ("alice@example.com", Role.OWNER, MembershipStatus.ACTIVE, False),
    ("erin@example.com", Role.MEMBER, MembershipStatus.SUSPENDED, True),
    ("bob@example.com", Role.MEMBER, MembershipStatus.ACTIVE, False),
    ("dave@example.com", Role.MEMBER, MembershipStatus.INVITED, True),
]


async def _seed_members(uow_factory: UnitOfWorkFactory) -> str:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    async with uow_factory() as uow:
        for email, role, status, with_profile in PEOPLE:
            user = builders.user(email=email)
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(org.id, user.id, role=role, status=status)
            )
            if with_profile:
                await uow.profiles.upsert(builders.profile(org.id, user.id, notes=email))
        outsider = builders.user(email="aaron@example.com")
        await uow.users.add(outsider)
        await uow.memberships.add(builders.membership(other.id, outsider.id))
        await uow.commit()
    return org.id


def _emails(rows: list[MemberRow]) -> list[str]:
    return [row.user.email_normalized for row in rows]


async def test_membership_round_trip_update_and_uniqueness(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    user = await seed_user(uow_factory)
    member = builders.membership(org.id, user.id, role=Role.COACH)
    async with uow_factory() as uow:
        await uow.memberships.add(member)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.memberships.get(org.id, user.id) == member
        assert await uow.memberships.get(org.id, "someone-else") is None
        plan = builders.plan(org.id)
        await uow.plans.add(plan)
        changed = attrs.evolve(member, status=MembershipStatus.SUSPENDED, plan_id=plan.id)
        await uow.memberships.update(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.memberships.get(org.id, user.id) == changed
    duplicate = builders.membership(org.id, user.id)
    with pytest.raises(Conflict) as caught:
        await commit_one(uow_factory, lambda uow: uow.memberships.add(duplicate))
    assert "member" in caught.value.message


async def test_get_with_org_tells_a_missing_org_from_a_missing_membership(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    user = await seed_user(uow_factory)
    member = builders.membership(org.id, user.id, role=Role.COACH)
    await commit_one(uow_factory, lambda uow: uow.memberships.add(member))
    async with uow_factory(read_only=True) as uow:
        assert await uow.memberships.get_with_org(org.id, user.id) == (True, member)
        assert await uow.memberships.get_with_org(other.id, user.id) == (True, None)
        assert await uow.memberships.get_with_org(org.id, "someone-else") == (True, None)
        assert await uow.memberships.get_with_org("no-such-org", user.id) == (False, None)


async def test_get_with_access_reads_the_user_and_their_standing_in_one_go(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    user = await seed_user(uow_factory)
    outsider = await seed_user(uow_factory)
    member = builders.membership(org.id, user.id, role=Role.COACH)
    elsewhere = builders.membership(other.id, outsider.id)
    await commit_one(uow_factory, lambda uow: uow.memberships.add(member))
    await commit_one(uow_factory, lambda uow: uow.memberships.add(elsewhere))
    async with uow_factory(separate_reads=True) as uow:
        assert await uow.users.get_with_access(user.id, org.id) == (
            user,
            OrgAccess(org.id, org_exists=True, membership=member),
        )
        # A member of another org only, and an org that does not exist.
        assert await uow.users.get_with_access(outsider.id, org.id) == (
            outsider,
            OrgAccess(org.id, org_exists=True, membership=None),
        )
        assert await uow.users.get_with_access(user.id, "no-such-org") == (
            user,
            OrgAccess("no-such-org", org_exists=False, membership=None),
        )
        # No such user: nothing to authorize, whatever the org.
        found, _ = await uow.users.get_with_access("no-such-user", org.id)
        assert found is None


async def test_list_members_orders_by_email_and_joins_profiles(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org_id = await _seed_members(uow_factory)
    async with uow_factory() as uow:
        page = await uow.memberships.list_members(org_id, MemberFilter(), limit=50, offset=0)
    rows = list(page.items)
    assert page.total == 5
    assert (page.limit, page.offset) == (50, 0)
    assert _emails(rows) == sorted(email for email, *_ in PEOPLE)
    for row in rows:
        assert row.membership.user_id == row.user.id
        assert row.membership.organization_id == org_id
        expected_profile = {e: p for e, _, _, p in PEOPLE}[row.user.email_normalized]
        if expected_profile:
            assert row.profile is not None
            assert row.profile.notes == row.user.email_normalized
        else:
            assert row.profile is None


async def test_a_listed_member_is_every_stored_field_as_it_was_stored(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Every field its own value (no two strings or instants alike, no None): rows are read
    # by column position, and a field read from its neighbour's column must not pass.
    org = await seed_org(uow_factory)
    plan = builders.plan(org.id)
    user = builders.user(
        email="every.field@example.com",
        first_name="First",
        last_name="Last",
        phone="+972500000001",
        created_at=builders.T0 + timedelta(days=1),
        is_platform_admin=True,
        tokens_valid_after=builders.T0 + timedelta(days=2),
    )
    membership = builders.membership(
        org.id,
        user.id,
        role=Role.COACH,
        status=MembershipStatus.SUSPENDED,
        created_at=builders.T0 + timedelta(days=3),
        plan_id=plan.id,
        start_date="2025-01-02",
        end_date="2026-03-04",
    )
    fields = [f.name for f in attrs.fields(MemberProfile)][2:-1]  # after the ids; updated_at
    profile = builders.profile(
        org.id,
        user.id,
        **{name: f"p{i}" for i, name in enumerate(fields)},  # short: some columns are
        updated_at=builders.T0 + timedelta(days=4),
    )
    async with uow_factory() as uow:
        await uow.plans.add(plan)
        await uow.users.add(user)
        await uow.memberships.add(membership)
        await uow.profiles.upsert(profile)
        await uow.commit()
    expected = MemberRow(membership=membership, user=user, profile=profile)

    async with uow_factory(read_only=True) as uow:
        page = await uow.memberships.list_members(org.id, MemberFilter(), limit=5, offset=0)
        streamed = [row async for row in uow.memberships.stream_members(org.id, MemberFilter())]
    assert list(page.items) == [expected]
    assert streamed == [expected]


async def test_list_members_filters_and_pages(uow_factory: UnitOfWorkFactory) -> None:
    org_id = await _seed_members(uow_factory)
    members_only = MemberFilter(roles=frozenset({Role.MEMBER}))
    active_staff = MemberFilter(
        roles=frozenset({Role.OWNER, Role.COACH}), statuses=frozenset({MembershipStatus.ACTIVE})
    )
    async with uow_factory() as uow:
        members = await uow.memberships.list_members(org_id, members_only, limit=2, offset=0)
        rest = await uow.memberships.list_members(org_id, members_only, limit=2, offset=2)
        staff = await uow.memberships.list_members(org_id, active_staff, limit=10, offset=0)
        suspended = await uow.memberships.list_members(
            org_id,
            MemberFilter(statuses=frozenset({MembershipStatus.SUSPENDED})),
            limit=10,
            offset=0,
        )
        beyond = await uow.memberships.list_members(org_id, MemberFilter(), limit=10, offset=10)
    assert (members.total, _emails(list(members.items))) == (
        3,
        ["bob@example.com", "dave@example.com"],
    )
    assert (rest.total, _emails(list(rest.items))) == (3, ["erin@example.com"])
    assert _emails(list(staff.items)) == ["alice@example.com", "carol@example.com"]
    assert _emails(list(suspended.items)) == ["erin@example.com"]
    assert (beyond.total, list(beyond.items)) == (5, [])


@pytest.mark.parametrize("batch_size", [1, 2, 5, 1000])
async def test_stream_members_yields_the_same_rows_as_the_list(
    uow_factory: UnitOfWorkFactory, batch_size: int
) -> None:
    org_id = await _seed_members(uow_factory)
    member_filter = MemberFilter(
        statuses=frozenset({MembershipStatus.ACTIVE, MembershipStatus.INVITED})
    )
    async with uow_factory() as uow:
        listed = await uow.memberships.list_members(org_id, member_filter, limit=50, offset=0)
        streamed = [
            row
            async for row in uow.memberships.stream_members(
                org_id, member_filter, batch_size=batch_size
            )
        ]
    assert streamed == list(listed.items)
    assert len(streamed) == 4


async def test_stream_members_of_an_empty_org_yields_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    async with uow_factory() as uow:
        rows = [row async for row in uow.memberships.stream_members(org.id, MemberFilter())]
    assert rows == []


async def test_active_owner_emails_lists_only_active_owners_by_email(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org_id = await _seed_members(uow_factory)
    async with uow_factory() as uow:
        for email, status in (
            ("zoe@example.com", MembershipStatus.ACTIVE),
            ("abe@example.com", MembershipStatus.ACTIVE),
            ("aaa@example.com", MembershipStatus.SUSPENDED),
        ):
            user = builders.user(email=email)
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(org_id, user.id, role=Role.OWNER, status=status)
            )
        await uow.commit()
    async with uow_factory() as uow:
        owners = await uow.memberships.active_owner_emails(org_id, limit=10)
        first_two = await uow.memberships.active_owner_emails(org_id, limit=2)
        nobody = await uow.memberships.active_owner_emails("no-such-org", limit=10)
    assert owners == ["abe@example.com", "alice@example.com", "zoe@example.com"]
    assert first_two == owners[:2]
    assert nobody == []


async def test_active_owner_emails_of_several_orgs_in_one_call(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = await _seed_members(uow_factory)  # one active owner: alice
    second = (await seed_org(uow_factory)).id
    ownerless = (await seed_org(uow_factory)).id
    async with uow_factory() as uow:
        for email, status in (
            ("yan@example.com", MembershipStatus.ACTIVE),
            ("bea@example.com", MembershipStatus.ACTIVE),
            ("amy@example.com", MembershipStatus.ACTIVE),
            ("aaa@example.com", MembershipStatus.SUSPENDED),
        ):
            user = builders.user(email=email)
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(second, user.id, role=Role.OWNER, status=status)
            )
        coach = builders.user(email="abc@example.com")
        await uow.users.add(coach)
        await uow.memberships.add(builders.membership(ownerless, coach.id, role=Role.COACH))
        await uow.commit()
    async with uow_factory() as uow:
        every = await uow.memberships.active_owner_emails_of(
            [first, second, ownerless, "no-such-org"], limit=10
        )
        two_each = await uow.memberships.active_owner_emails_of([first, second], limit=2)
        none = await uow.memberships.active_owner_emails_of([], limit=10)
        one_by_one = [
            await uow.memberships.active_owner_emails(org_id, limit=10)
            for org_id in (first, second)
        ]
    assert every == {
        first: ["alice@example.com"],
        second: ["amy@example.com", "bea@example.com", "yan@example.com"],
    }
    assert [every[first], every[second]] == one_by_one
    assert two_each == {
        first: ["alice@example.com"],
        second: ["amy@example.com", "bea@example.com"],
    }
    assert none == {}


_FILTERS = [
    MemberFilter(),
    MemberFilter(roles=frozenset({Role.MEMBER})),
    MemberFilter(statuses=frozenset({MembershipStatus.ACTIVE})),
    MemberFilter(
        roles=frozenset({Role.MEMBER, Role.COACH}),
        statuses=frozenset({MembershipStatus.ACTIVE, MembershipStatus.SUSPENDED}),
    ),
]


async def _totals(uow_factory: UnitOfWorkFactory, org_id: str) -> list[list[int | None]]:
    """Each filter's total as every kind of first or offset page reports it: a page with
    more to come, a page past the end (no row to carry the total: SQL counts it on its
    own), one that holds the rest, and one that holds everything."""
    found = []
    async with uow_factory(read_only=True) as uow:
        for member_filter in _FILTERS:
            pages = [
                await uow.memberships.list_members(org_id, member_filter, limit=1, offset=0),
                await uow.memberships.list_members(org_id, member_filter, limit=5, offset=50),
                await uow.memberships.list_members(org_id, member_filter, limit=50, offset=1),
                await uow.memberships.list_members(org_id, member_filter, limit=50, offset=0),
            ]
            found.append([page.total for page in pages])
    return found


def _expected(people: dict[str, tuple[Role, MembershipStatus]]) -> list[list[int | None]]:
    counts = [
        sum(
            1
            for role, status in people.values()
            if (not f.roles or role in f.roles) and (not f.statuses or status in f.statuses)
        )
        for f in _FILTERS
    ]
    return [[count] * 4 for count in counts]


async def test_list_members_total_is_exact_after_adds_and_changes(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The total (counted on memberships alone in SQL) is exact for every filter, after
    members join, change role and status, and other gyms grow; profiles (a left join in
    the list) never change it."""
    org_id = await _seed_members(uow_factory)
    people = {email: (role, status) for email, role, status, _ in PEOPLE}
    assert await _totals(uow_factory, org_id) == _expected(people)

    async with uow_factory() as uow:
        for n in range(3):
            user = builders.user(email=f"new{n}@example.com")
            await uow.users.add(user)
            role = Role.COACH if n else Role.MEMBER
            await uow.memberships.add(builders.membership(org_id, user.id, role=role))
            people[user.email] = (role, MembershipStatus.ACTIVE)
            await uow.profiles.upsert(builders.profile(org_id, user.id))
        page = await uow.memberships.list_members(org_id, MemberFilter(), limit=50, offset=0)
        bob = next(row for row in page.items if row.user.email == "bob@example.com")
        await uow.memberships.update(
            attrs.evolve(bob.membership, role=Role.COACH, status=MembershipStatus.SUSPENDED)
        )
        people["bob@example.com"] = (Role.COACH, MembershipStatus.SUSPENDED)
        await uow.commit()
    await _seed_members_elsewhere(uow_factory)
    assert await _totals(uow_factory, org_id) == _expected(people)


async def _seed_members_elsewhere(uow_factory: UnitOfWorkFactory) -> None:
    other = await seed_org(uow_factory)
    async with uow_factory() as uow:
        for n in range(4):
            user = builders.user(email=f"elsewhere{n}@example.com")
            await uow.users.add(user)
            await uow.memberships.add(builders.membership(other.id, user.id))
        await uow.commit()
