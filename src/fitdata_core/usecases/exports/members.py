"""Members CSV export: requested over HTTP, built by a worker, emailed when ready.

The request inserts a pending :class:`~fitdata_core.model.jobs.ExportJob` and its outbox message
in one unit of work, so the job is queued if and only if it exists. The worker
(:func:`process_member_export`) streams the members straight from the database through the CSV
encoder into object storage: no step holds the whole file, so memory stays flat however many
members the gym has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

from fitdata_core.access import Action, may
from fitdata_core.errors import (
    DatabaseUnavailable,
    FitdataError,
    InvalidInput,
    RateLimited,
    StorageUnavailable,
    Unavailable,
)
from fitdata_core.job_names import EXPORT_MEMBERS
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.ports.infrastructure import EmailMessage, StoredObject
from fitdata_core.rules.csv_format import csv_preamble
from fitdata_core.rules.export_fields import MemberExportRequest, member_export_request
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize

MEMBERS_EXPORT_KIND = "members"
DOWNLOAD_LINK_TTL = timedelta(hours=1)
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
RATE_LIMIT_WINDOW_SECONDS = 60
STREAM_BATCH_SIZE = 2000

# What the owner reads in the jobs list when an export fails. Never the exception text: it
# may carry SQL, hostnames or keys.
MESSAGE_DATABASE = "The database was unavailable while the export ran; please try again."
MESSAGE_STORAGE = "The export file could not be stored; please try again."
MESSAGE_CONFIG = "The export request is no longer valid; please request a new export."
MESSAGE_UNEXPECTED = "The export failed unexpectedly; please try again."
MESSAGE_RIGHT_LOST = (
    "The export was not sent: the person who requested it may no longer export this "
    "organization's data."
)


def export_file_key(org_id: str, job_id: str) -> str:
    """Where an export's CSV lives in object storage."""
    return f"exports/{org_id}/{job_id}.csv"


def export_download_name(job: ExportJob) -> str:
    """The file name a browser saves the download as."""
    return f"members-export-{job.created_at:%Y-%m-%d}.csv"


async def request_member_export(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    roles: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    client_ip: str,
) -> str:
    """Queue a members export and return the new job's id.

    Order of checks: the caller's role (``PermissionDenied`` "Only owners and admins can export
    data."; ``NotFound`` for an unknown org), then the request (``InvalidInput`` with ``field``
    ``roles``, ``statuses`` or ``fields``), then the rate limit (``RateLimited`` with
    ``retry_after``), counted per caller in the org and per client address. Counting comes
    last so a refused request spends nobody's budget: a stranger cannot use up an owner's
    exports. The job and its ``export_members`` outbox message are written in one unit of work.
    """
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.EXPORT)
        request = member_export_request(roles=roles, statuses=statuses, fields=fields)
        await _count_export_request(svc, actor, org_id, client_ip)
        job = ExportJob(
            id=svc.ids.new_id(),
            organization_id=org_id,
            kind=MEMBERS_EXPORT_KIND,
            status=ExportStatus.PENDING,
            config=request.to_config(),
            started_by=actor.user_id,
            created_at=svc.clock.now(),
        )
        await uow.export_jobs.add(job)
        await uow.outbox.add(svc.job(EXPORT_MEMBERS, job_id=job.id))
        await uow.commit()
    return job.id


async def _count_export_request(svc: Services, actor: Actor, org_id: str, client_ip: str) -> None:
    """Spend one export from the caller's budget in the org and from the address's; refuse
    (``RateLimited``) when either is used up. The caller's own budget means a client that
    varies its address (through a proxy, or many machines) still gets ``limit`` a minute; the
    address's budget bounds what one machine does with many accounts."""
    limit = svc.exports.rate_limit_per_minute
    for key in (f"export:user:{org_id}:{actor.user_id}", f"export:ip:{client_ip}"):
        verdict = await svc.rate_limiter.hit(
            key, limit=limit, window_seconds=RATE_LIMIT_WINDOW_SECONDS
        )
        if not verdict.allowed:
            raise RateLimited(
                f"Too many export requests; try again in {verdict.retry_after} seconds.",
                retry_after=verdict.retry_after,
            )


class _Counter:
    """Counts the member rows streaming past on their way to storage.

    It also remembers an error raised while reading rows: the storage adapter sees that error
    come out of the stream it consumes and may wrap it, but the owner should hear that the
    database failed, not the store.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.source_error: Exception | None = None

    async def chunks(
        self, header: Sequence[str], pieces: AsyncIterator[tuple[int, bytes]]
    ) -> AsyncIterator[bytes]:
        """The file: BOM and header, then each piece of CSV rows."""
        yield csv_preamble(header)
        try:
            async for count, data in pieces:
                self.rows += count
                yield data
        except Exception as exc:
            self.source_error = exc
            raise


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, DatabaseUnavailable):
        return MESSAGE_DATABASE
    if isinstance(exc, StorageUnavailable):
        return MESSAGE_STORAGE
    if isinstance(exc, InvalidInput):
        return MESSAGE_CONFIG
    return MESSAGE_UNEXPECTED


async def process_member_export(svc: Services, *, job_id: str) -> ExportJob | None:
    """Build the CSV for export job ``job_id``, store it, and email the requester a link.

    The worker handler for ``export_members``. Safe under at-least-once delivery: a job that is
    not pending (already running, done or failed) is returned untouched, as is ``None`` for an
    unknown job. Returns the job as it ends.

    A failure while reading members or storing the file marks the job failed with a message a
    person can act on, and removes any partial file; the cause goes to ``svc.errors``. The
    requester's right to export (an active owner or admin membership) is checked again once the
    file is stored: without it the job fails with :data:`MESSAGE_RIGHT_LOST`, the file is
    deleted and no link is signed or sent. A failed
    email leaves the job completed (the link is served again by :func:`get_export_job`) and
    reports a warning.
    """
    async with svc.uow() as uow:
        job = await uow.export_jobs.get(job_id)
        if job is None:
            svc.errors.capture_message("Export job to process does not exist.", job_id=job_id)
            return None
        if job.status is not ExportStatus.PENDING:
            return job
        job, _ = job.start(svc.clock.now())
        await uow.export_jobs.update(job)
        await uow.commit()

    key = export_file_key(job.organization_id, job.id)
    counter: _Counter | None = None
    try:
        request = MemberExportRequest.from_config(job.config)
        counter = _Counter()
        stored = await _write_csv(svc, job, request, counter, key)
    except Exception as exc:  # every failure must end the job, not leave it in progress
        cause = counter.source_error if counter is not None and counter.source_error else exc
        return await _fail(svc, job, key, cause)

    async with svc.uow() as uow:
        current = await uow.export_jobs.get(job.id)
        if current is None or current.status is not ExportStatus.IN_PROGRESS:
            # The stuck-job sweep gave up on this run while it was still going: its verdict
            # stands, and a file nobody will be told about must not linger.
            await _discard(svc, current or job, key)
            return current
        # The right to export is checked again here, right before a link is signed and
        # mailed: a requester suspended or demoted while the export ran must not get the file.
        membership = await uow.memberships.get(job.organization_id, job.started_by)
        requester = await uow.users.get(job.started_by)
        if requester is None or not may(membership, Action.EXPORT):
            job, _ = job.fail(svc.clock.now(), MESSAGE_RIGHT_LOST)
            await uow.export_jobs.update(job)
            await uow.commit()
            svc.errors.capture_message(
                "Export requester lost the right to export; no link sent.",
                job_id=job.id,
                org_id=job.organization_id,
            )
            await _discard(svc, job, key)
            return job
        job, _ = job.complete(
            svc.clock.now(), row_count=counter.rows, file_size=stored.size, file_key=key
        )
        await uow.export_jobs.update(job)
        org = await uow.organizations.get(job.organization_id)
        await uow.commit()

    await _email_link(svc, job, key, requester.email, org.name if org else None)
    return job


async def _write_csv(
    svc: Services,
    job: ExportJob,
    request: MemberExportRequest,
    counter: _Counter,
    key: str,
) -> StoredObject:
    # The unit of work stays open while rows stream: the cursor lives in its transaction.
    # The rows arrive as CSV text in the csv_format rules, batch by batch (written by the
    # database where it can): building domain objects, or even encoding cell by cell in
    # Python, would make a million-row export far slower than the database's own CSV export.
    async with svc.uow(read_only=True) as uow:
        pieces = uow.member_csv.stream_member_csv(
            job.organization_id,
            request.member_filter,
            request.attributes,
            batch_size=STREAM_BATCH_SIZE,
        )
        try:
            chunks = counter.chunks(request.header, pieces)
            return await svc.storage.put_stream(key, chunks, content_type=CSV_CONTENT_TYPE)
        finally:
            # If the store gave up early, the row stream is still open: close it before the
            # unit of work ends (a database cursor must not outlive its transaction).
            await _close_stream(svc, job, pieces)


async def _close_stream(svc: Services, job: ExportJob, stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception as exc:  # the failure that got us here matters more
        svc.errors.capture_message(
            f"Could not close the export's row stream: {type(exc).__name__}",
            job_id=job.id,
            org_id=job.organization_id,
        )


async def _fail(svc: Services, job: ExportJob, key: str, exc: Exception) -> ExportJob:
    message = _failure_message(exc)
    context = {"job_id": job.id, "org_id": job.organization_id}
    if isinstance(exc, Unavailable):
        svc.errors.capture_message(f"Export failed: {type(exc).__name__}", level="error", **context)
    else:
        svc.errors.capture_exception(exc, **context)
    # put_stream promises no object after a failure; deleting anyway costs nothing and
    # covers a store that broke that promise.
    await _discard(svc, job, key)
    async with svc.uow() as uow:
        failed, _ = job.fail(svc.clock.now(), message)
        await uow.export_jobs.update(failed)
        await uow.commit()
    return failed


async def _discard(svc: Services, job: ExportJob, key: str) -> None:
    try:
        await svc.storage.delete(key)
    except FitdataError as cleanup_error:
        svc.errors.capture_message(
            f"Could not delete a partial export file: {type(cleanup_error).__name__}",
            key=key,
            job_id=job.id,
            org_id=job.organization_id,
        )


async def _email_link(
    svc: Services, job: ExportJob, key: str, to: str, org_name: str | None
) -> None:
    try:
        url = await svc.storage.signed_url(
            key, expires_in=DOWNLOAD_LINK_TTL, download_name=export_download_name(job)
        )
        await svc.mailer.send(_ready_email(job, to, url, org_name))
    except Exception as exc:  # the export succeeded; a lost email must not undo that
        svc.errors.capture_message(
            f"sendExportEmail failed: {type(exc).__name__}",
            level="warning",
            job_id=job.id,
            org_id=job.organization_id,
        )


def _ready_email(job: ExportJob, to: str, url: str, org_name: str | None) -> EmailMessage:
    minutes = int(DOWNLOAD_LINK_TTL.total_seconds() // 60)
    rows = job.row_count or 0
    of_org = f" of {org_name}" if org_name else ""
    text = (
        f"Your members export{of_org} is ready.\n\n"
        f"It holds {rows} member{'s' if rows != 1 else ''}. Download it here "
        f"(the link works for {minutes} minutes):\n\n{url}\n\n"
        "After that, open the export in the dashboard to get a fresh link.\n"
    )
    return EmailMessage(to=to, subject="Your export is ready", text=text)


__all__ = [
    "DOWNLOAD_LINK_TTL",
    "MESSAGE_RIGHT_LOST",
    "export_download_name",
    "export_file_key",
    "process_member_export",
    "request_member_export",
]
