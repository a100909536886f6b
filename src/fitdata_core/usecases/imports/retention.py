"""The import file sweep: delete the stored files of CSV imports past their retention period.

The rule (which job is due at a given time) is :mod:`fitdata_core.rules.import_retention`.
:func:`sweep_import_files` applies it "as of" a time it is given: the scheduled
``imports_sweep_files`` job passes the injected clock's now, ``fitdata import sweep-files
--at`` any moment an operator chooses. Nothing here reads the wall clock.

Each due job is handled in its own unit of work, locked while its file is deleted and the
deletion recorded (``config.fileDeletedAt``), so sweeps running at once in several processes
delete each file once: the second one waits for the lock, reads the job again and finds it
done. Deleting a file that is already gone is fine (storage deletes are idempotent), so a
sweep that died between the delete and the commit is simply finished by the next one. A job
whose file cannot be deleted now (storage down) is reported and left for the next sweep.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from fitdata_core.errors import Unavailable
from fitdata_core.rules.import_retention import (
    file_due_for_deletion,
    finished_before,
    stored_file_key,
    with_file_deleted,
)
from fitdata_core.services import Services

__all__ = ["FILE_SWEEP_BATCH", "DeletedImportFile", "sweep_import_files"]

#: Jobs read per query of the sweep (it pages on until none is left).
FILE_SWEEP_BATCH = 100


@attrs.frozen
class DeletedImportFile:
    """One file the sweep deleted: whose, which, when its job finished, when it went."""

    job_id: str
    organization_id: str
    key: str
    finished_at: datetime
    deleted_at: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "jobId": self.job_id,
            "organizationId": self.organization_id,
            "key": self.key,
            "finishedAt": self.finished_at.isoformat(),
            "deletedAt": self.deleted_at.isoformat(),
        }


async def _delete_one(svc: Services, job_id: str, at: datetime) -> DeletedImportFile | None:
    async with svc.uow() as uow:
        job = await uow.import_jobs.get_for_update(job_id)
        # Read again under the lock: another sweep may have done it meanwhile.
        if job is None or not file_due_for_deletion(job, at, svc.imports.file_retention):
            return None
        key = stored_file_key(job)
        # Both checked by the rule.
        assert key is not None
        assert job.completed_at is not None
        # Deleted before the commit that records it: a job never says "deleted" while its
        # file is still stored. Should the commit fail, the next sweep deletes (nothing) again
        # and records it.
        await svc.storage.delete(key)
        await uow.import_jobs.update(with_file_deleted(job, at))
        await uow.commit()
    return DeletedImportFile(job.id, job.organization_id, key, job.completed_at, at)


async def sweep_import_files(
    svc: Services, at: datetime, *, batch: int = FILE_SWEEP_BATCH
) -> list[DeletedImportFile]:
    """Delete the stored file of every CSV job finished more than
    ``svc.imports.file_retention`` before ``at``, record it on the job, and return what was
    deleted (oldest finished first). Safe to run from several processes at once."""
    cutoff = finished_before(at, svc.imports.file_retention)
    deleted: list[DeletedImportFile] = []
    after: tuple[datetime, str] | None = None
    while True:
        async with svc.uow(read_only=True) as uow:
            due = await uow.import_jobs.list_files_due(cutoff, limit=batch, after=after)
        for candidate in due:
            try:
                found = await _delete_one(svc, candidate.id, at)
            except Unavailable as exc:
                # Left as it is: the next sweep tries again. The rest go on meanwhile.
                svc.errors.capture_message(
                    f"Could not delete an import's stored file: {type(exc).__name__}",
                    level="warning",
                    job_id=candidate.id,
                    org_id=candidate.organization_id,
                )
                continue
            if found is not None:
                deleted.append(found)
        if len(due) < batch:
            break
        last = due[-1]
        assert last.completed_at is not None  # listed because it has one
        after = (last.completed_at, last.id)
    if deleted:
        svc.errors.capture_message(
            "Deleted the stored files of finished imports past their retention.",
            level="info",
            count=len(deleted),
        )
    return deleted
