"""Idempotency keys in SQL: the primary key (organization, key) decides which of two
concurrent claims wins; the loser's insert raises ``Conflict`` (on Postgres after waiting for
the winner's commit)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_core.ports.repositories import IdempotencyRecord

_T = t.idempotency_keys


def _record(row: Mapping[str, Any]) -> IdempotencyRecord:
    response = row["response"]
    return IdempotencyRecord(
        organization_id=row["organization_id"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        status_code=row["status_code"],
        response=None if response is None else bytes(response),
    )


class SqlIdempotencyKeyRepository(SqlRepository):
    """Implements :class:`fitdata_core.ports.repositories.IdempotencyKeyRepository`."""

    async def add(self, record: IdempotencyRecord) -> None:
        await self._db.execute(
            _T.insert().values(
                organization_id=record.organization_id,
                key=record.key,
                fingerprint=record.fingerprint,
                created_at=record.created_at,
                expires_at=record.expires_at,
                status_code=record.status_code,
                response=record.response,
            )
        )

    async def get(self, organization_id: str, key: str) -> IdempotencyRecord | None:
        row = await self._db.one_or_none(
            _T.select().where(_T.c.organization_id == organization_id, _T.c.key == key)
        )
        return None if row is None else _record(row)

    async def complete(
        self, organization_id: str, key: str, *, status_code: int, response: bytes
    ) -> None:
        await self._db.execute(
            _T.update()
            .where(_T.c.organization_id == organization_id, _T.c.key == key)
            .values(status_code=status_code, response=response)
        )

    async def delete(self, organization_id: str, key: str, *, created_at: datetime) -> bool:
        result = await self._db.execute(
            _T.delete().where(
                _T.c.organization_id == organization_id,
                _T.c.key == key,
                _T.c.created_at == created_at,
            )
        )
        return bool(result.rowcount)

    async def delete_expired(self, organization_id: str, *, now: datetime) -> int:
        result = await self._db.execute(
            _T.delete().where(_T.c.organization_id == organization_id, _T.c.expires_at <= now)
        )
        return int(result.rowcount)
