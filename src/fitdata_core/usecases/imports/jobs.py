"""Starting, following, cancelling and undoing imports (what the HTTP API and CLI call).

At most one import per organization is active (pending or in progress) at a time: the check
here answers 409 "Active import already exists", and the repository enforces it again under
concurrent requests (a unique index on Postgres and SQLite). The job and its first
``import_run`` message are written in one unit of work (transactional outbox).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import Conflict, InvalidInput, NotFound, RateLimited
from fitdata_core.job_names import IMPORT_RUN
from fitdata_core.model.catalog import Lead
from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus
from fitdata_core.paging import decode_time_cursor, encode_time_cursor, with_next_cursor
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.ports.repositories import Page
from fitdata_core.rules.import_merge import RowChange
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize
from fitdata_core.usecases.imports.credentials import (
    has_inline_credentials,
    resolve_source_credentials,
)
from fitdata_core.usecases.imports.engine import job_credentials_context
from fitdata_core.usecases.imports.member_fields import written_member_fields
from fitdata_core.usecases.imports.undo import UndoReport, undo_changes
from fitdata_core.usecases.members import check_paging

ACTIVE_IMPORT_MESSAGE = "Active import already exists"
RATE_LIMIT_WINDOW_SECONDS = 60


@attrs.frozen(repr=False)
class ImportRequest:
    """A validated import request (the spec's ImportConfigDto plus ``dryRun``/``enrich``).
    ``credentials`` are one-off and secret: ``repr`` leaves them out."""

    source: ImportSource = ImportSource.ARBOX
    plans: bool = True
    members: bool = True
    leads: bool = False
    credentials: SourceCredentials | None = None
    #: The request's ``memberFields`` flags (see :mod:`.member_fields`); None: every field.
    member_fields: Mapping[str, Any] | None = None
    email_whitelist: tuple[str, ...] | None = None
    dry_run: bool = False
    enrich: bool = True

    def __repr__(self) -> str:
        return (
            f"ImportRequest(source={self.source.value!r}, plans={self.plans}, "
            f"members={self.members}, leads={self.leads}, dry_run={self.dry_run})"
        )

    def config(self) -> dict[str, Any]:
        """What the job keeps of the request (never the credentials)."""
        config: dict[str, Any] = {
            "source": self.source.value,
            "entities": {"plans": self.plans, "members": self.members, "leads": self.leads},
        }
        if self.member_fields is not None:
            config["memberFields"] = list(written_member_fields(self.member_fields))
        if self.email_whitelist is not None:
            config["emailWhitelist"] = sorted({e.strip().lower() for e in self.email_whitelist})
        return config


async def check_import_rate_limit(svc: Services, org_id: str) -> None:
    """429 once the org made too many import requests this minute (503 if Redis is down)."""
    limit = svc.imports.rate_limit_per_minute
    verdict = await svc.rate_limiter.hit(
        f"import:{org_id}", limit=limit, window_seconds=RATE_LIMIT_WINDOW_SECONDS
    )
    if not verdict.allowed:
        raise RateLimited(
            f"Too many import requests; try again in {verdict.retry_after} seconds.",
            retry_after=verdict.retry_after,
        )


async def start_import(svc: Services, actor: Actor, org_id: str, request: ImportRequest) -> str:
    """Queue an import and return its job id.

    Checks, in order: the caller may import (403 "Only owners and admins can import data."),
    the request names something to import, there are credentials (the request's, else the
    stored ones; 400 when none), no other import of the org is active (409), and the rate
    limit (which also answers 503 when the shared limiter's Redis is down).
    """
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
    if request.source is not ImportSource.ARBOX:
        raise InvalidInput(
            'source must be "arbox" (CSV files go through /import/csv).', field="source"
        )
    if not (request.plans or request.members or request.leads):
        raise InvalidInput("entities must ask for members, plans or leads.", field="entities")
    if request.member_fields is not None:
        written_member_fields(request.member_fields)  # 400 naming the allowed fields
    credentials = await resolve_source_credentials(svc, org_id, request.credentials)
    await check_import_rate_limit(svc, org_id)
    now = svc.clock.now()
    job = ImportJob(
        id=svc.ids.new_id(),
        organization_id=org_id,
        source=request.source,
        status=ImportStatus.PENDING,
        phase=ImportPhase.QUEUED,
        config=request.config(),
        started_by=actor.user_id,
        created_at=now,
        dry_run=request.dry_run,
        enrich=request.enrich,
        # Until the first message claims it; the take-over sweep wakes it after that.
        lease_until=now + svc.imports.lease,
    )
    if has_inline_credentials(request.credentials):
        sealed = svc.cipher.encrypt(
            json.dumps(
                {
                    "apiKey": credentials.api_key,
                    "email": credentials.email,
                    "password": credentials.password,
                }
            ).encode(),
            context=job_credentials_context(job.id),
        )
        job = attrs.evolve(job, credentials_key_id=sealed.key_id, credentials_sealed=sealed.blob)
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        if await uow.import_jobs.find_active(org_id):
            raise Conflict(ACTIVE_IMPORT_MESSAGE, code="IMPORT_ACTIVE")
        try:
            await uow.import_jobs.add(job)
        except Conflict as exc:
            raise Conflict(ACTIVE_IMPORT_MESSAGE, code="IMPORT_ACTIVE") from exc
        await uow.outbox.add(svc.job(IMPORT_RUN, job_id=job.id))
        await uow.commit()
    return job.id


async def list_import_jobs(
    svc: Services,
    actor: Actor,
    org_id: str,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[ImportJob]:
    """The organization's import jobs, newest first. Owners and admins only.

    Paged by ``offset`` (with a total) or by ``cursor`` (a previous page's ``next_cursor``,
    no total), like :func:`fitdata_core.usecases.members.list_members`.
    """
    check_paging(limit, offset, cursor)
    after = decode_time_cursor(cursor) if cursor is not None else None
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        page = await uow.import_jobs.list_for_org(
            org_id, limit=limit + 1, offset=offset, after=after
        )
    return with_next_cursor(page, limit, lambda job: encode_time_cursor(job.created_at, job.id))


async def get_import_job(svc: Services, actor: Actor, org_id: str, job_id: str) -> ImportJob:
    """One import job of ``org_id``; ``NotFound`` for an unknown or another org's job."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        job = await uow.import_jobs.get(job_id)
    if job is None or job.organization_id != org_id:
        raise NotFound(f"Import job {job_id} not found.")
    return job


async def cancel_import(svc: Services, actor: Actor, org_id: str, job_id: str) -> ImportJob:
    """Cancel a pending job at once, or ask a running one to stop before its next batch.
    409 for a job that already ended."""
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        job = await uow.import_jobs.get_for_update(job_id)
        if job is None or job.organization_id != org_id:
            raise NotFound(f"Import job {job_id} not found.")
        job, _ = job.request_cancel(svc.clock.now())
        await uow.import_jobs.update(job)
        if job.status is ImportStatus.CANCELLED:
            await uow.imports.drop_staged(job.id)
        await uow.commit()
    return job


async def undo_import(svc: Services, actor: Actor, org_id: str, job_id: str) -> UndoReport:
    """Revert a completed import (see :func:`~fitdata_core.usecases.imports.undo.undo_changes`).
    409 unless the job completed for real (not a dry run) and was not undone already."""
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        job = await uow.import_jobs.get_for_update(job_id)
        if job is None or job.organization_id != org_id:
            raise NotFound(f"Import job {job_id} not found.")
        job, _ = job.mark_undone(svc.clock.now())
        changes: Sequence[RowChange] = await uow.imports.changes(job.id)
        report = await undo_changes(uow, org_id, changes)
        await uow.import_jobs.update(job)
        await uow.commit()
    return report


async def list_leads(
    svc: Services,
    actor: Actor,
    org_id: str,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[Lead]:
    """The organization's leads, oldest first (owners, admins and coaches).

    Paged by ``offset`` (with a total) or by ``cursor`` (a previous page's ``next_cursor``,
    no total), like :func:`fitdata_core.usecases.members.list_members`.
    """
    check_paging(limit, offset, cursor)
    after = decode_time_cursor(cursor) if cursor is not None else None
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.READ_MEMBERS)
        page = await uow.leads.list_page(org_id, limit=limit + 1, offset=offset, after=after)
    return with_next_cursor(page, limit, lambda lead: encode_time_cursor(lead.created_at, lead.id))


__all__ = [
    "ACTIVE_IMPORT_MESSAGE",
    "RATE_LIMIT_WINDOW_SECONDS",
    "ImportRequest",
    "cancel_import",
    "check_import_rate_limit",
    "get_import_job",
    "list_import_jobs",
    "list_leads",
    "start_import",
    "undo_import",
]
