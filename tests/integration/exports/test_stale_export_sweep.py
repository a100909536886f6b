"""The stuck-export sweep: ``list_stale`` on every backend, the use case, a run that finishes
after the sweep gave up on it, and the scheduled ``exports_fail_stale`` job in the live app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import attrs
import httpx
import pytest
from exports_live import DemoGym, LiveAppFactory, MotoS3, bearer, wait_until

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.db import tables as t
from fitdata_adapters.db.engine import create_engine, create_sync_engine
from fitdata_adapters.db.uow import SqlUnitOfWorkFactory
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import memory_services
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.ports.infrastructure import StoredObject
from fitdata_core.ports.repositories import UnitOfWorkFactory
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.exports import (
    MESSAGE_STALE,
    export_file_key,
    fail_stale_exports,
    process_member_export,
    request_member_export,
)
from support import builders

pytestmark = pytest.mark.integration

T0 = datetime(2001, 6, 1, 12, 0, tzinfo=UTC)  # long before any other test's jobs


async def _job(uow_factory: UnitOfWorkFactory, org_id: str, **kw: object) -> ExportJob:
    job = builders.export_job(org_id, builders.new_id(), created_at=T0, **kw)
    async with uow_factory() as uow:
        await uow.export_jobs.add(job)
        await uow.commit()
    return job


async def test_list_stale_returns_old_in_progress_jobs_of_every_org_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    orgs = [builders.organization(), builders.organization()]
    async with uow_factory() as uow:
        for org in orgs:
            await uow.organizations.add(org)
        await uow.commit()
    running = ExportStatus.IN_PROGRESS
    oldest = await _job(uow_factory, orgs[1].id, status=running, started_at=T0)
    older = await _job(uow_factory, orgs[0].id, status=running, started_at=T0 + timedelta(1))
    await _job(uow_factory, orgs[0].id, status=running, started_at=T0 + timedelta(3))  # young
    await _job(uow_factory, orgs[0].id, status=ExportStatus.PENDING)
    await _job(
        uow_factory, orgs[0].id, status=ExportStatus.FAILED, started_at=T0, error_message="x"
    )
    await _job(uow_factory, orgs[0].id, status=ExportStatus.COMPLETED, started_at=T0)

    async with uow_factory() as uow:
        stale = await uow.export_jobs.list_stale(T0 + timedelta(days=2), limit=10)
        first = await uow.export_jobs.list_stale(T0 + timedelta(days=2), limit=1)

    assert [job.id for job in stale] == [oldest.id, older.id]
    assert stale[0] == oldest
    assert [job.id for job in first] == [oldest.id]


# --- the use case on the memory adapters -------------------------------------------------------


class _Unused:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected use of {name}")


def _services(clock: ManualClock, storage: MemoryStorage) -> Services:
    return memory_services(
        clock=clock,
        storage=storage,
        cipher=_Unused(),  # type: ignore[arg-type]
        payment_gateway=_Unused(),  # type: ignore[arg-type]
    )


async def _small_gym(svc: Services) -> tuple[str, Actor]:
    org = builders.organization()
    owner = builders.user(email=f"owner-{org.id[:8]}@stale.example")
    async with svc.uow() as uow:
        await uow.organizations.add(org)
        await uow.users.add(owner)
        await uow.memberships.add(
            builders.membership(org.id, owner.id, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        )
        await uow.commit()
    return org.id, Actor(owner.id)


async def _bytes(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk


async def test_stuck_job_is_failed_with_a_readable_message_and_its_partial_file_deleted() -> None:
    clock = ManualClock(T0)
    storage = MemoryStorage(clock=clock)
    svc = _services(clock, storage)
    org_id, _ = await _small_gym(svc)
    stuck = builders.export_job(org_id, "u", status=ExportStatus.IN_PROGRESS, started_at=T0)
    young = builders.export_job(
        org_id, "u", status=ExportStatus.IN_PROGRESS, started_at=T0 + timedelta(minutes=50)
    )
    async with svc.uow() as uow:
        await uow.export_jobs.add(stuck)
        await uow.export_jobs.add(young)
        await uow.commit()
    key = export_file_key(org_id, stuck.id)
    await storage.put_stream(key, _bytes(_one(b"half a file")), content_type="text/csv")

    failed = await fail_stale_exports(svc, T0 + timedelta(minutes=61))

    assert [job.id for job in failed] == [stuck.id]
    async with svc.uow() as uow:
        after = await uow.export_jobs.get(stuck.id)
        still_running = await uow.export_jobs.get(young.id)
    assert after is not None
    assert after.status is ExportStatus.FAILED
    assert after.error_message == MESSAGE_STALE
    assert after.completed_at == T0 + timedelta(minutes=61)
    assert not await storage.exists(key)
    assert still_running is not None
    assert still_running.status is ExportStatus.IN_PROGRESS


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@attrs.define
class _SweepMidway:
    """Storage that lets the sweep run while the export is being written."""

    inner: MemoryStorage
    during: Callable[[], Awaitable[object]]

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str
    ) -> StoredObject:
        stored = await self.inner.put_stream(key, chunks, content_type=content_type)
        await self.during()
        return stored

    def read(self, key: str) -> AsyncIterator[bytes]:
        return self.inner.read(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def signed_url(
        self, key: str, *, expires_in: timedelta, download_name: str | None = None
    ) -> str:
        return await self.inner.signed_url(key, expires_in=expires_in, download_name=download_name)

    async def remove_abandoned_uploads(self, *, older_than: datetime) -> int:
        return await self.inner.remove_abandoned_uploads(older_than=older_than)


async def test_an_export_that_finishes_after_the_sweep_gave_up_stays_failed_and_leaves_no_file(
    exports_db_url: str,
) -> None:
    # On Postgres: the sweep runs in its own transaction while the export's is still open.
    clock = ManualClock(T0)
    memory = MemoryStorage(clock=clock)
    engine = create_engine(exports_db_url)
    svc = attrs.evolve(_services(clock, memory), uow=SqlUnitOfWorkFactory(engine))
    try:
        org_id, owner = await _small_gym(svc)
        job_id = await request_member_export(svc, owner, org_id, client_ip="127.0.0.1")

        async def sweep_later() -> None:
            clock.advance(timedelta(hours=2))  # the worker "hung" for two hours
            # (The sweep is global: other tests' old jobs in this database may go with it.)
            assert job_id in [job.id for job in await fail_stale_exports(svc, clock.now())]

        slow = attrs.evolve(svc, storage=_SweepMidway(memory, sweep_later))
        result = await process_member_export(slow, job_id=job_id)
    finally:
        await engine.dispose()

    assert result is not None
    assert result.status is ExportStatus.FAILED
    assert result.error_message == MESSAGE_STALE
    assert not await memory.exists(export_file_key(org_id, job_id))
    assert isinstance(svc.mailer, MemoryMailer)
    assert svc.mailer.sent == []


# --- the scheduled job in the live app -------------------------------------------------------


async def test_scheduled_exports_fail_stale_fails_a_stuck_job_and_deletes_its_object(
    live_app: LiveAppFactory,
    demo_gym: DemoGym,
    moto: MotoS3,
    http: httpx.AsyncClient,
    exports_db_url: str,
) -> None:
    now = datetime.now(UTC)
    stuck = builders.export_job(
        demo_gym.org_id,
        demo_gym.owner,
        status=ExportStatus.IN_PROGRESS,
        created_at=now - timedelta(hours=2),
        started_at=now - timedelta(hours=2),
    )
    engine = create_sync_engine(exports_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                t.export_jobs.insert().values(
                    id=stuck.id,
                    organization_id=stuck.organization_id,
                    kind=stuck.kind,
                    status=stuck.status.value,
                    config=stuck.config,
                    started_by=stuck.started_by,
                    created_at=stuck.created_at,
                    started_at=stuck.started_at,
                )
            )
    finally:
        engine.dispose()
    # The partial file a killed worker left behind, in place before the scheduler starts.
    key = export_file_key(demo_gym.org_id, stuck.id)
    bucket = moto.new_bucket()
    moto.client().put_object(Bucket=bucket, Key=key, Body=b"\xef\xbb\xbfFirst name\r\nha")

    app = live_app(scheduler=True, bucket=bucket)  # the sweep's tick fires at start-up
    url = f"{app.base_url}{demo_gym.base}/export/jobs/{stuck.id}"
    job: dict[str, object] = {}
    for _ in range(150):
        job = (await http.get(url, headers=bearer(demo_gym.owner))).json()["data"]
        if job["status"] == "failed":
            break
        await asyncio.sleep(0.1)

    assert job["status"] == "failed"
    assert job["errorMessage"] == MESSAGE_STALE
    assert job["downloadUrl"] is None
    await wait_until(lambda: moto.keys(bucket, key) == [])
