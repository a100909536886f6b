"""Exports on the memory adapters: a gym with people in every role, and fakes that break."""

from __future__ import annotations

import pytest
from export_support import START, Gym, add_person

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter, MemoryRateLimiter, memory_services
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.policies import ExportPolicy
from fitdata_core.services import Actor, Services
from support import builders


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def storage(clock: ManualClock) -> MemoryStorage:
    return MemoryStorage(clock=clock)


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def errors() -> MemoryErrorReporter:
    return MemoryErrorReporter()


@pytest.fixture
def svc(
    clock: ManualClock, storage: MemoryStorage, mailer: MemoryMailer, errors: MemoryErrorReporter
) -> Services:
    return memory_services(
        clock=clock,
        storage=storage,
        mailer=mailer,
        errors=errors,
        rate_limiter=MemoryRateLimiter(now=lambda: clock.now().timestamp()),
        exports=ExportPolicy(rate_limit_per_minute=10),
    )


@pytest.fixture
async def gym(svc: Services) -> Gym:
    org = builders.organization(name="Tel Aviv Strength")
    async with svc.uow() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    people = [
        ("owner@gym.io", Role.OWNER, MembershipStatus.ACTIVE),
        ("admin@gym.io", Role.ADMIN, MembershipStatus.ACTIVE),
        ("coach1@gym.io", Role.COACH, MembershipStatus.ACTIVE),
        ("coach2@gym.io", Role.COACH, MembershipStatus.SUSPENDED),
        ("active@gym.io", Role.MEMBER, MembershipStatus.ACTIVE),
        ("invited@gym.io", Role.MEMBER, MembershipStatus.INVITED),
        ("suspended@gym.io", Role.MEMBER, MembershipStatus.SUSPENDED),
        ("cancelled@gym.io", Role.MEMBER, MembershipStatus.CANCELLED),
    ]
    by_status: dict[MembershipStatus, list[str]] = {s: [] for s in MembershipStatus}
    by_role: dict[Role, list[str]] = {r: [] for r in Role}
    actors: dict[str, Actor] = {}
    for email, role, status in people:
        user = await add_person(svc, org.id, email, role, status)
        actors[email] = Actor(user.id)
        by_status[status].append(email)
        by_role[role].append(email)
    return Gym(
        org_id=org.id,
        owner=actors["owner@gym.io"],
        owner_email="owner@gym.io",
        admin=actors["admin@gym.io"],
        coach=actors["coach1@gym.io"],
        member=actors["active@gym.io"],
        emails_by_status=by_status,
        emails_by_role=by_role,
    )
