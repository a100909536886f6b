"""The stored CSV import file sweep on the memory adapters, its setting and its schedule (the
rule itself: ``test_import_retention_rule``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from fitdata_adapters.bootstrap import import_policy
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.memory.infrastructure import MemoryErrorReporter
from fitdata_adapters.memory.services import memory_services
from fitdata_adapters.settings import Settings
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_core.errors import ConfigurationError, StorageUnavailable
from fitdata_core.model.jobs import ImportJob, ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.rules.import_retention import file_deleted_at
from fitdata_core.services import Services
from fitdata_core.usecases.imports import sweep_import_files
from fitdata_workers.handlers import registry
from fitdata_workers.scheduler import SCHEDULE
from support import builders

FINISHED = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DAYS_30 = timedelta(days=30)


def csv_job(
    job_id: str = "j1",
    *,
    status: ImportStatus = ImportStatus.COMPLETED,
    completed_at: datetime | None = FINISHED,
) -> ImportJob:
    return builders.finished_csv_job(job_id, completed_at=completed_at, status=status)


# --- the setting --------------------------------------------------------------------------


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"FITDATA_DATA_DIR": str(tmp_path / "var"), **env})


def test_the_retention_setting_defaults_to_30_days_and_refuses_less_than_one(
    tmp_path: Path,
) -> None:
    assert _settings(tmp_path).import_file_retention_days == 30
    seven = _settings(tmp_path, FITDATA_IMPORT_FILE_RETENTION_DAYS="7")
    assert import_policy(seven).file_retention == timedelta(days=7)
    for bad, why in [
        ("0", "must be a positive whole number, got '0'"),
        ("-3", "must be a positive whole number, got '-3'"),
        ("a month", "must be a whole number, got 'a month'"),
        ("99999999999", "must be at most 36500"),
    ]:
        with pytest.raises(ConfigurationError, match=f"FITDATA_IMPORT_FILE_RETENTION_DAYS {why}"):
            _settings(tmp_path, FITDATA_IMPORT_FILE_RETENTION_DAYS=bad)
    with pytest.raises(ConfigurationError, match="file_retention must be at least one day"):
        ImportPolicy(file_retention=timedelta(hours=23))


# --- the sweep on memory adapters -----------------------------------------------------------


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stored(svc: Services, *jobs: ImportJob) -> None:
    async with svc.uow() as uow:
        for job in jobs:
            await uow.import_jobs.add(job)
            key = (job.config.get("file") or {}).get("key")
            if key:
                await svc.storage.put_stream(key, _chunks(b"email\r\na@b.co\r\n"), content_type="x")
        await uow.commit()


async def _job(svc: Services, job_id: str) -> ImportJob:
    async with svc.uow(read_only=True) as uow:
        job = await uow.import_jobs.get(job_id)
    assert job is not None
    return job


def _key(job_id: str) -> str:
    return f"imports/org-1/{job_id}/source.csv"


async def test_the_sweep_deletes_due_files_records_it_and_keeps_the_rest() -> None:
    svc = memory_services()
    old = [csv_job(f"old{i}", completed_at=FINISHED - timedelta(hours=i)) for i in range(5)]
    young = csv_job("young", completed_at=FINISHED + timedelta(days=2))
    running = csv_job("running", status=ImportStatus.IN_PROGRESS, completed_at=None)
    await _stored(svc, *old, young, running)
    at = FINISHED + timedelta(days=31)

    deleted = await sweep_import_files(svc, at, batch=2)  # pages through all five

    # Oldest finished first; each once.
    assert [d.job_id for d in deleted] == ["old4", "old3", "old2", "old1", "old0"]
    assert all(d.deleted_at == at and d.key == _key(d.job_id) for d in deleted)
    for job in old:
        assert not await svc.storage.exists(_key(job.id))
        assert (await _job(svc, job.id)).config["fileDeletedAt"] == at.isoformat()
    for job_id in ("young", "running"):
        assert await svc.storage.exists(_key(job_id))
        assert "fileDeletedAt" not in (await _job(svc, job_id)).config
    # Run again at the same time: nothing left to do.
    assert await sweep_import_files(svc, at) == []
    # Played forward past the young job's retention, only it goes.
    later = await sweep_import_files(svc, FINISHED + timedelta(days=33))
    assert [d.job_id for d in later] == ["young"]
    assert await svc.storage.exists(_key("running"))


async def test_a_file_already_gone_is_fine_and_the_job_records_it() -> None:
    svc = memory_services()
    job = csv_job("j1")
    async with svc.uow() as uow:
        await uow.import_jobs.add(job)  # its file was never stored (or is long gone)
        await uow.commit()
    deleted = await sweep_import_files(svc, FINISHED + timedelta(days=31))
    assert [d.job_id for d in deleted] == ["j1"]
    assert file_deleted_at(await _job(svc, "j1")) == FINISHED + timedelta(days=31)


@attrs.define
class _FailingDeletes(MemoryStorage):
    """Memory storage whose delete of ``broken`` is down."""

    broken: str = ""

    def __attrs_post_init__(self) -> None:
        super().__init__()

    async def delete(self, key: str) -> None:
        if key == self.broken:
            raise StorageUnavailable("storage down")
        await super().delete(key)


async def test_a_file_storage_cannot_delete_now_is_left_for_the_next_sweep() -> None:
    storage = _FailingDeletes(broken=_key("a"))
    errors = MemoryErrorReporter()
    svc = memory_services(storage=storage, errors=errors)
    await _stored(svc, csv_job("a"), csv_job("b"))
    at = FINISHED + timedelta(days=31)

    deleted = await sweep_import_files(svc, at)

    assert [d.job_id for d in deleted] == ["b"]
    assert await storage.exists(_key("a"))
    assert "fileDeletedAt" not in (await _job(svc, "a")).config  # never "deleted" while kept
    assert any(r.context.get("job_id") == "a" for r in errors.reports)
    storage.broken = ""
    assert [d.job_id for d in await sweep_import_files(svc, at)] == ["a"]
    assert not await storage.exists(_key("a"))


async def test_the_scheduled_sweep_runs_as_of_the_injected_clock_not_the_tick() -> None:
    entry = next(e for e in SCHEDULE if e.job == "imports_sweep_files")
    assert entry.every == timedelta(hours=1)
    assert not entry.billing  # the billing kill switch does not stop it
    handler = registry.get("imports_sweep_files")
    assert handler is not None
    clock = ManualClock(FINISHED + timedelta(days=29))
    svc = memory_services(clock=clock)
    await _stored(svc, csv_job("j1"))
    # A tick long after the retention, run while the clock still says day 29: kept.
    late_tick = (FINISHED + timedelta(days=90)).isoformat()
    await handler(svc, scheduled_for=late_tick)
    assert await svc.storage.exists(_key("j1"))
    clock.set(FINISHED + timedelta(days=30, seconds=1))
    await handler(svc, scheduled_for=late_tick)
    assert not await svc.storage.exists(_key("j1"))
    assert file_deleted_at(await _job(svc, "j1")) == FINISHED + timedelta(days=30, seconds=1)
