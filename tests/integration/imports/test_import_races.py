"""A unique-key race on Postgres: a person signs up with an email the import is about to create,
between the batch's read and its write. The write notices (its insert skips the clash), the
batch is retried, and the retry links the new user instead of failing or duplicating."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.repositories.imports import SqlImportData
from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.memory.services import memory_services
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.rules.import_merge import MemberWrites
from fitdata_core.usecases.imports import ImportRequest, start_import
from support.imports import API_KEY, add_gym, drain, job_of, members

pytestmark = pytest.mark.integration


class _SignUpFirst(SqlImportData):
    """Before the first member write, someone signs up with the batch's first new email."""

    engine: AsyncEngine
    raced = False

    async def write_members(self, writes: MemberWrites) -> None:
        if writes.new_users and not _SignUpFirst.raced:
            _SignUpFirst.raced = True
            async with self.engine.begin() as conn:
                await conn.execute(
                    t.users.insert().values(
                        id="signed-up-meanwhile",
                        email=writes.new_users[0].email,
                        first_name="Signed",
                        is_platform_admin=False,
                        created_at=datetime.now(UTC),
                    )
                )
        await super().write_members(writes)


class _RacingFactory(SqlUnitOfWorkFactory):
    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        uow = super().__call__(read_only=read_only)
        racing = _SignUpFirst(uow._session)
        racing.engine = self.engine
        uow.imports = racing
        return uow


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(clean_pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_sign_up_racing_the_batch_is_retried_and_linked(engine: AsyncEngine) -> None:
    _SignUpFirst.raced = False
    source = MemoryMemberSource(members=members(50))
    svc = memory_services(
        uow=_RacingFactory(engine),
        member_source=source,
        imports=ImportPolicy(retry_delays=(0, 0)),
    )
    gym = await add_gym(svc)
    job_id = await start_import(
        svc, gym.owner, gym.org_id, ImportRequest(credentials=API_KEY, plans=False, enrich=False)
    )
    await drain(svc)
    job = await job_of(svc, job_id)
    assert _SignUpFirst.raced
    assert job.status is ImportStatus.COMPLETED, job.error_message
    assert job.results["members"]["created"] == 50
    async with engine.connect() as conn:
        users = (await conn.execute(sa.select(sa.func.count()).select_from(t.users))).scalar_one()
        linked = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.memberships)
                .where(t.memberships.c.user_id == "signed-up-meanwhile")
            )
        ).scalar_one()
    assert users == 50 + 1  # the owner, and no second user for the raced email
    assert linked == 1
