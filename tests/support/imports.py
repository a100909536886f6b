"""Helpers for import tests: a gym with an owner, source rows, and running queued imports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from fitdata_core.job_names import IMPORT_RUN as IMPORT_RUN_JOB
from fitdata_core.job_names import IMPORTS_TAKE_OVER as IMPORT_TAKE_OVER_JOB
from fitdata_core.model.jobs import ImportJob
from fitdata_core.model.organizations import Role
from fitdata_core.money import Money
from fitdata_core.ports.providers import SourceCredentials, SourceMember, SourcePlan
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.imports import run_import
from fitdata_core.usecases.imports.engine import take_over_imports
from support import builders

API_KEY = SourceCredentials(api_key="arbox-test-key")


@attrs.frozen
class Gym:
    org_id: str
    owner: Actor
    owner_email: str


async def add_gym(svc: Services, *, role: Role = Role.OWNER) -> Gym:
    org = builders.organization()
    owner = builders.user()
    async with svc.uow() as uow:
        await uow.organizations.add(org)
        await uow.users.add(owner)
        await uow.memberships.add(builders.membership(org.id, owner.id, role=role))
        await uow.commit()
    return Gym(org.id, Actor(owner.id), owner.email)


def members(count: int, *, start: int = 0, **overrides: Any) -> list[SourceMember]:
    """``count`` valid source members ``m{i}@gym.example``."""
    return [
        SourceMember(
            **{
                "external_id": str(1000 + i),
                "email": f"m{i}@gym.example",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "phone": "054-1234567",
                "birth_date": "1990-01-02",
                "plan_name": "Monthly",
                "membership_start": "2026-01-01",
                **overrides,
            }
        )
        for i in range(start, start + count)
    ]


PLANS = [SourcePlan(external_id="p1", name="Monthly", price=Money(Decimal("300")))]


async def drain(svc: Services, *, limit: int = 1000) -> int:
    """Deliver every queued import message (import_run, the take-over sweep) until none is
    left, as a worker would. Returns how many import_run messages ran."""
    runs = 0
    for _ in range(limit):
        async with svc.uow() as uow:
            batch = await uow.outbox.claim_batch(limit=10, now=svc.clock.now(), lease_seconds=60)
            await uow.outbox.mark_delivered([m.id for m in batch], svc.clock.now())
            await uow.commit()
        if not batch:
            return runs
        for message in batch:
            if message.actor == IMPORT_RUN_JOB:
                runs += 1
                await run_import(svc, str(message.args["job_id"]))
            elif message.actor == IMPORT_TAKE_OVER_JOB:
                await take_over_imports(svc)
    raise AssertionError("the outbox never drained")


async def job_of(svc: Services, job_id: str) -> ImportJob:
    async with svc.uow() as uow:
        job = await uow.import_jobs.get(job_id)
    assert job is not None
    return job
