"""A unique-key race on Postgres: a person signs up with an email the import is about to create,
between the batch's read and its write. The write notices (its insert skips the clash), the
batch is retried, and the retry links the new user instead of failing or duplicating."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine
from fitdata_adapters.db.repositories import pg_member_apply
from fitdata_adapters.db.repositories.imports import SqlImportData
from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.memory.services import memory_services
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.rules.import_merge import AppliedMembers, MemberWrites
from fitdata_core.usecases.imports import ImportRequest, start_import
from support.imports import API_KEY, add_gym, drain, job_of, members

pytestmark = pytest.mark.integration


async def _sign_up(engine: AsyncEngine, email: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            t.users.insert().values(
                id="signed-up-meanwhile",
                email=email,
                first_name="Signed",
                is_platform_admin=False,
                created_at=datetime.now(UTC),
            )
        )


class _SignUpFirst(SqlImportData):
    """Before the first member write, someone signs up with the batch's first new email:
    on the set-based path between the batch's decisions and its writes, on the Python path
    (``python=True``) between the batch's read and ``write_members``."""

    engine: AsyncEngine
    python = False
    raced = False

    async def apply_staged_members(self, *args: Any, **kwargs: Any) -> AppliedMembers | None:
        if _SignUpFirst.python:
            return None
        return await super().apply_staged_members(*args, **kwargs)

    async def _write_decided(self, batch: pg_member_apply.Batch) -> AppliedMembers:
        if not _SignUpFirst.raced:
            first_new = (
                await batch.run(
                    "SELECT email FROM import_batch WHERE NOT dup AND u_id IS NULL "
                    "ORDER BY seq LIMIT 1"
                )
            ).scalar_one_or_none()
            if first_new is not None:
                _SignUpFirst.raced = True
                await _sign_up(self.engine, first_new)
        return await super()._write_decided(batch)

    async def write_members(self, writes: MemberWrites) -> None:
        if writes.new_users and not _SignUpFirst.raced:
            _SignUpFirst.raced = True
            await _sign_up(self.engine, writes.new_users[0].email)
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


@pytest.mark.parametrize("python", [False, True], ids=["set-based", "python-rules"])
async def test_a_sign_up_racing_the_batch_is_retried_and_linked(
    engine: AsyncEngine, python: bool
) -> None:
    _SignUpFirst.raced = False
    _SignUpFirst.python = python
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
