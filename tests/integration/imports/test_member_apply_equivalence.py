"""The set-based member apply on Postgres decides exactly as the Python rules do.

Hypothesis draws batches of member records over a small pool of emails (so rows repeat,
match stored users, users of another gym, an owner and an admin, and carry values equal or
not to the stored ones, or none), and each batch is applied twice to the same stored rows
on Postgres, each time in a transaction that is rolled back: once by
``apply_staged_members`` (the SQL path) and once the way the engine does without it (read,
:func:`merge_members`, ``write_members``, ``add_changes``). The resulting users,
memberships and profiles, the undo log, the counts and the row problems must be the same.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.rules.import_merge import merge_members
from fitdata_core.rules.import_values import MemberRecord
from support import builders

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SOURCE = "arbox"
EMAILS = [f"p{i}@gym.example" for i in range(8)]
NAMES = st.sampled_from([None, "Dana", "Noa", "דנה"])
PHONES = st.sampled_from([None, "+972501234567", "+972541111111"])
DATES = st.sampled_from([None, "2026-01-01", "2026-02-01"])


class _World:
    """A migrated database with two gyms and stored people, and an event loop to use it."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = create_engine(url)
        self.uow = SqlUnitOfWorkFactory(self.engine)
        self.org = builders.organization()
        self.other = builders.organization()
        self.job_id = str(uuid.uuid4())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def seed(self) -> None:
        org, other = self.org.id, self.other.id
        users = {e: builders.user(email=e) for e in EMAILS[:6]}
        users[EMAILS[0]] = builders.user(email=EMAILS[0], first_name=None, phone=None)
        async with self.uow() as uow:
            await uow.organizations.add(self.org)
            await uow.organizations.add(self.other)
            for user in users.values():
                await uow.users.add(user)
            gold = builders.plan(org, name="Gold")
            await uow.plans.add(gold)
            await uow.plans.add(builders.plan(org, name="Silver"))
            await uow.plans.add(builders.plan(other, name="Bronze"))
            u = {e: users[e].id for e in users}
            # p0: a user with no membership anywhere; p1: a member here with a profile
            await uow.memberships.add(
                builders.membership(
                    org, u[EMAILS[1]], plan_id=gold.id, start_date="2026-01-01", end_date=None
                )
            )
            await uow.profiles.upsert(
                builders.profile(org, u[EMAILS[1]], external_source=SOURCE, external_id="x1")
            )
            # p2: another gym's member only
            await uow.memberships.add(builders.membership(other, u[EMAILS[2]]))
            # p3: an admin here who also belongs to the other gym
            await uow.memberships.add(builders.membership(org, u[EMAILS[3]], role=Role.ADMIN))
            await uow.memberships.add(builders.membership(other, u[EMAILS[3]]))
            await uow.profiles.upsert(builders.profile(org, u[EMAILS[3]], gender=None))
            # p4: the owner; p5: an inactive member whose profile came from a CSV file
            await uow.memberships.add(builders.membership(org, u[EMAILS[4]], role=Role.OWNER))
            await uow.memberships.add(
                builders.membership(org, u[EMAILS[5]], status=MembershipStatus.INACTIVE)
            )
            await uow.profiles.upsert(
                builders.profile(org, u[EMAILS[5]], external_source="csv", birth_date=None)
            )
            await uow.import_jobs.add(
                ImportJob(
                    id=self.job_id,
                    organization_id=org,
                    source=ImportSource.ARBOX,
                    status=ImportStatus.IN_PROGRESS,
                    phase=ImportPhase.MEMBERS,
                    config={"entities": {"members": True}},
                    started_by=u[EMAILS[4]],
                    created_at=NOW,
                )
            )
            await uow.commit()

    async def apply(self, records: list[MemberRecord], *, sql: bool) -> dict[str, Any]:
        """Stage ``records``, apply them by one path, and describe the outcome (rolled back)."""
        org = self.org.id
        async with self.uow() as uow:
            staged = [(i, r.to_dict()) for i, r in enumerate(records)]
            await uow.imports.stage(self.job_id, "members", staged)
            if sql:
                applied = await uow.imports.apply_staged_members(
                    self.job_id, org, from_seq=0, limit=len(records), source=SOURCE, now=NOW
                )
                assert applied is not None
                tally, problems = applied.tally, applied.problems
                assert (applied.rows, applied.end) == (len(records), len(records))
            else:
                rows = [
                    MemberRecord.from_dict(d)
                    for _, d in await uow.imports.staged(
                        self.job_id, "members", from_seq=0, limit=len(records)
                    )
                ]
                existing = await uow.imports.existing_members(org, [r.email for r in rows])
                plans = {n: p.id for n, p in (await uow.imports.plans_by_name(org)).items()}
                writes = merge_members(
                    org,
                    rows,
                    existing,
                    plans,
                    source=SOURCE,
                    now=NOW,
                    new_id=lambda: str(uuid.uuid4()),
                )
                await uow.imports.write_members(writes)
                await uow.imports.add_changes(self.job_id, writes.changes)
                tally, problems = writes.tally, writes.problems
            outcome = await self._describe(uow)
            outcome["tally"] = tally
            outcome["problems"] = problems
            # No commit: leaving the block rolls the batch back for the other path.
        return outcome

    async def _describe(self, uow: Any) -> dict[str, Any]:
        conn = uow._session.conn
        u, m, p = t.users, t.memberships, t.member_profiles
        email_of = {r.id: r.email for r in (await conn.execute(sa.select(u.c.id, u.c.email)))}
        users = {
            r.email: (r.first_name, r.last_name, r.phone) for r in await conn.execute(sa.select(u))
        }
        memberships = {}
        membership_key = {}
        for r in await conn.execute(sa.select(m)):
            key = (r.organization_id, email_of[r.user_id])
            membership_key[r.id] = key
            memberships[key] = (r.role, r.status, r.plan_id, r.start_date, r.end_date)
        profiles = {
            (r.organization_id, email_of[r.user_id]): tuple(
                getattr(r, c.name) for c in p.c if c.name not in ("organization_id", "user_id")
            )
            for r in await conn.execute(sa.select(p))
        }

        def key(entity: str, row_key: str) -> Any:
            return membership_key[row_key] if entity == "membership" else email_of[row_key]

        changes = [
            (c.entity, c.action, key(c.entity, c.key), c.before, c.after)
            for c in await uow.imports.changes(self.job_id)
        ]
        return {
            "users": users,
            "memberships": memberships,
            "profiles": profiles,
            "changes": changes,
        }


@pytest.fixture(scope="module")
def world(pg_url: str) -> Iterator[_World]:
    from support.databases import truncate_all_postgres

    truncate_all_postgres(pg_url)
    w = _World(pg_url)
    w.run(w.seed())
    try:
        yield w
    finally:
        w.run(w.engine.dispose())
        w.loop.close()
        truncate_all_postgres(pg_url)


records = st.builds(
    MemberRecord,
    external_id=st.sampled_from(["x1", "x2", "x3"]),
    email=st.sampled_from(EMAILS),
    first_name=NAMES,
    last_name=st.sampled_from([None, "Levi", "Cohen"]),
    phone=PHONES,
    status=st.sampled_from(list(MembershipStatus)),
    birth_date=st.sampled_from([None, "1990-05-01", "1985-03-03"]),
    gender=st.sampled_from([None, "female", "male"]),
    plan_name=st.sampled_from([None, "Gold", "Silver", "Bronze", "Platinum"]),
    start_date=DATES,
    end_date=DATES,
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(records, min_size=1, max_size=12))
def test_the_sql_apply_decides_as_the_python_rules(
    world: _World, batch: list[MemberRecord]
) -> None:
    by_sql = world.run(world.apply(batch, sql=True))
    by_python = world.run(world.apply(batch, sql=False))
    assert by_sql == by_python


def test_an_identical_batch_applied_twice_writes_nothing_the_second_time(world: _World) -> None:
    batch = [
        MemberRecord("n1", EMAILS[6], first_name="Noa", plan_name="Gold"),
        MemberRecord("n2", EMAILS[1], first_name="Dana", start_date="2026-03-01"),
    ]

    async def twice() -> tuple[Any, Any, int]:
        async with world.uow() as uow:
            await uow.imports.stage(world.job_id, "members", [(0, batch[0].to_dict())])
            await uow.imports.stage(world.job_id, "members", [(1, batch[1].to_dict())])
            first = await uow.imports.apply_staged_members(
                world.job_id, world.org.id, from_seq=0, limit=10, source=SOURCE, now=NOW
            )
            logged = len(await uow.imports.changes(world.job_id))
            second = await uow.imports.apply_staged_members(
                world.job_id, world.org.id, from_seq=0, limit=10, source=SOURCE, now=NOW
            )
            assert len(await uow.imports.changes(world.job_id)) == logged
        return first, second, logged

    first, second, logged = world.run(twice())
    assert (first.tally.created, first.tally.updated) == (1, 1)
    assert second.tally.unchanged == 2
    assert second.tally.created == second.tally.updated == 0
    # the new one: user, membership, profile; p1: its membership (start) and profile (id)
    assert logged == 3 + 2
