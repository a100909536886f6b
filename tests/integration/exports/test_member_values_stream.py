"""The bulk export's reads agree with the domain's on every backend: ``stream_member_values``
gives ``stream_members``' members in the same order with the same values (enums as values, UTC
timestamps, no profile → None), and ``stream_member_csv`` (on Postgres written by the database
itself) is byte for byte what the core's CSV encoder makes of those values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.ports.repositories import (
    MEMBER_ATTRIBUTES,
    MemberFilter,
    UnitOfWorkFactory,
    member_attribute,
)
from fitdata_core.rules.csv_format import encode_csv_rows
from support import builders

pytestmark = pytest.mark.integration

JOINED = datetime(2025, 7, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def _gym(uow_factory: UnitOfWorkFactory) -> str:
    org = builders.organization()
    people = [
        ("נועה", "כהן", "+972-54-123-4567", Role.MEMBER, MembershipStatus.ACTIVE, True),
        ('=HYPERLINK("x")', None, None, Role.MEMBER, MembershipStatus.INVITED, False),
        ("Rotem", "Azoulay", "+972501234567", Role.COACH, MembershipStatus.ACTIVE, True),
        ("Dana", "Levi", None, Role.OWNER, MembershipStatus.ACTIVE, False),
        ("Omer", "Peretz", None, Role.MEMBER, MembershipStatus.CANCELLED, True),
    ]
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        for i, (first, last, phone, role, status, with_profile) in enumerate(people):
            user = builders.user(
                email=f"p{i}-{org.id[:8]}@values.example",
                first_name=first,
                last_name=last,
                phone=phone,
            )
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(
                    org.id, user.id, role=role, status=status, created_at=JOINED + timedelta(i)
                )
            )
            if with_profile:
                await uow.profiles.upsert(
                    builders.profile(org.id, user.id, notes="שורה\nשנייה", address=None)
                )
        await uow.commit()
    return org.id


@pytest.mark.parametrize(
    "member_filter",
    [
        MemberFilter(),
        MemberFilter(roles=frozenset({Role.MEMBER})),
        MemberFilter(statuses=frozenset({MembershipStatus.ACTIVE, MembershipStatus.INVITED})),
    ],
)
async def test_member_values_match_the_member_rows(
    uow_factory: UnitOfWorkFactory, member_filter: MemberFilter
) -> None:
    org_id = await _gym(uow_factory)
    attributes = sorted(MEMBER_ATTRIBUTES)

    async with uow_factory() as uow:
        expected = [
            tuple(member_attribute(row, path) for path in attributes)
            async for row in uow.memberships.stream_members(org_id, member_filter)
        ]
        batches = [
            batch
            async for batch in uow.memberships.stream_member_values(
                org_id, member_filter, attributes, batch_size=2
            )
        ]

    assert expected  # every filter above matches someone
    assert all(len(batch) <= 2 for batch in batches)
    assert [tuple(row) for batch in batches for row in batch] == expected
    joined = [row[attributes.index("membership.created_at")] for b in batches for row in b]
    assert all(isinstance(when, datetime) for when in joined)
    assert all(when.utcoffset() == timedelta(0) for when in joined)


async def test_member_values_in_the_order_asked_and_empty_org_yields_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org_id = await _gym(uow_factory)
    empty = builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(empty)
        await uow.commit()

    async with uow_factory() as uow:
        rows = [
            tuple(row)
            async for batch in uow.memberships.stream_member_values(
                org_id, MemberFilter(), ["user.email", "membership.role", "user.first_name"]
            )
            for row in batch
        ]
        nothing = [
            batch
            async for batch in uow.memberships.stream_member_values(
                empty.id, MemberFilter(), ["user.email"]
            )
        ]

    assert rows[0] == (f"p0-{org_id[:8]}@values.example", "member", "נועה")
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    assert nothing == []


# Cells a spreadsheet would run, cells that must stay as they are, and CSV's own hazards.
AWKWARD = [
    '=HYPERLINK("http://evil.example","x")',
    "+972-54-123-4567",
    "-12.5",
    "+1 (555) 010-9999",
    "1e5",
    "+",
    "-",
    "@SUM(A1:A2)",
    "\tcmd",
    "\rcr",
    "＝1+1",
    "-2+3",
    "+972-54-abc",
    'a "quoted" word',
    "comma, inside",
    "line\nbreak",
    "  spaced  ",
    "",
    "כהן, דוד",
    "'already quoted",
    "٣٤٥",
    "-.5",
    "+(",
    "\\.",
    '"',
    ",",
    "a\r\nb",
    "\nlead",
]


async def test_csv_rows_written_by_the_backend_match_the_core_encoder_byte_for_byte(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        for i, value in enumerate(AWKWARD):
            user = builders.user(
                email=f"a{i:02d}-{org.id[:8]}@awkward.example",
                first_name=value,
                last_name=None if i % 3 == 0 else AWKWARD[-1 - i],
                phone=value if i % 2 else None,
            )
            await uow.users.add(user)
            joined = JOINED + timedelta(seconds=i) if i % 2 else JOINED.replace(microsecond=0)
            await uow.memberships.add(builders.membership(org.id, user.id, created_at=joined))
            if i % 4:
                await uow.profiles.upsert(builders.profile(org.id, user.id, notes=value))
        await uow.commit()
    every = sorted(MEMBER_ATTRIBUTES)

    # Batches of one row, of some, and around the row count: each batch is made into CR LF
    # lines on its own (in one go, or line by line when a cell holds a line break).
    sizes = (1, 7, len(AWKWARD) - 1, len(AWKWARD), len(AWKWARD) + 1)
    for attributes in (every, ["user.last_name"], ["membership.created_at", "profile.notes"]):
        async with uow_factory() as uow:
            values = [
                row
                async for batch in uow.memberships.stream_member_values(
                    org.id, MemberFilter(), attributes
                )
                for row in batch
            ]
        expected = encode_csv_rows(values).encode()
        for batch_size in sizes:
            async with uow_factory() as uow:
                pieces = [
                    piece
                    async for piece in uow.member_csv.stream_member_csv(
                        org.id, MemberFilter(), attributes, batch_size=batch_size
                    )
                ]

            assert sum(count for count, _ in pieces) == len(AWKWARD)
            assert all(0 < count <= batch_size for count, _ in pieces)
            assert b"".join(data for _, data in pieces) == expected, (attributes, batch_size)


async def test_csv_rows_match_the_core_encoder_across_many_batches(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Thousands of rows, a few with a line break in a cell (first and last rows, and on both
    sides of batch edges), streamed in batches the row count does not divide evenly."""
    org = builders.organization()
    count = 2001
    broken = {0, 999, 1000, 1333, 1334, 2000}
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        for i in range(count):
            user = builders.user(
                email=f"m{i:05d}-{org.id[:8]}@many.example",
                first_name=AWKWARD[i % len(AWKWARD)],
                last_name="two\nlines" if i in broken else f"Levi {i}",
                phone=None if i % 5 == 0 else f"+972-54-{i:07d}",
            )
            await uow.users.add(user)
            await uow.memberships.add(builders.membership(org.id, user.id))
            if i % 3:
                await uow.profiles.upsert(builders.profile(org.id, user.id, address=f"{i}, Herzl"))
        await uow.commit()
    attributes = sorted(MEMBER_ATTRIBUTES)

    async with uow_factory() as uow:
        values = [
            row
            async for batch in uow.memberships.stream_member_values(
                org.id, MemberFilter(), attributes
            )
            for row in batch
        ]
    expected = encode_csv_rows(values).encode()
    assert len(values) == count
    for batch_size in (2000, 1000, 667):
        async with uow_factory() as uow:
            pieces = [
                piece
                async for piece in uow.member_csv.stream_member_csv(
                    org.id, MemberFilter(), attributes, batch_size=batch_size
                )
            ]

        assert sum(n for n, _ in pieces) == count
        assert all(0 < n <= batch_size for n, _ in pieces)
        assert b"".join(data for _, data in pieces) == expected, batch_size
