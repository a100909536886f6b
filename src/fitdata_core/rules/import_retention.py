"""How long the stored file of a CSV import is kept, and what a job says once it is gone.

An uploaded file holds members' personal data (emails, phones, birthdays), so it is not
kept for ever: once its job has *finished* (completed, failed, cancelled or undone) for more
than the retention period (``ImportPolicy.file_retention``, 30 days unless configured), the
file sweep deletes it and records the moment in the job's config (``fileDeletedAt``). The
period counts from ``completed_at``, the moment the job finished (an undo later does not
restart it: the file was last needed to run the job). A pending or running job is never due,
whatever its age: its file is being read.

Everything here is decided "as of" a given time, never the wall clock, so a sweep played
forward (``--at``) decides exactly as the scheduled one will on that day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from fitdata_core.errors import Gone, InvalidInput
from fitdata_core.model.jobs import ImportJob, ImportSource, ImportStatus

__all__ = [
    "FILE_DELETED_AT",
    "FINISHED_IMPORT_STATUSES",
    "file_deleted_at",
    "file_due_for_deletion",
    "file_gone",
    "finished_before",
    "stored_file_key",
    "with_file_deleted",
]

#: The config key recording when the sweep deleted the job's file (ISO-8601 UTC).
FILE_DELETED_AT = "fileDeletedAt"

#: The statuses of a job that will not read its file again to run.
FINISHED_IMPORT_STATUSES = frozenset(
    {ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED, ImportStatus.UNDONE}
)


def stored_file_key(job: ImportJob) -> str | None:
    """The object storage key of the job's file (None: the job has no file)."""
    key = (job.config.get("file") or {}).get("key")
    return str(key) if key else None


def file_deleted_at(job: ImportJob) -> datetime | None:
    """When the sweep deleted the job's file (None: not deleted)."""
    raw = job.config.get(FILE_DELETED_AT)
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def finished_before(at: datetime, retention: timedelta) -> datetime:
    """The cut-off of a sweep at ``at``: a job that finished before it is due. ``InvalidInput``
    for an ``at`` so early the cut-off is before the calendar's first day."""
    try:
        return at - retention
    except OverflowError:
        raise InvalidInput(
            f"{at.isoformat()} is too early to sweep with a retention of {retention.days} days."
        ) from None


def file_due_for_deletion(job: ImportJob, at: datetime, retention: timedelta) -> bool:
    """Whether the sweep at ``at`` deletes the job's file: a CSV job that finished more than
    ``retention`` before ``at`` (a job finished exactly ``retention`` ago keeps its file for
    that instant), whose file is still there."""
    return (
        job.source is ImportSource.CSV
        and job.status in FINISHED_IMPORT_STATUSES
        and job.completed_at is not None
        and job.completed_at < finished_before(at, retention)
        and stored_file_key(job) is not None
        and file_deleted_at(job) is None
    )


def with_file_deleted(job: ImportJob, at: datetime) -> ImportJob:
    """The job recording that its file was deleted at ``at``."""
    return attrs.evolve(job, config={**job.config, FILE_DELETED_AT: at.isoformat()})


def file_gone(job: ImportJob) -> Gone | None:
    """The 410 for a request that needs the job's file, once the sweep deleted it (None while
    the file is kept): when, how long after the job finished, and what to do instead."""
    deleted = file_deleted_at(job)
    if deleted is None:
        return None
    kept = ""
    if job.completed_at is not None:
        days = (deleted - job.completed_at).days
        kept = f", {days} day{'' if days == 1 else 's'} after it finished"
    return Gone(
        f"The file of this import was deleted on {deleted.date().isoformat()}{kept} "
        "(FITDATA_IMPORT_FILE_RETENTION_DAYS). Upload the file again to re-import it.",
        code="IMPORT_FILE_DELETED",
    )
