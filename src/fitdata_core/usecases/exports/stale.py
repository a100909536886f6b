"""The stuck-export sweep: jobs left ``in_progress`` by a worker that died or lost its database.

:func:`process_member_export` always ends a job it started, unless it cannot: the worker
process was killed mid-export, or the database stayed down so long that even writing
"failed" was impossible. Such a job would show "in progress" forever. The scheduled
``exports_fail_stale`` job runs :func:`fail_stale_exports` every few minutes: every export in
progress for longer than :data:`STALE_EXPORT_AFTER` (well beyond any real export and the
worker's time limit) is marked failed with a message the owner can act on, and any object
already written under its key is deleted, so nothing half-made is ever served.

The same sweep looks after two more ways a job can be forgotten:

- :func:`resend_waiting_exports`: a job still ``pending`` long after its queue message went out
  (the broker lost it, or Redis was flushed) gets a new message, up to
  :data:`MAX_EXPORT_DISPATCHES` in all; after that it is failed with
  :data:`MESSAGE_NEVER_STARTED` rather than left waiting forever. While the outbox itself is
  not delivering (a message older than the threshold is still waiting: the queue is down),
  nothing is resent or failed: the jobs' messages have not gone out, so none was lost.
- :func:`remove_abandoned_export_files`: partial files a killed worker left in storage, older
  than the stale threshold (so never those of an export still running), are deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fitdata_core.errors import FitdataError
from fitdata_core.job_names import EXPORT_MEMBERS
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.policies import ExportPolicy
from fitdata_core.services import Services
from fitdata_core.usecases.exports.members import export_file_key

STALE_EXPORT_AFTER = ExportPolicy().stale_after
"""How long an export may stay in progress before the sweep gives up on it, by default
(``Services.exports.stale_after``)."""

STALE_SWEEP_BATCH = 100
MESSAGE_STALE = (
    "The export stopped before it finished (the worker was interrupted or lost its "
    "database connection); please request a new export."
)


PENDING_RESEND_AFTER = ExportPolicy().pending_resend_after
"""How long a job may wait in ``pending`` after its last queue message before another is sent.
The outbox relay delivers within seconds; a worker picks the message up at once unless every
worker is busy, so a quarter of an hour without a start means the message is gone."""

MAX_EXPORT_DISPATCHES = 3
"""Queue messages written for one job in all (the first and up to two resends)."""

MESSAGE_NEVER_STARTED = (
    "The export never started (no worker picked it up); please request a new export."
)


def stale_after(svc: Services) -> timedelta:
    """The threshold: ``svc.exports.stale_after`` (one hour unless configured)."""
    return svc.exports.stale_after


async def fail_stale_exports(
    svc: Services, now: datetime, *, limit: int = STALE_SWEEP_BATCH
) -> list[ExportJob]:
    """Fail every export job in progress since before ``now - stale_after(svc)``.

    Returns the jobs as failed. Each job is re-read and failed in its own unit of work, so a
    job that completed meanwhile is left alone, and one bad job does not stop the rest. The
    partial object (if any) is deleted after the job is marked failed.
    """
    cutoff = now - stale_after(svc)
    async with svc.uow() as uow:
        candidates = await uow.export_jobs.list_stale(cutoff, limit=limit)
    failed: list[ExportJob] = []
    for candidate in candidates:
        async with svc.uow() as uow:
            job = await uow.export_jobs.get(candidate.id)
            if job is None or job.status is not ExportStatus.IN_PROGRESS:
                continue
            job, _ = job.fail(now, MESSAGE_STALE)
            await uow.export_jobs.update(job)
            await uow.commit()
        failed.append(job)
        svc.errors.capture_message(
            "Stale export job marked failed.",
            level="warning",
            job_id=job.id,
            org_id=job.organization_id,
        )
        key = job.file_key or export_file_key(job.organization_id, job.id)
        try:
            await svc.storage.delete(key)
        except FitdataError as exc:
            svc.errors.capture_message(
                f"Could not delete a stale export's partial file: {type(exc).__name__}",
                job_id=job.id,
                key=key,
            )
    return failed


def pending_resend_after(svc: Services) -> timedelta:
    """The threshold: ``svc.exports.pending_resend_after`` (15 minutes unless configured)."""
    return svc.exports.pending_resend_after


async def resend_waiting_exports(
    svc: Services, now: datetime, *, limit: int = STALE_SWEEP_BATCH
) -> list[ExportJob]:
    """Send again the queue message of every job pending since its last message went out
    before ``now - pending_resend_after(svc)``; fail the ones already sent
    :data:`MAX_EXPORT_DISPATCHES` times. Returns the jobs as they end up.

    Each job is re-read in its own unit of work (a job a worker started meanwhile is left
    alone), and the new message is written in the same unit of work as the job, through the
    outbox. A duplicate message is harmless: the worker only runs a pending job.
    """
    cutoff = now - pending_resend_after(svc)
    async with svc.uow() as uow:
        backlog_since = await uow.outbox.oldest_undelivered()
        candidates = await uow.export_jobs.list_waiting(cutoff, limit=limit)
    if candidates and backlog_since is not None and backlog_since < cutoff:
        # Messages are not going out at all (queue or relay down): nothing was lost yet, and
        # the waiting jobs' messages will go out with the rest. Resending would only pile
        # up duplicates, and failing them would punish an outage the outbox rides out.
        svc.errors.capture_message(
            "Export resend deferred: the outbox has not delivered for a while.",
            level="warning",
            waiting_jobs=len(candidates),
        )
        return []
    handled: list[ExportJob] = []
    for candidate in candidates:
        async with svc.uow() as uow:
            job = await uow.export_jobs.get(candidate.id)
            if job is None or job.status is not ExportStatus.PENDING:
                continue
            if job.last_dispatched_at >= cutoff:
                continue
            gave_up = job.dispatches >= MAX_EXPORT_DISPATCHES
            if gave_up:
                job, _ = job.fail(now, MESSAGE_NEVER_STARTED)
            else:
                job, _ = job.redispatch(now)
                await uow.outbox.add(svc.job(EXPORT_MEMBERS, job_id=job.id))
            await uow.export_jobs.update(job)
            await uow.commit()
        handled.append(job)
        svc.errors.capture_message(
            "Export job never started; marked failed."
            if gave_up
            else "Export job still pending; its queue message was sent again.",
            level="warning",
            job_id=job.id,
            org_id=job.organization_id,
            dispatches=job.dispatches,
        )
    return handled


async def remove_abandoned_export_files(svc: Services, now: datetime) -> int:
    """Delete partial files left in storage by exports killed mid-write, when last written
    before ``now - stale_after(svc)``: an export still running is younger than that, and one
    that old has been (or is being) failed by :func:`fail_stale_exports`. Returns how many."""
    try:
        removed = await svc.storage.remove_abandoned_uploads(older_than=now - stale_after(svc))
    except FitdataError as exc:
        svc.errors.capture_message(f"Could not remove abandoned export files: {type(exc).__name__}")
        return 0
    if removed:
        svc.errors.capture_message(
            "Removed partial export files left by interrupted exports.",
            level="info",
            count=removed,
        )
    return removed


async def sweep_exports(svc: Services, now: datetime) -> None:
    """The scheduled ``exports_fail_stale`` job: all three sweeps, in order."""
    await fail_stale_exports(svc, now)
    await resend_waiting_exports(svc, now)
    await remove_abandoned_export_files(svc, now)


__all__ = [
    "MAX_EXPORT_DISPATCHES",
    "MESSAGE_NEVER_STARTED",
    "MESSAGE_STALE",
    "PENDING_RESEND_AFTER",
    "STALE_EXPORT_AFTER",
    "fail_stale_exports",
    "pending_resend_after",
    "remove_abandoned_export_files",
    "resend_waiting_exports",
    "stale_after",
    "sweep_exports",
]
