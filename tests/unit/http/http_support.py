"""Building an app over in-memory adapters, seeding a gym, and minting tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy.ext.asyncio import create_async_engine

from fitdata_adapters.bootstrap import Runtime, derive_key
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import MemoryJobQueue, memory_services
from fitdata_adapters.settings import Settings
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.tokens import issue_token
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.services import Services
from support import builders

JWT_SECRET = "http-tests-jwt-secret-that-is-long-enough"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def make_settings(data_dir: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_JWT_SECRET": JWT_SECRET,
            **env,
        }
    )


def make_runtime(
    data_dir: Path,
    *,
    database_url: str = "sqlite+aiosqlite://",
    env: dict[str, str] | None = None,
) -> Runtime:
    """A Runtime whose Services use the memory adapters; the engine only serves /readyz."""
    settings = make_settings(data_dir, **(env or {}))
    clock = ManualClock(START)
    storage = LocalFolderStorage(
        data_dir / "storage",
        public_url=settings.public_url,
        signing_key=derive_key(settings.jwt_secret, "local-storage-links"),
        clock=clock,
    )
    services = memory_services(clock=clock, storage=storage)
    return Runtime(
        settings=settings,
        services=services,
        engine=create_async_engine(database_url),
        queue=MemoryJobQueue(),
    )


def token(user_id: str, *, admin: bool = False, ttl: timedelta = timedelta(hours=1)) -> str:
    return issue_token(JWT_SECRET, user_id, now=datetime.now(UTC), platform_admin=admin, ttl=ttl)


def bearer(user_id: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id, **kw)}"}


async def add_user(services: Services, *, platform_admin: bool = False) -> str:
    """A user of no organization (tokens are only accepted for users that exist); its id."""
    user = builders.user(is_platform_admin=platform_admin)
    async with services.uow() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user.id


@attrs.frozen
class Gym:
    """A seeded organization and who is who in it."""

    org_id: str
    owner: str
    admin: str
    coach: str
    member: str
    suspended_admin: str
    user_ids_by_email: dict[str, str]

    @property
    def members_url(self) -> str:
        return f"/organizations/{self.org_id}/members"


# (email, role, status): 8 memberships, sorted by email in listings.
PEOPLE: Sequence[tuple[str, Role, MembershipStatus]] = (
    ("owner@gym.io", Role.OWNER, MembershipStatus.ACTIVE),
    ("admin@gym.io", Role.ADMIN, MembershipStatus.ACTIVE),
    ("coach@gym.io", Role.COACH, MembershipStatus.ACTIVE),
    ("active@gym.io", Role.MEMBER, MembershipStatus.ACTIVE),
    ("invited@gym.io", Role.MEMBER, MembershipStatus.INVITED),
    ("suspended@gym.io", Role.MEMBER, MembershipStatus.SUSPENDED),
    ("cancelled@gym.io", Role.MEMBER, MembershipStatus.CANCELLED),
    ("former-admin@gym.io", Role.ADMIN, MembershipStatus.SUSPENDED),
)


async def seed_gym(
    services: Services, *, tier: PlatformTier = PlatformTier.LITE, domain: str = "gym.io"
) -> Gym:
    """An org with everyone in :data:`PEOPLE`; another gym needs another email ``domain``."""
    org = builders.organization(name="Tel Aviv Strength", platform_tier=tier)
    ids: dict[str, str] = {}
    async with services.uow() as uow:
        await uow.organizations.add(org)
        for address, role, status in PEOPLE:
            email = address.replace("@gym.io", f"@{domain}")
            user = builders.user(email=email)
            await uow.users.add(user)
            await uow.memberships.add(
                builders.membership(org.id, user.id, role=role, status=status, created_at=START)
            )
            ids[address] = user.id
        await uow.profiles.upsert(builders.profile(org.id, ids["active@gym.io"]))
        await uow.commit()
    return Gym(
        org_id=org.id,
        owner=ids["owner@gym.io"],
        admin=ids["admin@gym.io"],
        coach=ids["coach@gym.io"],
        member=ids["active@gym.io"],
        suspended_admin=ids["former-admin@gym.io"],
        user_ids_by_email=ids,
    )


async def set_tier(services: Services, org_id: str, tier: PlatformTier) -> None:
    async with services.uow() as uow:
        org = await uow.organizations.get(org_id)
        assert org is not None
        await uow.organizations.update(org.with_tier(tier))
        await uow.commit()
