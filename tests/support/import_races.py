"""A unique-key race for import tests on Postgres: someone signs up with an email the import
is about to create, between the batch's read and its write."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.imports import SqlImportData
from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from fitdata_core.rules.import_merge import MemberWrites

SIGNED_UP_ID = "signed-up-meanwhile"


class SignUpFirst(SqlImportData):
    """Before the first member write, someone signs up with the batch's first new email."""

    engine: AsyncEngine
    raced = False

    async def write_members(self, writes: MemberWrites) -> None:
        if writes.new_users and not SignUpFirst.raced:
            SignUpFirst.raced = True
            async with self.engine.begin() as conn:
                await conn.execute(
                    t.users.insert().values(
                        id=SIGNED_UP_ID,
                        email=writes.new_users[0].email,
                        first_name="Signed",
                        is_platform_admin=False,
                        created_at=datetime.now(UTC),
                    )
                )
        await super().write_members(writes)


class RacingFactory(SqlUnitOfWorkFactory):
    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        uow = super().__call__(read_only=read_only)
        racing = SignUpFirst(uow._session)
        racing.engine = self.engine
        uow.imports = racing
        return uow
