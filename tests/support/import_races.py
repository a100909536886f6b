"""A unique-key race for import tests on Postgres: someone signs up with an email the import
is about to create, between the batch's decisions and its writes: on the set-based path
(Postgres applies staged members in SQL) inside ``_write_decided``, on the Python path
(``SignUpFirst.python = True``) between the batch's read and ``write_members``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories import pg_member_apply
from fitdata_adapters.db.repositories.imports import SqlImportData
from fitdata_adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from fitdata_core.rules.import_merge import AppliedMembers, MemberWrites

SIGNED_UP_ID = "signed-up-meanwhile"


async def _sign_up(engine: AsyncEngine, email: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            t.users.insert().values(
                id=SIGNED_UP_ID,
                email=email,
                first_name="Signed",
                is_platform_admin=False,
                created_at=datetime.now(UTC),
            )
        )


class SignUpFirst(SqlImportData):
    """Before the first member write, someone signs up with the batch's first new email."""

    engine: AsyncEngine
    python = False
    raced = False

    async def apply_staged_members(self, *args: Any, **kwargs: Any) -> AppliedMembers | None:
        if SignUpFirst.python:
            return None
        return await super().apply_staged_members(*args, **kwargs)

    async def _write_decided(self, batch: pg_member_apply.Batch) -> AppliedMembers:
        if not SignUpFirst.raced:
            first_new = (
                await batch.run(
                    "SELECT email FROM import_batch WHERE NOT dup AND u_id IS NULL "
                    "ORDER BY seq LIMIT 1"
                )
            ).scalar_one_or_none()
            if first_new is not None:
                SignUpFirst.raced = True
                await _sign_up(self.engine, first_new)
        return await super()._write_decided(batch)

    async def write_members(self, writes: MemberWrites) -> None:
        if writes.new_users and not SignUpFirst.raced:
            SignUpFirst.raced = True
            await _sign_up(self.engine, writes.new_users[0].email)
        await super().write_members(writes)


class RacingFactory(SqlUnitOfWorkFactory):
    """Units of work whose import data races a sign-up (:class:`SignUpFirst`)."""

    def __call__(self, *, read_only: bool = False, separate_reads: bool = False) -> SqlUnitOfWork:
        uow = super().__call__(read_only=read_only, separate_reads=separate_reads)
        racing = SignUpFirst(uow._session)
        racing.engine = self.engine
        uow.imports = racing
        return uow
