"""Property tests of the import job: status table, forward-only phases, the lease, the
checkpoint, cancel and undo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import IllegalTransition
from fitdata_core.model.imports import ImportEntity, ImportReport, RowProblem, Severity, Tally
from fitdata_core.model.jobs import (
    IMPORT_TRANSITIONS,
    ImportJob,
    ImportPhase,
    ImportSource,
    ImportStatus,
)
from support.builders import T0

OWNERS = ("w1", "w2")
_moves = st.one_of(
    st.tuples(st.just("start")),
    st.tuples(st.just("phase"), st.sampled_from(list(ImportPhase))),
    st.tuples(st.just("lease"), st.sampled_from(OWNERS)),
    st.tuples(st.just("hand_off")),
    st.tuples(st.just("batch"), st.integers(0, 5)),
    st.tuples(st.just("request_cancel")),
    st.tuples(st.just("complete")),
    st.tuples(st.just("fail")),
    st.tuples(st.just("undo")),
    st.tuples(st.just("wait"), st.integers(1, 120)),
)


def _job(dry_run: bool) -> ImportJob:
    return ImportJob(
        id="i1",
        organization_id="o1",
        source=ImportSource.ARBOX,
        status=ImportStatus.PENDING,
        phase=ImportPhase.QUEUED,
        config={},
        started_by="u1",
        created_at=T0,
        dry_run=dry_run,
        credentials_key_id="k1",
        credentials_sealed=b"sealed",
    )


@given(st.lists(_moves, max_size=30), st.booleans())
def test_import_job_machine(moves: list[tuple[object, ...]], dry_run: bool) -> None:
    job = _job(dry_run)
    now = T0
    applied = 0
    for move in moves:
        before = job
        name = move[0]
        try:
            if name == "start":
                job, _ = job.start(now)
            elif name == "phase":
                job, _ = job.enter_phase(move[1], now)  # type: ignore[arg-type]
            elif name == "lease":
                job = job.take_lease(str(move[1]), now, now + timedelta(seconds=30))
            elif name == "hand_off":
                job = job.hand_off(now + timedelta(seconds=30))
            elif name == "batch":
                rows = int(move[1])  # type: ignore[call-overload]
                report = job.report.with_batch(
                    ImportEntity.MEMBERS, Tally(created=rows), processed=rows
                )
                job, _ = job.record_batch(now, report, {"members.applied": applied + rows})
            elif name == "request_cancel":
                job, _ = job.request_cancel(now)
            elif name == "complete":
                job, _ = job.complete(now)
            elif name == "fail":
                job, _ = job.fail(now, "boom")
            elif name == "undo":
                job, _ = job.mark_undone(now)
            else:
                now += timedelta(seconds=int(move[1]))  # type: ignore[call-overload]
                continue
        except IllegalTransition:
            assert job == before  # a refused move changes nothing
            continue
        # Status moves only along the table.
        if job.status is not before.status:
            assert IMPORT_TRANSITIONS.can(before.status, job.status)
        # Phases only move forward, and only while running (or to DONE on completion).
        order = list(ImportPhase)
        assert order.index(job.phase) >= order.index(before.phase)
        if name == "phase":
            assert before.status is ImportStatus.IN_PROGRESS
        # Batches are only recorded while running, and the counts only grow.
        if name == "batch":
            assert before.status is ImportStatus.IN_PROGRESS
            applied = job.checkpoint["members.applied"]
        assert job.report.tally(ImportEntity.MEMBERS).created == applied
        # A lease is only taken when free (nobody, the same owner, or ended).
        if name == "lease":
            assert before.lease_free_for(str(move[1]), now)
            assert job.lease_owner == move[1]
        # Cancel: a pending job at once; a running one only marked.
        if name == "request_cancel":
            expected = (
                ImportStatus.CANCELLED if before.status is ImportStatus.PENDING else before.status
            )
            assert job.status is expected
            assert job.cancel_requested or job.status is ImportStatus.CANCELLED
        # An ended job holds no lease and no one-off credentials, and is never handed off.
        if not job.is_active:
            assert job.lease_owner is None
            assert name != "hand_off" or before.is_active
            assert job.credentials_sealed is None
            assert job.credentials_key_id is None
        if name == "undo":
            assert not job.dry_run
            assert before.status is ImportStatus.COMPLETED


def test_a_held_lease_refuses_another_owner_until_it_ends() -> None:
    job, _ = _job(False).start(T0)
    held = job.take_lease("w1", T0, T0 + timedelta(seconds=30))
    with pytest.raises(IllegalTransition):
        held.take_lease("w2", T0 + timedelta(seconds=29), T0 + timedelta(seconds=60))
    taken = held.take_lease("w2", T0 + timedelta(seconds=30), T0 + timedelta(seconds=60))
    assert taken.lease_owner == "w2"


def test_the_report_keeps_at_most_the_cap_of_problems_but_counts_all() -> None:
    from fitdata_core.model.imports import MAX_REPORTED_ROW_ERRORS, RowProblem

    problems = [RowProblem(ImportEntity.MEMBERS, "bad") for _ in range(MAX_REPORTED_ROW_ERRORS + 5)]
    report = ImportReport().with_batch(ImportEntity.MEMBERS, Tally(failed=len(problems)), problems)
    report = report.with_batch(ImportEntity.MEMBERS, Tally(failed=1), problems[:1])
    assert len(report.problems) == MAX_REPORTED_ROW_ERRORS
    assert report.error_count == MAX_REPORTED_ROW_ERRORS + 6
    assert ImportReport.from_dict(report.to_dict()) == report


_problem = st.builds(
    RowProblem,
    entity=st.sampled_from(list(ImportEntity)),
    reason=st.text(min_size=1, max_size=20),
    severity=st.sampled_from(list(Severity)),
    source_id=st.one_of(st.none(), st.text(max_size=5)),
    field=st.one_of(st.none(), st.just("Email")),
)


@given(st.lists(st.lists(_problem, max_size=400), max_size=6), st.integers(1, 5))
def test_a_stored_report_grows_like_a_decoded_one_through_save_and_load(
    batches: list[list[RowProblem]], reloads: int
) -> None:
    """What a step does to a loaded report (append a batch, save) gives what the same batches
    give a report that never left memory: the problems, the cap, the counts, the JSON. The
    stored problems are only decoded when read."""
    from fitdata_core.model.imports import StoredProblems

    in_memory = ImportReport()
    stored = ImportReport.from_dict(ImportReport().to_dict())
    for i, batch in enumerate(batches):
        in_memory = in_memory.with_batch(ImportEntity.MEMBERS, Tally(failed=1), batch)
        stored = stored.with_batch(ImportEntity.MEMBERS, Tally(failed=1), batch)
        if i % reloads == 0:
            stored = ImportReport.from_dict(stored.to_dict())
            assert isinstance(stored.problems, StoredProblems)
    assert stored.to_dict() == in_memory.to_dict()
    assert stored == in_memory
    assert in_memory == stored
    assert len(stored.problems) == len(in_memory.problems)
    assert list(stored.problems) == list(in_memory.problems)
    assert stored.error_count + stored.warning_count == sum(len(b) for b in batches)
