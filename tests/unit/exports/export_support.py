"""Seeding helpers and fakes for the export tests (stores, databases, mailers that fail)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from fitdata_adapters.memory import MemoryUnitOfWork, MemoryUnitOfWorkFactory
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.errors import DatabaseUnavailable, StorageUnavailable
from fitdata_core.model.organizations import MemberProfile, MemberRow, MembershipStatus, Role, User
from fitdata_core.ports.infrastructure import StoredObject
from fitdata_core.ports.repositories import MemberFilter
from fitdata_core.services import Actor, Services
from support import builders

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@attrs.frozen
class Gym:
    """A seeded organization: who is who, by role."""

    org_id: str
    owner: Actor
    owner_email: str
    admin: Actor
    coach: Actor
    member: Actor
    emails_by_status: dict[MembershipStatus, list[str]]
    emails_by_role: dict[Role, list[str]]

    @property
    def all_emails(self) -> list[str]:
        return sorted(e for emails in self.emails_by_role.values() for e in emails)


async def add_person(
    svc: Services,
    org_id: str,
    email: str,
    role: Role,
    status: MembershipStatus = MembershipStatus.ACTIVE,
    **user_fields: Any,
) -> User:
    user = builders.user(email=email, **user_fields)
    async with svc.uow() as uow:
        await uow.users.add(user)
        await uow.memberships.add(
            builders.membership(org_id, user.id, role=role, status=status, created_at=START)
        )
        await uow.commit()
    return user


async def add_profile(svc: Services, profile: MemberProfile) -> None:
    async with svc.uow() as uow:
        await uow.profiles.upsert(profile)
        await uow.commit()


class StorageThatBreaksMidStream:
    """Takes the first chunk of an upload, then the connection to the store drops.

    With ``leaves_partial`` it behaves like a store that breaks its promise and keeps what
    arrived, so the use case's own clean-up is what removes it.
    """

    def __init__(self, inner: MemoryStorage, *, leaves_partial: bool = False) -> None:
        self.inner = inner
        self.leaves_partial = leaves_partial
        self.chunks_taken = 0

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        received: list[bytes] = []
        async for chunk in chunks:
            received.append(chunk)
            self.chunks_taken += 1
            break
        if self.leaves_partial:
            await self.inner.put_stream(key, _aiter(received), content_type=content_type)
        raise StorageUnavailable("The object store stopped answering.")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _aiter(items: Iterable[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


class _MembershipsThatDropTheConnection:
    def __init__(self, inner: Any, after_rows: int) -> None:
        self._inner = inner
        self._after_rows = after_rows

    async def stream_members(
        self, org_id: str, member_filter: MemberFilter, *, batch_size: int = 1000
    ) -> AsyncIterator[MemberRow]:
        count = 0
        async for row in self._inner.stream_members(org_id, member_filter, batch_size=batch_size):
            if count == self._after_rows:
                raise DatabaseUnavailable("The database connection was lost.")
            count += 1
            yield row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _MemberCsvThatDropsTheConnection:
    def __init__(self, inner: Any, after_rows: int) -> None:
        self._inner = inner
        self._after_rows = after_rows

    async def stream_member_csv(
        self,
        org_id: str,
        member_filter: MemberFilter,
        attributes: Sequence[str],
        *,
        batch_size: int = 1000,
    ) -> AsyncIterator[tuple[int, bytes]]:
        # The first rows arrive, then the connection drops before the rest.
        async for piece in self._inner.stream_member_csv(
            org_id, member_filter, attributes, batch_size=self._after_rows
        ):
            yield piece
            raise DatabaseUnavailable("The database connection was lost.")


class DatabaseThatDropsMidStream:
    """A unit-of-work factory whose member stream loses the database after ``after_rows``."""

    def __init__(self, inner: MemoryUnitOfWorkFactory, *, after_rows: int) -> None:
        self.inner = inner
        self.after_rows = after_rows

    def __call__(
        self, *, read_only: bool = False, separate_reads: bool = False
    ) -> MemoryUnitOfWork:
        uow = self.inner(read_only=read_only, separate_reads=separate_reads)
        uow.memberships = _MembershipsThatDropTheConnection(  # type: ignore[assignment]
            uow.memberships, self.after_rows
        )
        uow.member_csv = _MemberCsvThatDropsTheConnection(  # type: ignore[assignment]
            uow.member_csv, self.after_rows
        )
        return uow


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
