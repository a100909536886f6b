"""Looking at export jobs: the list, and one job with a fresh download link."""

from __future__ import annotations

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import NotFound
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.paging import decode_time_cursor, encode_time_cursor, with_next_cursor
from fitdata_core.ports.repositories import Page
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize
from fitdata_core.usecases.exports.members import DOWNLOAD_LINK_TTL, export_download_name
from fitdata_core.usecases.members import check_paging

__all__ = [
    "ExportJobView",
    "get_export_job",
    "list_export_jobs",
]


@attrs.frozen
class ExportJobView:
    """An export job as its owner sees it; ``download_url`` is set once it completed."""

    job: ExportJob
    download_url: str | None = None


async def list_export_jobs(
    svc: Services,
    actor: Actor,
    org_id: str,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[ExportJob]:
    """The organization's export jobs, newest first. Owners and admins only.

    Paged by ``offset`` (with a total) or by ``cursor`` (a previous page's ``next_cursor``,
    no total), like :func:`fitdata_core.usecases.members.list_members`.
    """
    check_paging(limit, offset, cursor)
    after = decode_time_cursor(cursor) if cursor is not None else None
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.EXPORT)
        page = await uow.export_jobs.list_for_org(
            org_id, limit=limit + 1, offset=offset, after=after
        )
    return with_next_cursor(page, limit, lambda job: encode_time_cursor(job.created_at, job.id))


async def get_export_job(svc: Services, actor: Actor, org_id: str, job_id: str) -> ExportJobView:
    """One export job of ``org_id``; ``NotFound`` if there is none (or it is another org's).

    A completed job comes with a download link signed now and valid for an hour, however
    long ago the export ran, so a link that expired in the email is never a dead end.
    """
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.EXPORT)
        job = await uow.export_jobs.get(job_id)
    if job is None or job.organization_id != org_id:
        raise NotFound(f"Export job {job_id} not found.")
    if job.status is not ExportStatus.COMPLETED or job.file_key is None:
        return ExportJobView(job)
    url = await svc.storage.signed_url(
        job.file_key, expires_in=DOWNLOAD_LINK_TTL, download_name=export_download_name(job)
    )
    return ExportJobView(job, url)
