"""Contract: export jobs, import jobs and import-provider configurations."""

from __future__ import annotations

import pytest
from seeding import commit_one, seed_org

from fitdata_core.errors import Conflict
from fitdata_core.model.imports import ImportEntity, ImportReport, RowProblem, Tally
from fitdata_core.model.jobs import ImportPhase, ImportStatus
from fitdata_core.ports.repositories import UnitOfWorkFactory
from support import builders
from support.builders import at

pytestmark = pytest.mark.integration


async def test_export_job_lifecycle_and_newest_first_pages(
    uow_factory: UnitOfWorkFactory,
) -> None:
    org = await seed_org(uow_factory)
    other = await seed_org(uow_factory)
    jobs = [builders.export_job(org.id, "u1", created_at=at(i)) for i in range(5)]
    async with uow_factory() as uow:
        for job in jobs:
            await uow.export_jobs.add(job)
        await uow.export_jobs.add(builders.export_job(other.id, "u2"))
        await uow.commit()
    started, _ = jobs[0].start(at(10))
    done, _ = started.complete(at(11), row_count=1200, file_size=2**33, file_key="exports/a.csv")
    async with uow_factory() as uow:
        await uow.export_jobs.update(done)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.export_jobs.get(done.id) == done
        assert await uow.export_jobs.get("missing") is None
        first = await uow.export_jobs.list_for_org(org.id, limit=2, offset=0)
        last = await uow.export_jobs.list_for_org(org.id, limit=2, offset=4)
    assert first.total == 5
    assert [j.id for j in first.items] == [jobs[4].id, jobs[3].id]
    assert list(last.items) == [done]


async def test_import_job_results_phases_and_active_jobs(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    running = builders.import_job(org.id, "u1", created_at=at(1))
    failed = builders.import_job(org.id, "u1", created_at=at(2), status=ImportStatus.FAILED)
    finished = builders.import_job(org.id, "u1", created_at=at(3), status=ImportStatus.COMPLETED)
    async with uow_factory() as uow:
        for job in (running, failed, finished):
            await uow.import_jobs.add(job)
        await uow.commit()
    # At most one active import per organization.
    with pytest.raises(Conflict):
        await commit_one(
            uow_factory, lambda uow: uow.import_jobs.add(builders.import_job(org.id, "u1"))
        )
    async with uow_factory() as uow:
        locked = await uow.import_jobs.get_for_update(running.id)
        assert locked == running
        started, _ = running.start(at(4))
        moved, _ = started.enter_phase(ImportPhase.MEMBERS, at(5))
        report = ImportReport().with_batch(
            ImportEntity.MEMBERS,
            Tally(created=10, skipped=2),
            [RowProblem(ImportEntity.MEMBERS, "bad", source_id="3", email="a@b.c", field="email")],
            processed=12,
            total=40,
        )
        progressed, _ = moved.record_batch(at(5), report, {"members.applied": 12})
        await uow.import_jobs.update(progressed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.import_jobs.get(running.id) == progressed
        active = await uow.import_jobs.find_active(org.id)
        page = await uow.import_jobs.list_for_org(org.id, limit=10, offset=0)
        assert await uow.import_jobs.get_for_update("missing") is None
    assert active == [progressed]
    assert page.total == 3
    assert list(page.items) == [finished, failed, progressed]


async def test_provider_configs_one_active_per_provider(uow_factory: UnitOfWorkFactory) -> None:
    org = await seed_org(uow_factory)
    old = builders.provider_config(org.id, created_at=at(1), key_id="k1")
    other_provider = builders.provider_config(org.id, provider="csvhub", created_at=at(1))
    async with uow_factory() as uow:
        await uow.provider_configs.add(old)
        await uow.provider_configs.add(other_provider)
        await uow.commit()
    new = builders.provider_config(
        org.id,
        created_at=at(2),
        key_id="k2",
        credentials_encrypted=bytes(range(256)),
        created_by="u9",
    )
    async with uow_factory() as uow:
        assert await uow.provider_configs.get_active(org.id, "arbox") == old
        await uow.provider_configs.deactivate_all(org.id, "arbox")
        assert await uow.provider_configs.get_active(org.id, "arbox") is None
        await uow.provider_configs.add(new)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.provider_configs.get_active(org.id, "arbox") == new
        assert await uow.provider_configs.get_active(org.id, "csvhub") == other_provider
        assert await uow.provider_configs.get_active("another-org", "arbox") is None
