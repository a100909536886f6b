"""Rows most contract tests need first: an organization and a user in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fitdata_core.model.organizations import Organization, User
from fitdata_core.ports.repositories import UnitOfWork, UnitOfWorkFactory
from support import builders


async def seed_org(uow_factory: UnitOfWorkFactory, **org_fields: object) -> Organization:
    org = builders.organization(**org_fields)
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    return org


async def seed_user(uow_factory: UnitOfWorkFactory, **user_fields: object) -> User:
    user = builders.user(**user_fields)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def commit_one(
    uow_factory: UnitOfWorkFactory, action: Callable[[UnitOfWork], Awaitable[object]]
) -> None:
    """Run ``action`` in its own unit of work and commit (one statement for ``pytest.raises``)."""
    async with uow_factory() as uow:
        await action(uow)
        await uow.commit()
