"""The engine applies the rows staged so far while it checks and stages the next page
(``ImportPolicy.apply_while_staging``), on the memory adapters: when it does, what it lands,
and what a failure of one of the two steps does to the other."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import attrs
import pytest

from fitdata_adapters.memory.member_source import MemoryMemberSource
from fitdata_adapters.memory.services import memory_services
from fitdata_core.errors import InvalidInput
from fitdata_core.model.imports import ImportEntity
from fitdata_core.model.jobs import ImportStatus
from fitdata_core.policies import ImportPolicy
from fitdata_core.services import Services
from fitdata_core.usecases.imports import ImportRequest, run_import, start_import
from support.imports import API_KEY, PLANS, add_gym, drain, job_of, members

PAGE = 200


def _svc(source: MemoryMemberSource, *, beside: bool, **policy: Any) -> Services:
    return memory_services(
        member_source=source,
        imports=ImportPolicy(
            retry_delays=(0, 0),
            apply_while_staging=beside,
            stage_rows=PAGE,
            batch_size=PAGE,
            **policy,
        ),
    )


def _request() -> ImportRequest:
    return ImportRequest(credentials=API_KEY, enrich=False, plans=False)


def _source() -> MemoryMemberSource:
    """Five pages, with what crosses a page boundary: an email again two pages later (the
    first row wins within a batch; a later batch updates it), and a bad email."""
    rows = members(5 * PAGE, plan_name=None)
    rows[2 * PAGE + 3] = attrs.evolve(rows[2 * PAGE + 3], email=rows[5].email, first_name="Again")
    rows[PAGE + 7] = attrs.evolve(rows[PAGE + 7], email="not-an-email")
    return MemoryMemberSource(plans=PLANS, members=rows, page_size=PAGE)


@pytest.mark.parametrize("beside", [True, False])
async def test_staged_rows_are_applied_while_the_next_page_is_staged_only_when_asked(
    beside: bool,
) -> None:
    svc = _svc(_source(), beside=beside, slice_batches=3)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    # One slice: three rounds of steps. Round 1 stages page 1 (nothing is staged yet to
    # apply beside it); rounds 2 and 3 stage pages 2 and 3, each beside the apply of the
    # page before: two pages applied before the source is read to the end.
    await run_import(svc, job_id)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.IN_PROGRESS
    assert job.checkpoint["members.pages"] == 3
    assert "members.fetched" not in job.checkpoint
    applied = job.checkpoint.get("members.applied", 0)
    # At least page 1 (how much of page 3 the last apply saw depends on which of the two
    # took the job's lock first).
    assert applied >= PAGE if beside else applied == 0


async def _landed(beside: bool) -> tuple[Any, ...]:
    svc = _svc(_source(), beside=beside)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    async with svc.uow() as uow:
        people = sorted(
            (u.email, u.first_name, u.last_name)
            for u in uow.tables.users.values()
            if u.email.endswith("@gym.example")
        )
        changes = await uow.imports.changes(job_id)
    problems = sorted((p.source_id, p.field) for p in job.report.problems)
    return (
        job.status,
        job.results["members"],
        problems,
        people,
        [(c.entity, c.action) for c in changes],
        job.report.progress["members"],
    )


async def test_applying_beside_staging_lands_what_one_after_the_other_does() -> None:
    beside, in_turn = await _landed(True), await _landed(False)
    assert beside == in_turn
    status, results, problems, people, _, _ = beside
    assert status is ImportStatus.COMPLETED
    assert results == {
        "created": 5 * PAGE - 2,
        "updated": 1,  # the repeated email, two pages later
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert problems == [(str(1000 + PAGE + 7), "email")]
    assert ("m5@gym.example", "Again", "Last403") in people


async def test_an_apply_that_fails_stops_the_stage_beside_it_and_fails_the_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fitdata_adapters.memory import imports as memory_imports

    async def refuse(self: Any, writes: Any) -> None:
        raise InvalidInput("The batch cannot be written: refused by the test.")

    monkeypatch.setattr(memory_imports.MemoryImportData, "write_members", refuse)
    svc = _svc(_source(), beside=True)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    await drain(svc)
    job = await job_of(svc, job_id)
    assert job.status is ImportStatus.FAILED
    assert job.error_message == "The batch cannot be written: refused by the test."
    # The first apply ran beside the second page's stage: the job ended there, with page 2
    # either staged or not, and nothing applied.
    assert job.checkpoint.get("members.applied", 0) == 0
    assert job.checkpoint["members.pages"] in (1, 2)
    assert job.report.tally(ImportEntity.MEMBERS).created == 0
    # No step is left running after the job ended, and the collector is back on.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert gc.isenabled()


async def test_each_step_beside_the_other_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    svc = _svc(_source(), beside=True)
    gym = await add_gym(svc)
    await start_import(svc, gym.owner, gym.org_id, _request())
    caplog.set_level(logging.INFO, logger="fitdata.imports")
    await drain(svc)
    events = [r.getMessage() for r in caplog.records if r.name == "fitdata.imports"]
    # Batches were applied before the source was read to its end.
    assert events.index("import batch") < events.index("import fetched")
    assert events.count("import staged") == 5
    assert events.count("import batch") == 5


async def test_a_page_staged_before_the_lock_rolls_back_if_the_checkpoint_moved_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stage step writes its page before it locks the job, at the positions the checkpoint
    gave when the step began. If the checkpoint moved meanwhile (another worker staged), the
    page must not land: the step rolls it back with its unit of work and re-reads; every row
    still lands once."""
    from fitdata_core.usecases.imports import engine

    svc = _svc(_source(), beside=True)
    gym = await add_gym(svc)
    job_id = await start_import(svc, gym.owner, gym.org_id, _request())
    original = engine._Run._locked
    moved: list[int] = []

    async def locked_after_someone_staged(self: Any, uow: Any) -> Any:
        job = await original(self, uow)
        staged = await uow.imports.staged(job.id, "members", from_seq=0, limit=10_000)
        if len(staged) > job.checkpoint.get("members.rows", 0) and not moved:
            # A stage step, its page written and not committed: as if another worker's page
            # had landed between this step's start and its lock, taking these positions.
            moved.append(len(staged) - job.checkpoint.get("members.rows", 0))
            job, _ = job.record_batch(svc.clock.now(), job.report, {"members.rows": 10**6})
        return job

    monkeypatch.setattr(engine._Run, "_locked", locked_after_someone_staged)
    await drain(svc)
    job = await job_of(svc, job_id)
    assert moved  # the race happened once: a page was staged, then found the positions moved
    assert moved == [PAGE]  # the first page had been written before the lock
    assert job.status is ImportStatus.COMPLETED
    # Every row once, none twice (a page left behind would come back as duplicates).
    assert job.results["members"] == {
        "created": 5 * PAGE - 2,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert job.report.progress["members"].processed == 5 * PAGE
    async with svc.uow() as uow:
        assert await uow.imports.staged(job_id, "members", from_seq=0, limit=10_000) == []
