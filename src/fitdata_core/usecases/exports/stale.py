"""The stuck-export sweep: jobs left ``in_progress`` by a worker that died or lost its database.

:func:`process_member_export` always ends a job it started, unless it cannot: the worker
process was killed mid-export, or the database stayed down so long that even writing
"failed" was impossible. Such a job would show "in progress" forever. The scheduled
``exports_fail_stale`` job runs :func:`fail_stale_exports` every few minutes: every export in
progress for longer than :data:`STALE_EXPORT_AFTER` (well beyond any real export and the
worker's time limit) is marked failed with a message the owner can act on, and any object
already written under its key is deleted, so nothing half-made is ever served.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fitdata_core.errors import FitdataError
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


__all__ = ["MESSAGE_STALE", "STALE_EXPORT_AFTER", "fail_stale_exports", "stale_after"]
