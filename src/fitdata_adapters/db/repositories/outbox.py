"""The transactional outbox: jobs stored with the rows they concern, relayed after commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_core.ports.infrastructure import JobMessage


def _message(row: Mapping[str, Any]) -> JobMessage:
    return JobMessage(
        id=row["id"], actor=row["actor"], args=dict(row["args"]), created_at=row["created_at"]
    )


class SqlOutboxRepository(SqlRepository):
    async def add(self, message: JobMessage) -> None:
        await self._db.execute(
            t.outbox.insert().values(
                id=message.id,
                actor=message.actor,
                args=dict(message.args),
                created_at=message.created_at,
                attempts=0,
            )
        )

    async def claim_batch(
        self, *, limit: int, now: datetime, lease_seconds: int
    ) -> list[JobMessage]:
        """Oldest first. On Postgres rows another relay is claiming are skipped; the lease
        (visible once this unit of work commits) keeps them from being sent twice meanwhile."""
        o = t.outbox
        rows = await self._db.all(
            sa.select(o)
            .where(
                o.c.delivered_at.is_(None),
                sa.or_(o.c.lease_until.is_(None), o.c.lease_until <= now),
            )
            .order_by(o.c.created_at, o.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if not rows:
            return []
        await self._db.execute(
            o.update()
            .where(o.c.id.in_([row["id"] for row in rows]))
            .values(lease_until=now + timedelta(seconds=lease_seconds), attempts=o.c.attempts + 1)
        )
        return [_message(row) for row in rows]

    async def mark_delivered(self, message_ids: Sequence[str], at: datetime) -> None:
        if not message_ids:
            return
        o = t.outbox
        await self._db.execute(
            o.update().where(o.c.id.in_(list(message_ids))).values(delivered_at=at)
        )

    async def oldest_undelivered(self) -> datetime | None:
        o = t.outbox
        # Served by the (delivered_at, created_at) index.
        row = await self._db.one_or_none(
            sa.select(sa.func.min(o.c.created_at).label("oldest")).where(o.c.delivered_at.is_(None))
        )
        oldest = None if row is None else row["oldest"]
        return oldest if isinstance(oldest, datetime) else None
