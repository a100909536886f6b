"""Durability: a worker process killed (SIGKILL) mid-import; the take-over sweep wakes the job
once its lease ends and another worker finishes it from the last finished batch, with nothing
duplicated. On Postgres, with real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from fitdata_adapters.bootstrap import Runtime, bootstrap, import_policy
from fitdata_adapters.db import tables as t
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.settings import Settings
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.services import Actor
from fitdata_core.usecases.imports import ImportRequest, start_import, take_over_imports
from fitdata_core.usecases.organizations import create_organization
from support.fakes import NoPayments
from support.imports import API_KEY, PLANS, drain, job_of, members

pytestmark = pytest.mark.integration

MEMBERS = 3000
LEASE_SECONDS = 3
TESTS_DIR = Path(__file__).resolve().parents[2]

# The victim: a worker process running the engine on the same database, slowed down by a
# member source with latency so it is surely killed mid-import.
VICTIM = f"""
import asyncio, os, sys
import attrs
from fitdata_adapters.bootstrap import bootstrap, import_policy
from fitdata_adapters.memory import MemoryJobQueue
from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.settings import Settings
from fitdata_core.usecases.imports import run_import
from support.fakes import NoPayments
from support.imports import PLANS, members

async def main() -> None:
    settings = Settings.from_env()
    source = MemoryMemberSource(
        plans=PLANS, members=members({MEMBERS}), page_size=250, latency=0.05
    )
    policy = attrs.evolve(
        import_policy(settings), batch_size=250, set_batch_size=250, slice_seconds=2.0
    )
    runtime = bootstrap(settings, payment_gateway=NoPayments(), queue=MemoryJobQueue(),
                        member_source=source, imports=policy)
    while True:  # one call per queue message the worker would get
        job = await run_import(runtime.services, os.environ["JOB_ID"], owner="victim")
        if job is None or not job.is_active:
            break

asyncio.run(main())
"""


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "FITDATA_MODE": "embedded",
        "FITDATA_DATA_DIR": str(tmp_path),
        "FITDATA_DATABASE_URL": database_url,
        "FITDATA_JWT_SECRET": "takeover-test-jwt-secret-long-enough-for-hs256",
        "FITDATA_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
    }


@pytest.fixture
async def runtime(tmp_path: Path, clean_pg_url: str) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(_env(tmp_path, clean_pg_url))
    source = MemoryMemberSource(plans=PLANS, members=members(MEMBERS), page_size=250)
    policy = attrs.evolve(import_policy(settings), batch_size=250, set_batch_size=250)
    rt = bootstrap(
        settings,
        payment_gateway=NoPayments(),
        queue=MemoryJobQueue(),
        member_source=source,
        imports=policy,
    )
    try:
        yield rt
    finally:
        await rt.aclose()


async def _count(rt: Runtime, table: sa.Table) -> int:
    async with rt.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_a_killed_worker_s_import_is_taken_over_and_nothing_is_duplicated(
    runtime: Runtime, tmp_path: Path, clean_pg_url: str
) -> None:
    svc = runtime.services
    org = await create_organization(svc, name="Kill Nine Gym", owner_email="owner@k9.io")
    async with svc.uow() as uow:
        owner = await uow.users.get_by_email("owner@k9.io")
    assert owner is not None
    job_id = await start_import(
        svc, Actor(owner.id), org.id, ImportRequest(credentials=API_KEY, enrich=False)
    )
    async with svc.uow() as uow:  # the victim takes this job, not a queue message
        queued = await uow.outbox.claim_batch(limit=10, now=svc.clock.now(), lease_seconds=600)
        await uow.outbox.mark_delivered([m.id for m in queued], svc.clock.now())
        await uow.commit()

    env = {**os.environ, **_env(tmp_path, clean_pg_url), "JOB_ID": job_id}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    log = tmp_path / "victim.log"
    with log.open("wb") as out:
        victim = await asyncio.create_subprocess_exec(
            sys.executable, "-c", VICTIM, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            job = await job_of(svc, job_id)
            if job.checkpoint.get("members.applied", 0) >= 500:
                break
            assert victim.returncode is None, log.read_text()
            assert time.monotonic() < deadline, f"the victim made no progress\n{log.read_text()}"
            await asyncio.sleep(0.05)
    finally:
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
    killed_at = time.monotonic()
    at_kill = await job_of(svc, job_id)
    assert at_kill.status is ImportStatus.IN_PROGRESS
    assert at_kill.checkpoint["members.applied"] < MEMBERS

    # The scheduler's sweep (every 15 s in production) wakes the job once the lease ended.
    while not await take_over_imports(svc):
        assert time.monotonic() - killed_at < LEASE_SECONDS + 5
        await asyncio.sleep(0.25)
    assert time.monotonic() - killed_at >= LEASE_SECONDS - 1
    await drain(svc)

    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.COMPLETED, job.error_message
    assert job.results["members"] == {
        "created": MEMBERS,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert await _count(runtime, t.users) == MEMBERS + 1
    assert await _count(runtime, t.memberships) == MEMBERS + 1
    assert await _count(runtime, t.member_profiles) == MEMBERS
    assert await _count(runtime, t.plans) == 1
    async with svc.uow() as uow:
        changes = await uow.imports.changes(job_id)
    created = [c.key for c in changes if c.entity == "membership" and c.action == "created"]
    assert len(created) == len(set(created)) == MEMBERS  # each recorded once, for undo
