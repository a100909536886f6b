"""Export and import jobs and their state machines.

Each transition method returns ``(new_job, events)``; an illegal move raises
:class:`~fitdata_core.errors.IllegalTransition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import IllegalTransition
from fitdata_core.events import DomainEvent
from fitdata_core.model.imports import ImportReport
from fitdata_core.statemachine import TransitionTable

__all__ = [
    "ACTIVE_IMPORT_STATUSES",
    "EXPORT_TRANSITIONS",
    "IMPORT_TRANSITIONS",
    "ExportJob",
    "ExportStatus",
    "ImportJob",
    "ImportPhase",
    "ImportProviderConfig",
    "ImportSource",
    "ImportStatus",
]


class ExportStatus(StrEnum):
    """Where an export job is; the allowed moves are in its transition table."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


EXPORT_TRANSITIONS = TransitionTable[ExportStatus](
    "export job",
    {
        ExportStatus.PENDING: frozenset({ExportStatus.IN_PROGRESS, ExportStatus.FAILED}),
        ExportStatus.IN_PROGRESS: frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED}),
    },
)


@attrs.frozen
class ExportJob:
    """One asynchronous export (members CSV): who asked, what, and the file it produced."""

    id: str
    organization_id: str
    kind: str
    status: ExportStatus
    config: dict[str, Any]
    started_by: str
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    row_count: int | None = None
    file_size: int | None = None
    file_key: str | None = None
    error_message: str | None = None
    # When the last queue message for this job was written (None: with the job, at
    # ``created_at``) and how many were written in all.
    dispatched_at: datetime | None = None
    dispatches: int = 1

    def _event(self, name: str, at: datetime, **data: Any) -> DomainEvent:
        return DomainEvent(name, "export_job", self.id, at, data)

    @property
    def last_dispatched_at(self) -> datetime:
        return self.dispatched_at or self.created_at

    def redispatch(self, at: datetime) -> tuple[ExportJob, list[DomainEvent]]:
        """A new queue message for a job still waiting for a worker (the last one was lost).

        Only a pending job is sent again; it stays pending.
        """
        if self.status is not ExportStatus.PENDING:
            raise IllegalTransition("export job", self.status.value, ExportStatus.PENDING.value)
        job = attrs.evolve(self, dispatched_at=at, dispatches=self.dispatches + 1)
        return job, [self._event("export.redispatched", at, dispatches=job.dispatches)]

    def start(self, at: datetime) -> tuple[ExportJob, list[DomainEvent]]:
        EXPORT_TRANSITIONS.check(self.status, ExportStatus.IN_PROGRESS)
        job = attrs.evolve(self, status=ExportStatus.IN_PROGRESS, started_at=at)
        return job, [self._event("export.started", at)]

    def complete(
        self, at: datetime, *, row_count: int, file_size: int, file_key: str
    ) -> tuple[ExportJob, list[DomainEvent]]:
        EXPORT_TRANSITIONS.check(self.status, ExportStatus.COMPLETED)
        job = attrs.evolve(
            self,
            status=ExportStatus.COMPLETED,
            completed_at=at,
            row_count=row_count,
            file_size=file_size,
            file_key=file_key,
        )
        return job, [self._event("export.completed", at, row_count=row_count)]

    def fail(self, at: datetime, message: str) -> tuple[ExportJob, list[DomainEvent]]:
        EXPORT_TRANSITIONS.check(self.status, ExportStatus.FAILED)
        job = attrs.evolve(self, status=ExportStatus.FAILED, completed_at=at, error_message=message)
        return job, [self._event("export.failed", at, error=message)]


class ImportStatus(StrEnum):
    """Where an import job is; the allowed moves are in its transition table."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNDONE = "undone"  # a completed import whose changes were reverted


class ImportPhase(StrEnum):
    """The step a running import is at; phases only move forward."""

    QUEUED = "queued"
    PLANS = "plans"
    MEMBERS = "members"
    LEADS = "leads"
    ENRICH = "enrich"
    DONE = "done"


class ImportSource(StrEnum):
    """Where an import reads from: a provider (Arbox) or an uploaded CSV file."""

    ARBOX = "arbox"
    CSV = "csv"


IMPORT_TRANSITIONS = TransitionTable[ImportStatus](
    "import job",
    {
        ImportStatus.PENDING: frozenset(
            {ImportStatus.IN_PROGRESS, ImportStatus.CANCELLED, ImportStatus.FAILED}
        ),
        ImportStatus.IN_PROGRESS: frozenset(
            {ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED}
        ),
        ImportStatus.COMPLETED: frozenset({ImportStatus.UNDONE}),
    },
)

ACTIVE_IMPORT_STATUSES = frozenset({ImportStatus.PENDING, ImportStatus.IN_PROGRESS})


@attrs.frozen
class ImportJob:
    """One import of an organization's data from a source.

    Besides its status (:data:`IMPORT_TRANSITIONS`) and phase (forward only, while it runs),
    a job carries what makes it durable: a *lease* (``lease_owner`` works on it until
    ``lease_until``; anyone may take it over after that) and a *checkpoint* (named counters
    of finished work, e.g. ``members.applied``), written in the same transaction as the
    batch they count, so a take-over resumes after the last finished batch.
    ``report`` holds the counts, progress and row problems.
    """

    id: str
    organization_id: str
    source: ImportSource
    status: ImportStatus
    phase: ImportPhase
    config: dict[str, Any]
    started_by: str
    created_at: datetime
    report: ImportReport = attrs.field(factory=ImportReport)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    dry_run: bool = False
    enrich: bool = True
    lease_owner: str | None = None
    lease_until: datetime | None = None
    checkpoint: dict[str, int] = attrs.field(factory=dict)
    cancel_requested: bool = False
    undone_at: datetime | None = None
    #: One-off credentials given with the request, sealed for the job's own worker and
    #: erased when the job ends; never the org's stored credentials, never in responses.
    credentials_key_id: str | None = attrs.field(default=None, repr=False)
    credentials_sealed: bytes | None = attrs.field(default=None, repr=False)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_IMPORT_STATUSES

    @property
    def results(self) -> dict[str, Any]:
        """Counts per entity as plain dicts (``{"members": {"created": 3, ...}}``)."""
        return {k: v.to_dict() for k, v in self.report.results.items()}

    def _event(self, name: str, at: datetime, **data: Any) -> DomainEvent:
        return DomainEvent(name, "import_job", self.id, at, data)

    # --- status ---------------------------------------------------------------------------

    def start(self, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        IMPORT_TRANSITIONS.check(self.status, ImportStatus.IN_PROGRESS)
        job = attrs.evolve(self, status=ImportStatus.IN_PROGRESS, started_at=at)
        return job, [self._event("import.started", at)]

    def enter_phase(self, phase: ImportPhase, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        """Phases only move while the job runs, and only forward."""
        if self.status is not ImportStatus.IN_PROGRESS:
            raise IllegalTransition("import phase", self.status.value, phase.value)
        order = list(ImportPhase)
        if order.index(phase) < order.index(self.phase):
            raise IllegalTransition("import phase", self.phase.value, phase.value)
        job = attrs.evolve(self, phase=phase)
        return job, [self._event("import.phase", at, phase=phase.value)]

    def with_report(self, report: ImportReport) -> ImportJob:
        return attrs.evolve(self, report=report)

    def record_batch(
        self, at: datetime, report: ImportReport, checkpoint: Mapping[str, int]
    ) -> tuple[ImportJob, list[DomainEvent]]:
        """A finished batch: the new report and checkpoint counters, only while running."""
        if self.status is not ImportStatus.IN_PROGRESS:
            raise IllegalTransition("import job", self.status.value, "batch")
        job = attrs.evolve(self, report=report, checkpoint={**self.checkpoint, **checkpoint})
        return job, [self._event("import.batch", at, phase=self.phase.value, **checkpoint)]

    def complete(self, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        IMPORT_TRANSITIONS.check(self.status, ImportStatus.COMPLETED)
        job = attrs.evolve(
            self,
            status=ImportStatus.COMPLETED,
            phase=ImportPhase.DONE,
            completed_at=at,
            lease_owner=None,
            lease_until=None,
            credentials_key_id=None,
            credentials_sealed=None,
        )
        return job, [self._event("import.completed", at)]

    def fail(self, at: datetime, message: str) -> tuple[ImportJob, list[DomainEvent]]:
        IMPORT_TRANSITIONS.check(self.status, ImportStatus.FAILED)
        job = attrs.evolve(
            self,
            status=ImportStatus.FAILED,
            completed_at=at,
            error_message=message,
            lease_owner=None,
            lease_until=None,
            credentials_key_id=None,
            credentials_sealed=None,
        )
        return job, [self._event("import.failed", at, error=message)]

    def cancel(self, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        IMPORT_TRANSITIONS.check(self.status, ImportStatus.CANCELLED)
        job = attrs.evolve(
            self,
            status=ImportStatus.CANCELLED,
            completed_at=at,
            lease_owner=None,
            lease_until=None,
            credentials_key_id=None,
            credentials_sealed=None,
        )
        return job, [self._event("import.cancelled", at)]

    def request_cancel(self, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        """The owner's cancel: a pending job is cancelled at once; a running one is marked,
        and its worker stops before the next batch (what landed stays)."""
        if self.status is ImportStatus.PENDING:
            return self.cancel(at)
        if self.status is not ImportStatus.IN_PROGRESS:
            raise IllegalTransition("import job", self.status.value, ImportStatus.CANCELLED.value)
        job = attrs.evolve(self, cancel_requested=True)
        return job, [self._event("import.cancel_requested", at)]

    def mark_undone(self, at: datetime) -> tuple[ImportJob, list[DomainEvent]]:
        """A completed, real (not dry-run) import whose changes were reverted."""
        if self.dry_run:
            raise IllegalTransition("import job", "dry run", ImportStatus.UNDONE.value)
        IMPORT_TRANSITIONS.check(self.status, ImportStatus.UNDONE)
        job = attrs.evolve(self, status=ImportStatus.UNDONE, undone_at=at)
        return job, [self._event("import.undone", at)]

    # --- lease ----------------------------------------------------------------------------

    def lease_free_for(self, owner: str, now: datetime) -> bool:
        """Whether ``owner`` may work on the job now: nobody holds it, it is ``owner``'s,
        or the holder's lease ended."""
        return (
            self.lease_owner is None
            or self.lease_owner == owner
            or self.lease_until is None
            or self.lease_until <= now
        )

    def take_lease(self, owner: str, now: datetime, until: datetime) -> ImportJob:
        """``owner`` holds the job until ``until`` (renewing is taking it again)."""
        if not self.is_active:
            raise IllegalTransition("import job", self.status.value, "leased")
        if not self.lease_free_for(owner, now):
            raise IllegalTransition("import lease", str(self.lease_owner), owner)
        return attrs.evolve(self, lease_owner=owner, lease_until=until)

    def hand_off(self, until: datetime) -> ImportJob:
        """Let go of the job, expecting a continuation to take it before ``until``; after
        that the take-over sweep wakes it again."""
        if not self.is_active:
            raise IllegalTransition("import job", self.status.value, "handed off")
        return attrs.evolve(self, lease_owner=None, lease_until=until)


@attrs.frozen
class ImportProviderConfig:
    """Stored credentials for an import provider. ``credentials`` is ciphertext only."""

    id: str
    organization_id: str
    provider: str
    credentials_encrypted: bytes
    key_id: str
    is_active: bool
    created_at: datetime
    created_by: str | None = None

    def deactivate(self) -> ImportProviderConfig:
        return attrs.evolve(self, is_active=False)
