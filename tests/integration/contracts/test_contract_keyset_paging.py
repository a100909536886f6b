"""Contract: keyset paging of the member, export job and billing lists, through the use
cases, on every backend (memory, SQLite, Postgres).

Walking ``next_cursor`` from the first page must visit every member exactly once and in
order, also when members join between two pages; the total is counted on the first page
only; a cursor that is not one we issued is a 400 naming ``cursor``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from seeding import seed_org

from fitdata_adapters.memory import memory_services
from fitdata_core.errors import InvalidInput
from fitdata_core.model.organizations import Role
from fitdata_core.paging import encode_cursor
from fitdata_core.ports.repositories import MemberFilter, UnitOfWorkFactory
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.billing.status import list_events, list_transactions
from fitdata_core.usecases.exports.jobs import list_export_jobs
from fitdata_core.usecases.members import list_members
from support import builders

pytestmark = pytest.mark.integration


async def _gym(uow_factory: UnitOfWorkFactory, emails: list[str]) -> tuple[Services, Actor, str]:
    """An org whose owner is ``owner@gym.io``, with a member per email, and an outsider in
    another org whose email sorts among them (it must never show up)."""
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    owner = builders.user(email="owner@gym.io")
    async with uow_factory() as uow:
        await uow.users.add(owner)
        await uow.memberships.add(builders.membership(org.id, owner.id, role=Role.OWNER))
        outsider = builders.user(email="m-outsider@else.io")
        await uow.users.add(outsider)
        await uow.memberships.add(builders.membership(other.id, outsider.id))
        await uow.commit()
    await _add(uow_factory, org.id, emails)
    return memory_services(uow=uow_factory), Actor(owner.id), org.id


async def _add(uow_factory: UnitOfWorkFactory, org_id: str, emails: list[str]) -> None:
    async with uow_factory() as uow:
        for email in emails:
            user = builders.user(email=email)
            await uow.users.add(user)
            await uow.memberships.add(builders.membership(org_id, user.id))
        await uow.commit()


async def test_walking_the_cursor_visits_every_member_once_in_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    emails = [f"m{n:03d}@gym.io" for n in range(23)]
    svc, owner, org_id = await _gym(uow_factory, emails)

    first = await list_members(svc, owner, org_id, MemberFilter(), limit=5)
    seen = [row.user.email_normalized for row in first.items]
    pages = [first]
    while pages[-1].next_cursor is not None:
        page = await list_members(
            svc, owner, org_id, MemberFilter(), limit=5, cursor=pages[-1].next_cursor
        )
        seen += [row.user.email_normalized for row in page.items]
        pages.append(page)

    assert seen == sorted([*emails, "owner@gym.io"])
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 4]
    # Counted once, on the first page; cursor pages neither count nor have an offset.
    assert (first.total, first.offset) == (24, 0)
    assert all((p.total, p.offset) == (None, None) for p in pages[1:])
    assert pages[-1].next_cursor is None


async def test_members_added_between_pages_are_neither_repeated_nor_skipped(
    uow_factory: UnitOfWorkFactory,
) -> None:
    svc, owner, org_id = await _gym(uow_factory, [f"m{n:02d}@gym.io" for n in range(0, 20, 2)])

    first = await list_members(svc, owner, org_id, MemberFilter(), limit=4)
    assert [r.user.email_normalized for r in first.items][-1] == "m06@gym.io"
    # One joins before the cursor (already passed: not shown), two after it (shown once each).
    await _add(uow_factory, org_id, ["m01@gym.io", "m07@gym.io", "m99@gym.io"])
    seen = [r.user.email_normalized for r in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = await list_members(svc, owner, org_id, MemberFilter(), limit=4, cursor=cursor)
        seen += [r.user.email_normalized for r in page.items]
        cursor = page.next_cursor

    expected = sorted(
        {f"m{n:02d}@gym.io" for n in range(0, 20, 2)} | {"m07@gym.io", "m99@gym.io", "owner@gym.io"}
    )
    assert seen == expected
    assert len(seen) == len(set(seen))


async def test_cursor_keeps_the_filter_and_offset_pages_lead_on_by_cursor(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # The owner (owner@gym.io, sorting last) is not a member: the filter must hold on every page.
    svc, owner, org_id = await _gym(uow_factory, [f"m{n}@gym.io" for n in range(6)])
    only_members = MemberFilter(roles=frozenset({Role.MEMBER}))

    by_offset = await list_members(svc, owner, org_id, only_members, limit=2, offset=2)
    assert [r.user.email_normalized for r in by_offset.items] == ["m2@gym.io", "m3@gym.io"]
    assert by_offset.total == 6
    assert by_offset.next_cursor is not None
    rest = await list_members(
        svc, owner, org_id, only_members, limit=10, cursor=by_offset.next_cursor
    )
    assert [r.user.email_normalized for r in rest.items] == ["m4@gym.io", "m5@gym.io"]
    assert rest.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "bm90IGpzb24",  # "not json"
        encode_cursor("only-one-part"),
        encode_cursor("a", "b", "c"),
        encode_cursor("nul\x00@gym.io", "id"),
        "A" * 2000,
    ],
)
async def test_a_cursor_we_did_not_issue_is_a_400_naming_cursor(
    uow_factory: UnitOfWorkFactory, cursor: str
) -> None:
    svc, owner, org_id = await _gym(uow_factory, ["a@gym.io"])
    with pytest.raises(InvalidInput) as caught:
        await list_members(svc, owner, org_id, MemberFilter(), limit=5, cursor=cursor)
    assert caught.value.field == "cursor"


async def test_cursor_and_offset_together_and_limits_are_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    svc, owner, org_id = await _gym(uow_factory, ["a@gym.io"])
    cursor = encode_cursor("a@gym.io", "x")
    with pytest.raises(InvalidInput) as both:
        await list_members(svc, owner, org_id, MemberFilter(), limit=5, offset=1, cursor=cursor)
    assert both.value.field == "cursor"
    for limit in (0, 201):
        with pytest.raises(InvalidInput) as caught:
            await list_members(svc, owner, org_id, MemberFilter(), limit=limit, cursor=cursor)
        assert caught.value.field == "limit"
    largest = await list_members(svc, owner, org_id, MemberFilter(), limit=200, cursor=cursor)
    assert largest.limit == 200


async def test_export_jobs_walk_newest_first_by_cursor(uow_factory: UnitOfWorkFactory) -> None:
    svc, owner, org_id = await _gym(uow_factory, [])
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    # Two jobs share a created_at: the id breaks the tie, so neither is lost at a page edge.
    times = [start + timedelta(minutes=n) for n in (0, 1, 1, 2, 3, 4, 5)]
    async with uow_factory() as uow:
        jobs = [builders.export_job(org_id, owner.user_id, created_at=at) for at in times]
        for job in jobs:
            await uow.export_jobs.add(job)
        await uow.commit()
    expected = [j.id for j in sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)]

    first = await list_export_jobs(svc, owner, org_id, limit=2)
    seen = [j.id for j in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = await list_export_jobs(svc, owner, org_id, limit=2, cursor=cursor)
        assert page.total is None
        seen += [j.id for j in page.items]
        cursor = page.next_cursor

    assert first.total == 7
    assert seen == expected
    with pytest.raises(InvalidInput) as caught:
        await list_export_jobs(svc, owner, org_id, cursor=encode_cursor("yesterday", "x"))
    assert caught.value.field == "cursor"


async def test_billing_lists_walk_by_cursor_on_every_backend(
    uow_factory: UnitOfWorkFactory,
) -> None:
    svc, owner, org_id = await _gym(uow_factory, [])
    other = await seed_org(uow_factory)
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    async with uow_factory() as uow:
        txns = [
            builders.transaction(org_id, created_at=start + timedelta(minutes=n))
            for n in (0, 1, 1, 2, 3)
        ]
        for txn in txns:
            await uow.billing_transactions.add(txn)
        await uow.billing_events.add_many(org_id, [builders.event(org_id, f"e{n}") for n in (0, 1)])
        await uow.billing_events.add(other.id, builders.event(other.id, "elsewhere"))
        await uow.billing_events.add_many(org_id, [builders.event(org_id, f"e{n}") for n in (2, 3)])
        await uow.commit()

    first = await list_transactions(svc, owner, org_id, limit=2)
    seen = [t.id for t in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = await list_transactions(svc, owner, org_id, limit=2, cursor=cursor)
        assert (page.total, page.offset) == (None, None)
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
    events = await list_events(svc, owner, org_id, limit=3)
    assert events.next_cursor is not None
    rest = await list_events(svc, owner, org_id, limit=3, cursor=events.next_cursor)

    assert first.total == 5
    assert seen == [t.id for t in sorted(txns, key=lambda t: (t.created_at, t.id), reverse=True)]
    assert [e.name for e in events.items] == ["e0", "e1", "e2"]
    assert events.total == 4
    assert [e.name for e in rest.items] == ["e3"]
    assert (rest.total, rest.next_cursor) == (None, None)
    with pytest.raises(InvalidInput) as caught:
        await list_events(svc, owner, org_id, cursor=encode_cursor("e3"))
    assert caught.value.field == "cursor"
