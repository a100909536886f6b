"""The retention rule of stored CSV import files: which jobs are due at an as-of time, and
what a job says once its file is gone (the core alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from fitdata_core.errors import Gone, InvalidInput
from fitdata_core.model.jobs import ImportJob, ImportSource, ImportStatus
from fitdata_core.rules.import_retention import (
    FINISHED_IMPORT_STATUSES,
    file_deleted_at,
    file_due_for_deletion,
    file_gone,
    finished_before,
    with_file_deleted,
)
from support import builders

FINISHED = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DAYS_30 = timedelta(days=30)


def csv_job(
    job_id: str = "j1",
    *,
    status: ImportStatus = ImportStatus.COMPLETED,
    completed_at: datetime | None = FINISHED,
    source: ImportSource = ImportSource.CSV,
) -> ImportJob:
    return builders.finished_csv_job(
        job_id, completed_at=completed_at, status=status, source=source
    )


# --- the rule -----------------------------------------------------------------------------


def test_a_file_is_kept_exactly_the_retention_and_due_the_moment_after() -> None:
    job = csv_job()
    assert not file_due_for_deletion(job, FINISHED + DAYS_30 - timedelta(days=1), DAYS_30)
    assert not file_due_for_deletion(job, FINISHED + DAYS_30, DAYS_30)
    assert file_due_for_deletion(job, FINISHED + DAYS_30 + timedelta(microseconds=1), DAYS_30)
    # The retention decides, not a constant: seven days keep it a week.
    assert file_due_for_deletion(job, FINISHED + timedelta(days=8), timedelta(days=7))
    assert not file_due_for_deletion(job, FINISHED + timedelta(days=8), timedelta(days=9))


@pytest.mark.parametrize("status", sorted(FINISHED_IMPORT_STATUSES))
def test_every_finished_status_is_swept(status: ImportStatus) -> None:
    assert file_due_for_deletion(csv_job(status=status), FINISHED + timedelta(days=31), DAYS_30)


@pytest.mark.parametrize("status", [ImportStatus.PENDING, ImportStatus.IN_PROGRESS])
def test_a_pending_or_running_job_is_never_swept_however_old(status: ImportStatus) -> None:
    job = csv_job(status=status)
    assert not file_due_for_deletion(job, FINISHED + timedelta(days=3650), DAYS_30)
    assert not file_due_for_deletion(
        csv_job(status=status, completed_at=None), FINISHED + timedelta(days=3650), DAYS_30
    )


def test_only_a_csv_job_with_a_file_still_there_is_due() -> None:
    late = FINISHED + timedelta(days=60)
    assert not file_due_for_deletion(csv_job(source=ImportSource.ARBOX), late, DAYS_30)
    no_file = attrs.evolve(csv_job(), config={"source": "csv", "confirmed": True})
    assert not file_due_for_deletion(no_file, late, DAYS_30)
    assert not file_due_for_deletion(csv_job(completed_at=None), late, DAYS_30)
    deleted = with_file_deleted(csv_job(), FINISHED + timedelta(days=31))
    assert not file_due_for_deletion(deleted, late, DAYS_30)


def test_a_deleted_file_is_recorded_and_answers_gone_with_when_and_what_to_do() -> None:
    job = csv_job()
    assert file_gone(job) is None
    at = FINISHED + timedelta(days=31, hours=2)
    deleted = with_file_deleted(job, at)
    assert deleted.config["fileDeletedAt"] == "2026-02-10T14:00:00+00:00"
    assert file_deleted_at(deleted) == at
    assert deleted.config["file"] == job.config["file"]  # every other key kept
    gone = file_gone(deleted)
    assert isinstance(gone, Gone)
    assert gone.code == "IMPORT_FILE_DELETED"
    assert str(gone) == (
        "The file of this import was deleted on 2026-02-10, 31 days after it finished "
        "(FITDATA_IMPORT_FILE_RETENTION_DAYS). Upload the file again to re-import it."
    )


def test_an_as_of_time_before_the_calendar_allows_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="too early to sweep with a retention of 30 days"):
        finished_before(datetime(1, 1, 5, tzinfo=UTC), DAYS_30)
    assert finished_before(FINISHED, DAYS_30) == datetime(2025, 12, 11, 12, 0, tzinfo=UTC)
