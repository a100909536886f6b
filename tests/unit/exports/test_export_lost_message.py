"""Issue 7 item 11: a pending export whose queue message was lost is sent again, then failed.

The clock is played forward; "the broker lost the message" is simply a message relayed (claimed
and marked delivered) that no worker ever ran.
"""

from __future__ import annotations

from datetime import timedelta

from export_support import START, Gym

from fitdata_adapters.clock import ManualClock
from fitdata_adapters.mail.memory import MemoryMailer
from fitdata_adapters.memory import MemoryErrorReporter
from fitdata_core.job_names import EXPORT_MEMBERS as EXPORT_MEMBERS_JOB
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.services import Services
from fitdata_core.usecases.exports import (
    MAX_EXPORT_DISPATCHES,
    MESSAGE_NEVER_STARTED,
    process_member_export,
    request_member_export,
    resend_waiting_exports,
    sweep_exports,
)

IP = "203.0.113.11"
QUARTER = timedelta(minutes=15)


async def _lose_queued_messages(svc: Services, clock: ManualClock) -> list[str]:
    """Relay every undelivered message (as the outbox relay would) and drop it on the floor;
    the job ids they were for."""
    async with svc.uow() as uow:
        batch = await uow.outbox.claim_batch(limit=100, now=clock.now(), lease_seconds=30)
        await uow.outbox.mark_delivered([m.id for m in batch], clock.now())
        await uow.commit()
    assert all(m.actor == EXPORT_MEMBERS_JOB for m in batch)
    return [str(m.args["job_id"]) for m in batch]


async def _job(svc: Services, job_id: str) -> ExportJob:
    async with svc.uow() as uow:
        job = await uow.export_jobs.get(job_id)
    assert job is not None
    return job


async def test_a_lost_message_is_sent_again_after_15_minutes_and_the_job_then_runs(
    svc: Services, gym: Gym, clock: ManualClock, mailer: MemoryMailer
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    assert await _lose_queued_messages(svc, clock) == [job_id]

    clock.advance(QUARTER - timedelta(seconds=1))
    assert await resend_waiting_exports(svc, clock.now()) == []
    assert await _lose_queued_messages(svc, clock) == []  # nothing sent yet

    clock.advance(timedelta(seconds=2))
    [resent] = await resend_waiting_exports(svc, clock.now())
    assert resent.id == job_id
    assert resent.status is ExportStatus.PENDING
    assert resent.dispatches == 2
    assert resent.dispatched_at == clock.now()
    assert await _job(svc, job_id) == resent
    assert await _lose_queued_messages(svc, clock) == [job_id]  # one new message, exactly

    # A second sweep at the same moment sends nothing more.
    assert await resend_waiting_exports(svc, clock.now()) == []

    # This time a worker gets the message: the job runs as any other.
    done = await process_member_export(svc, job_id=job_id)
    assert done is not None
    assert done.status is ExportStatus.COMPLETED
    assert len(mailer.sent) == 1


async def test_a_job_whose_messages_keep_getting_lost_is_failed_with_a_clear_message(
    svc: Services, gym: Gym, clock: ManualClock, errors: MemoryErrorReporter
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    await _lose_queued_messages(svc, clock)
    for dispatches in range(2, MAX_EXPORT_DISPATCHES + 1):
        clock.advance(QUARTER + timedelta(minutes=1))
        [job] = await resend_waiting_exports(svc, clock.now())
        assert job.dispatches == dispatches
        assert await _lose_queued_messages(svc, clock) == [job_id]

    clock.advance(QUARTER + timedelta(minutes=1))
    [failed] = await resend_waiting_exports(svc, clock.now())

    assert failed.status is ExportStatus.FAILED
    assert failed.error_message == MESSAGE_NEVER_STARTED
    assert await _job(svc, job_id) == failed
    assert await _lose_queued_messages(svc, clock) == []  # no more messages once failed
    assert any("never started" in r.message for r in errors.reports)
    # A late message for it changes nothing.
    assert await process_member_export(svc, job_id=job_id) == failed

    clock.advance(QUARTER * 10)
    assert await resend_waiting_exports(svc, clock.now()) == []


async def test_jobs_that_started_or_are_young_are_left_alone(
    svc: Services, gym: Gym, clock: ManualClock, errors: MemoryErrorReporter
) -> None:
    started_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    async with svc.uow() as uow:
        job = await uow.export_jobs.get(started_id)
        assert job is not None
        running, _ = job.start(START)
        await uow.export_jobs.update(running)
        await uow.commit()
    clock.advance(QUARTER * 2)
    young_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    assert sorted(await _lose_queued_messages(svc, clock)) == sorted([started_id, young_id])

    assert await resend_waiting_exports(svc, clock.now()) == []
    assert not any("deferred" in r.message for r in errors.reports)
    assert (await _job(svc, started_id)).dispatches == 1
    assert (await _job(svc, young_id)).dispatches == 1


async def test_the_scheduled_sweep_includes_the_resend(
    svc: Services, gym: Gym, clock: ManualClock
) -> None:
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    await _lose_queued_messages(svc, clock)
    clock.advance(QUARTER * 2)

    await sweep_exports(svc, clock.now())

    assert (await _job(svc, job_id)).dispatches == 2
    assert await _lose_queued_messages(svc, clock) == [job_id]


async def test_while_the_outbox_is_not_delivering_nothing_is_resent_or_failed(
    svc: Services, gym: Gym, clock: ManualClock, errors: MemoryErrorReporter
) -> None:
    # The queue is down: the relay cannot send, so the message is still in the outbox.
    job_id = await request_member_export(svc, gym.owner, gym.org_id, client_ip=IP)
    for _ in range(MAX_EXPORT_DISPATCHES + 1):
        clock.advance(QUARTER + timedelta(minutes=1))
        assert await resend_waiting_exports(svc, clock.now()) == []
    job = await _job(svc, job_id)
    assert (job.status, job.dispatches) == (ExportStatus.PENDING, 1)
    assert any("deferred" in r.message for r in errors.reports)

    # The queue is back: the one message goes out (and, here, is lost); now it counts.
    assert await _lose_queued_messages(svc, clock) == [job_id]
    clock.advance(QUARTER + timedelta(minutes=1))
    [resent] = await resend_waiting_exports(svc, clock.now())
    assert resent.dispatches == 2
