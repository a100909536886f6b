"""Contract: the member list's JSON pages (``uow.member_json``, through
``list_member_json``) on every backend (memory, SQLite, Postgres).

Each page holds the members :func:`list_members` gives for the same request (same order,
total, offset and cursors), each written as the JSON value the core's renderer makes of its
row in the API's shape. On Postgres the database writes the objects, so the awkward values
are here: quotes, backslashes, control characters, non-ASCII text, empty strings,
timestamps with and without microseconds, a profile with nothing in it, no profile at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from seeding import seed_org

from fitdata_adapters.memory import memory_services
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.ports.repositories import MemberFilter, UnitOfWorkFactory
from fitdata_core.rules.member_json import render_member_json
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.members import list_member_json, list_members
from fitdata_http.controllers.members import MEMBER_SHAPE
from support import builders

pytestmark = pytest.mark.integration

AWKWARD = (
    'say "hi"',
    "back\\slash",
    "line\nbreak\ttab\r",
    "\x01\x1f control",
    "שלום עולם",
    "emoji \U0001f3cb\ufe0f",
    "",
    "</script>",
    "\u2028\u2029",
)
MOMENTS = (
    datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 8, 0, 0, 120, tzinfo=UTC),
    datetime(2026, 3, 1, 10, 30, 15, 999999, tzinfo=timezone(timedelta(hours=2))),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
)


async def _gym(uow_factory: UnitOfWorkFactory) -> tuple[Services, Actor, str]:
    """An org with an owner and a dozen members carrying every awkward value somewhere."""
    org = await seed_org(uow_factory)
    owner = builders.user(email="owner@gym.io")
    async with uow_factory() as uow:
        await uow.users.add(owner)
        await uow.memberships.add(builders.membership(org.id, owner.id, role=Role.OWNER))
        for n, text in enumerate(AWKWARD):
            moment = MOMENTS[n % len(MOMENTS)]
            user = builders.user(
                email=f"m{n:02d}@gym.io", first_name=text, last_name=None, phone=text or None
            )
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(
                    org.id,
                    user.id,
                    role=(Role.MEMBER, Role.COACH)[n % 2],
                    status=(MembershipStatus.ACTIVE, MembershipStatus.INVITED)[n % 2],
                    created_at=moment,
                    start_date="2026-01-01" if n % 3 else None,
                    end_date=text if n % 4 == 1 else None,
                )
            )
            if n % 3 == 0:  # a full profile
                await uow.profiles.upsert(
                    builders.profile(
                        org.id,
                        user.id,
                        birth_date="1990-05-17",
                        gender=text,
                        address=text,
                        city=text,
                        notes=text,
                        zip_code="12345",
                        additional_phone=text,
                        emergency_contact_name=text,
                        emergency_contact_phone=text,
                        external_source="arbox",
                        external_id=str(n),
                        updated_at=MOMENTS[(n + 1) % len(MOMENTS)],
                    )
                )
            elif n % 3 == 1:  # a profile with nothing in it
                await uow.profiles.upsert(
                    builders.profile(
                        org.id, user.id, birth_date=None, gender=None, city=None, updated_at=None
                    )
                )
        await uow.commit()
    return memory_services(uow=uow_factory), Actor(owner.id), org.id


async def _both(
    svc: Services, owner: Actor, org_id: str, member_filter: MemberFilter, **paging: object
) -> None:
    rows = await list_members(svc, owner, org_id, member_filter, **paging)  # type: ignore[arg-type]
    rendered = await list_member_json(
        svc,
        owner,
        org_id,
        member_filter,
        MEMBER_SHAPE,
        **paging,  # type: ignore[arg-type]
    )
    assert (rendered.total, rendered.limit, rendered.offset, rendered.next_cursor) == (
        rows.total,
        rows.limit,
        rows.offset,
        rows.next_cursor,
    )
    assert [json.loads(item.json) for item in rendered.items] == [
        json.loads(render_member_json(row, MEMBER_SHAPE)) for row in rows.items
    ]
    assert [(i.email, i.membership_id) for i in rendered.items] == [
        (r.user.email_normalized, r.membership.id) for r in rows.items
    ]


async def test_every_page_is_the_member_lists_page_written_as_json(
    uow_factory: UnitOfWorkFactory,
) -> None:
    svc, owner, org_id = await _gym(uow_factory)
    everyone = MemberFilter()
    await _both(svc, owner, org_id, everyone, limit=200)
    await _both(svc, owner, org_id, everyone, limit=4)
    await _both(svc, owner, org_id, everyone, limit=4, offset=3)
    await _both(svc, owner, org_id, everyone, limit=4, offset=500)  # past the end: counted
    coaches = MemberFilter(roles=frozenset({Role.COACH}))
    await _both(svc, owner, org_id, coaches, limit=3)
    invited = MemberFilter(statuses=frozenset({MembershipStatus.INVITED}))
    await _both(svc, owner, org_id, invited, limit=2, offset=1)

    # Walking the cursors gives what list_members' cursors give, page by page.
    cursor = (await list_members(svc, owner, org_id, everyone, limit=3)).next_cursor
    while cursor is not None:
        await _both(svc, owner, org_id, everyone, limit=3, cursor=cursor)
        page = await list_members(svc, owner, org_id, everyone, limit=3, cursor=cursor)
        cursor = page.next_cursor


async def test_a_member_without_a_profile_has_a_null_profile_and_times_end_in_z(
    uow_factory: UnitOfWorkFactory,
) -> None:
    svc, owner, org_id = await _gym(uow_factory)
    page = await list_member_json(svc, owner, org_id, MemberFilter(), MEMBER_SHAPE, limit=200)
    objects = {item.email: json.loads(item.json) for item in page.items}

    assert objects["owner@gym.io"]["profile"] is None
    assert objects["m01@gym.io"]["profile"] == dict.fromkeys(
        (key for key, _ in MEMBER_SHAPE.fields[9][1].fields),
        None,  # type: ignore[union-attr]
    )
    assert objects["m00@gym.io"]["joinedAt"] == "2026-03-01T08:00:00Z"
    assert objects["m01@gym.io"]["joinedAt"] == "2026-03-01T08:00:00.000120Z"
    assert objects["m02@gym.io"]["joinedAt"] == "2026-03-01T08:30:15.999999Z"
    assert objects["m00@gym.io"]["firstName"] == 'say "hi"'
    assert objects["m03@gym.io"]["profile"]["notes"] == "\x01\x1f control"
