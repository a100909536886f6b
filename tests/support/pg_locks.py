"""Waiting, in a Postgres lock test, until another unit of work is queued on a row lock."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

_LOCK_WAITS = sa.text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def wait_for_a_lock_wait(engine: AsyncEngine) -> None:
    """Return once some backend of this database waits on a row lock."""
    while True:
        async with engine.connect() as conn:
            if (await conn.execute(_LOCK_WAITS)).scalar_one() > 0:
                return
        await asyncio.sleep(0.02)
