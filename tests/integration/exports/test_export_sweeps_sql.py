"""Issue 7 items 7 and 11 on real backends: ``list_waiting`` and the resend on every database,
and partial files of killed exports removed from a real local storage folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory import (
    MemoryUnitOfWorkFactory,
    memory_services,
)
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_core.job_names import EXPORT_MEMBERS as EXPORT_MEMBERS_JOB
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.ports.infrastructure import ObjectStorage
from fitdata_core.ports.repositories import UnitOfWorkFactory
from fitdata_core.services import Services
from fitdata_core.usecases.exports import (
    STALE_EXPORT_AFTER,
    remove_abandoned_export_files,
    resend_waiting_exports,
    sweep_exports,
)
from support import builders

pytestmark = pytest.mark.integration

T0 = datetime(2001, 7, 1, 12, 0, tzinfo=UTC)  # long before any other test's jobs


class _Unused:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected use of {name}")


def _services(uow: UnitOfWorkFactory, clock: ManualClock, storage: ObjectStorage) -> Services:
    return memory_services(uow=uow, clock=clock, storage=storage)


async def _org(uow_factory: UnitOfWorkFactory) -> str:
    org = builders.organization()
    async with uow_factory() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    return org.id


async def _job(uow_factory: UnitOfWorkFactory, org_id: str, **kw: object) -> ExportJob:
    job = builders.export_job(org_id, builders.new_id(), **kw)
    async with uow_factory() as uow:
        await uow.export_jobs.add(job)
        await uow.commit()
    return job


async def test_list_waiting_returns_pending_jobs_last_dispatched_before_the_cutoff(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org_id = await _org(uow_factory)
    hour = timedelta(hours=1)
    oldest = await _job(uow_factory, org_id, created_at=T0)
    # Created long ago but sent again recently: not waiting yet.
    await _job(uow_factory, org_id, created_at=T0, dispatched_at=T0 + 5 * hour, dispatches=2)
    resent_long_ago = await _job(
        uow_factory, org_id, created_at=T0, dispatched_at=T0 + hour, dispatches=2
    )
    await _job(uow_factory, org_id, created_at=T0 + 5 * hour)  # young
    await _job(uow_factory, org_id, created_at=T0, status=ExportStatus.IN_PROGRESS, started_at=T0)

    async with uow_factory() as uow:
        waiting = await uow.export_jobs.list_waiting(T0 + 2 * hour, limit=10)
        first = await uow.export_jobs.list_waiting(T0 + 2 * hour, limit=1)

    assert [job.id for job in waiting] == [oldest.id, resent_long_ago.id]
    assert waiting[1] == resent_long_ago  # dispatched_at and dispatches round-trip
    assert [job.id for job in first] == [oldest.id]


async def test_resend_writes_the_new_message_with_the_job(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    clock = ManualClock(T0 + timedelta(hours=1))
    svc = _services(uow_factory, clock, _Unused())  # type: ignore[arg-type]
    org_id = await _org(uow_factory)
    job = await _job(uow_factory, org_id, created_at=T0)

    handled = await resend_waiting_exports(svc, clock.now())

    assert job.id in [j.id for j in handled]  # (the sweep is global on a shared database)
    async with uow_factory() as uow:
        stored = await uow.export_jobs.get(job.id)
        batch = await uow.outbox.claim_batch(limit=1000, now=clock.now(), lease_seconds=1)
    assert stored is not None
    assert (stored.status, stored.dispatches, stored.dispatched_at) == (
        ExportStatus.PENDING,
        2,
        clock.now(),
    )
    assert (EXPORT_MEMBERS_JOB, {"job_id": job.id}) in [(m.actor, dict(m.args)) for m in batch]
    async with uow_factory() as uow:  # sent: no backlog left for other tests of this database
        await uow.outbox.mark_delivered([m.id for m in batch], clock.now())
        await uow.commit()


async def test_oldest_undelivered_is_the_backlog_of_the_outbox(
    uow_factory: UnitOfWorkFactory,
) -> None:
    long_ago = datetime(1990, 1, 1, tzinfo=UTC)  # before any other test's messages
    message = builders.job_message(created_at=long_ago)
    later = builders.job_message(created_at=long_ago + timedelta(days=1))
    async with uow_factory() as uow:
        await uow.outbox.add(message)
        await uow.outbox.add(later)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.oldest_undelivered() == long_ago

    async with uow_factory() as uow:
        await uow.outbox.mark_delivered([message.id], long_ago)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.oldest_undelivered() == long_ago + timedelta(days=1)
        await uow.outbox.mark_delivered([later.id], long_ago)
        await uow.commit()
    async with uow_factory() as uow:
        oldest = await uow.outbox.oldest_undelivered()
    assert oldest is None or oldest > long_ago + timedelta(days=1)


def _age(path: Path, seconds: float) -> None:
    when = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (when, when))


async def test_partial_files_of_killed_exports_are_removed_and_a_running_ones_kept(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    clock = ManualClock(now)
    storage = LocalFolderStorage(
        tmp_path / "storage", public_url="http://x", signing_key=b"k" * 32, clock=clock
    )
    svc = _services(MemoryUnitOfWorkFactory(), clock, storage)
    staging = tmp_path / "storage" / ".staging"
    staging.mkdir(parents=True)
    killed = staging / "0123abcd.part"  # a worker was killed mid-write two hours ago
    killed.write_bytes(b"\xef\xbb\xbfFirst name\r\nDa")
    _age(killed, 2 * 3600)
    running = staging / "4567ef01.part"  # still being written: touched a moment ago
    running.write_bytes(b"\xef\xbb\xbfFirst name\r\n")
    _age(running, 5)
    almost = staging / "89ab2345.part"  # quiet for a bit less than the stale threshold
    almost.write_bytes(b"x")
    _age(almost, STALE_EXPORT_AFTER.total_seconds() - 60)
    unrelated = staging / "notes.txt"
    unrelated.write_text("not a partial upload")
    _age(unrelated, 10 * 3600)

    assert await remove_abandoned_export_files(svc, now) == 1

    assert sorted(p.name for p in staging.iterdir()) == sorted(
        [running.name, almost.name, unrelated.name]
    )
    _age(almost, STALE_EXPORT_AFTER.total_seconds() + 60)  # now it has been quiet too long
    await sweep_exports(svc, now)  # the scheduled sweep does the same
    assert sorted(p.name for p in staging.iterdir()) == sorted([running.name, unrelated.name])


async def test_a_store_without_a_staging_folder_has_nothing_to_remove(tmp_path: Path) -> None:
    clock = ManualClock(datetime.now(UTC))
    storage = LocalFolderStorage(
        tmp_path / "never-written", public_url="http://x", signing_key=b"k" * 32, clock=clock
    )
    assert await storage.remove_abandoned_uploads(older_than=clock.now()) == 0
