"""What the operator commands do, as plain async functions over the core use cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from fitdata_adapters.cli.output import fail
from fitdata_adapters.cli.runtime import open_runtime
from fitdata_adapters.demo import DemoGym, seed_demo
from fitdata_adapters.settings import Settings
from fitdata_adapters.tokens import ADMIN_TOKEN_MAX_TTL, DEFAULT_TTL, issue_token
from fitdata_core.errors import NotFound
from fitdata_core.model.organizations import MembershipStatus, Organization, Role, User
from fitdata_core.rules.validation import validate_email
from fitdata_core.usecases.organizations import NewMember, add_member, create_organization
from fitdata_core.usecases.users import revoke_tokens, set_platform_admin

E = TypeVar("E", Role, MembershipStatus)


def _choice(kind: type[E], value: str, what: str) -> E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(item.value for item in kind)
        fail(f"unknown {what} {value!r} (choose one of: {allowed}).")


def parse_member(
    *,
    email: str,
    role: str,
    status: str,
    first_name: str | None,
    last_name: str | None,
    phone: str | None,
) -> NewMember:
    """The member to add, or exit 2 naming the option that is wrong."""
    return NewMember(
        email=email,
        role=_choice(Role, role, "role"),
        status=_choice(MembershipStatus, status, "status"),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
    )


async def create_org(settings: Settings, *, name: str, owner_email: str) -> Organization:
    async with open_runtime(settings) as runtime:
        return await create_organization(runtime.services, name=name, owner_email=owner_email)


async def add_person(settings: Settings, *, org_id: str, member: NewMember) -> User:
    async with open_runtime(settings) as runtime:
        return await add_member(runtime.services, org_id=org_id, member=member)


@attrs.frozen(repr=False)
class IssuedToken:
    token: str
    user_id: str
    email: str
    platform_admin: bool
    expires_at: datetime


async def issue_user_token(
    settings: Settings,
    *,
    email: str,
    platform_admin: bool = False,
    ttl: timedelta = DEFAULT_TTL,
) -> IssuedToken:
    """A token for the user with ``email``; NotFound when there is none.

    With ``platform_admin`` the user is also recorded as a platform admin (the stored flag the
    HTTP layer checks beside the claim), and ``ttl`` may not exceed
    :data:`~fitdata_adapters.tokens.ADMIN_TOKEN_MAX_TTL` (exit 2).
    """
    address = validate_email(email)
    if platform_admin and ttl > ADMIN_TOKEN_MAX_TTL:
        hours = int(ADMIN_TOKEN_MAX_TTL.total_seconds() // 3600)
        fail(f"a platform-admin token lives at most {hours} hours (--days 1).")
    async with open_runtime(settings) as runtime:
        svc = runtime.services
        if platform_admin:
            user: User | None = await set_platform_admin(svc, address, True)
        else:
            async with svc.uow() as uow:
                user = await uow.users.get_by_email(address)
        if user is None:
            raise NotFound(f"No user has the email {address}.")
        now = svc.clock.now()
        token = issue_token(
            settings.jwt_secret, user.id, now=now, platform_admin=platform_admin, ttl=ttl
        )
    return IssuedToken(
        token=token,
        user_id=user.id,
        email=user.email,
        platform_admin=platform_admin,
        expires_at=now + ttl,
    )


async def revoke_user_tokens(
    settings: Settings, *, email: str, drop_platform_admin: bool = False
) -> User:
    """Refuse every token issued so far to the user with ``email``; NotFound if none."""
    async with open_runtime(settings) as runtime:
        return await revoke_tokens(runtime.services, email, drop_platform_admin=drop_platform_admin)


@attrs.frozen(repr=False)
class DemoResult:
    gym: DemoGym
    # One per login, in the order of ``gym.logins``.
    tokens: tuple[str, ...]


async def run_demo(settings: Settings, *, member_count: int) -> DemoResult:
    async with open_runtime(settings) as runtime:
        gym = await seed_demo(runtime, member_count=member_count)
        now = runtime.services.clock.now()
    tokens = tuple(issue_token(settings.jwt_secret, login.user_id, now=now) for login in gym.logins)
    return DemoResult(gym=gym, tokens=tokens)
