"""A unique-key race on Postgres: a person signs up with an email the import is about to create,
between the batch's read and its write. The write notices (its insert skips the clash), the
batch is retried, and the retry links the new user instead of failing or duplicating."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.memory.services import memory_services
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.usecases.imports import ImportRequest, start_import
from support.import_races import SIGNED_UP_ID, RacingFactory, SignUpFirst
from support.imports import API_KEY, add_gym, drain, job_of, members

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(clean_pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.mark.parametrize("python", [False, True], ids=["set-based", "python-rules"])
async def test_a_sign_up_racing_the_batch_is_retried_and_linked(
    engine: AsyncEngine, python: bool
) -> None:
    SignUpFirst.raced = False
    SignUpFirst.python = python
    source = MemoryMemberSource(members=members(50))
    svc = memory_services(
        uow=RacingFactory(engine),
        member_source=source,
        imports=ImportPolicy(retry_delays=(0, 0)),
    )
    gym = await add_gym(svc)
    job_id = await start_import(
        svc, gym.owner, gym.org_id, ImportRequest(credentials=API_KEY, plans=False, enrich=False)
    )
    await drain(svc)
    job = await job_of(svc, job_id)
    assert SignUpFirst.raced
    assert job.status is ImportStatus.COMPLETED, job.error_message
    assert job.results["members"]["created"] == 50
    async with engine.connect() as conn:
        users = (await conn.execute(sa.select(sa.func.count()).select_from(t.users))).scalar_one()
        linked = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.memberships)
                .where(t.memberships.c.user_id == SIGNED_UP_ID)
            )
        ).scalar_one()
    assert users == 50 + 1  # the owner, and no second user for the raced email
    assert linked == 1
