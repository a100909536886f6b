"""Stored secrets across the tables that hold them, for key rotation.

Each kind maps to one table and its columns: the row id, the organization, the sealed bytes
and the id of the key that sealed them. Re-sealing is a compare-and-set on the key id and
the bytes, so it needs no lock and loses nothing written meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository
from fitdata_core.ports.infrastructure import Ciphertext
from fitdata_core.ports.repositories import SealedSecret, SecretKind


@attrs.frozen
class _Columns:
    table: sa.Table
    blob: sa.Column[Any]
    key_id: sa.Column[Any]
    provider: sa.Column[Any] | None = None


_COLUMNS: dict[SecretKind, _Columns] = {
    SecretKind.PROVIDER_CREDENTIALS: _Columns(
        t.import_provider_configs,
        t.import_provider_configs.c.credentials_encrypted,
        t.import_provider_configs.c.key_id,
        t.import_provider_configs.c.provider,
    ),
    SecretKind.CARD_TOKEN: _Columns(
        t.platform_subscriptions,
        t.platform_subscriptions.c.card_token_ciphertext,
        t.platform_subscriptions.c.card_key_id,
    ),
}


def _secret(kind: SecretKind, row: Mapping[str, Any]) -> SealedSecret:
    return SealedSecret(
        kind=kind,
        row_id=row["id"],
        organization_id=row["organization_id"],
        sealed=Ciphertext(key_id=row["key_id"], blob=bytes(row["blob"])),
        provider=row.get("provider"),
    )


class SqlSealedSecretRepository(SqlRepository):
    async def count_by_key(self, kind: SecretKind) -> dict[str, int]:
        c = _COLUMNS[kind]
        rows = await self._db.all(
            sa.select(c.key_id.label("key_id"), sa.func.count().label("n"))
            .where(c.blob.is_not(None))
            .group_by(c.key_id)
        )
        return {row["key_id"]: int(row["n"]) for row in rows}

    async def list_not_sealed_by(
        self, kind: SecretKind, key_id: str, *, after: str | None, limit: int
    ) -> list[SealedSecret]:
        c = _COLUMNS[kind]
        columns = [
            c.table.c.id,
            c.table.c.organization_id,
            c.blob.label("blob"),
            c.key_id.label("key_id"),
        ]
        if c.provider is not None:
            columns.append(c.provider.label("provider"))
        query = sa.select(*columns).where(c.blob.is_not(None), c.key_id != key_id)
        if after is not None:
            query = query.where(c.table.c.id > after)
        rows = await self._db.all(query.order_by(c.table.c.id).limit(limit))
        return [_secret(kind, row) for row in rows]

    async def reseal(self, secret: SealedSecret, resealed: Ciphertext) -> bool:
        c = _COLUMNS[secret.kind]
        result = await self._db.execute(
            c.table.update()
            .where(
                c.table.c.id == secret.row_id,
                c.key_id == secret.sealed.key_id,
                c.blob == secret.sealed.blob,
            )
            .values({c.blob.name: resealed.blob, c.key_id.name: resealed.key_id})
        )
        return result.rowcount == 1
