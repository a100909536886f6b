"""CSV and Excel imports: upload and preview, confirm, the rejects file, retry of failed rows.

The flow (the spec's "Imports — CSV"):

1. :func:`upload_csv` stores the file in object storage (never the database), reads it once
   for the preview (headers, suggested mapping, first rows as mapped values, detected format,
   warnings) and creates a *pending* CSV job waiting for confirmation. An earlier upload the
   owner never confirmed is cancelled (stale); any other active import of the org is a 409.
   The size cap counts bytes as they stream in, so an over-sized upload is refused before it
   is all read.
2. :func:`confirm_csv` checks the owner's mapping against the file's headers, remembers it for
   the next file with the same headers, and queues the job on the import engine (the same
   engine, steps and guarantees as an Arbox import; see ``csv_source``).
3. :func:`csv_rejects` streams the rows the job failed as CSV (UTF-8 with BOM, the file's own
   columns plus ``error``). It reads the stored file again and applies the same row checks,
   so it lists every failed row however many there are (the job's ``errors`` list is capped).
4. :func:`retry_failed` runs just the failed rows again as a new job, read from the stored file
   under the owner's corrected mapping (or the first one) and against the org's plans as they
   are now. Values fixed in the file itself come back as an upload of the corrected rejects
   file (same headers, so the confirmed mapping is suggested first).

Both read the stored file, which is kept for ``ImportPolicy.file_retention`` after the job
finished (see ``retention``); once deleted they answer 410 saying so.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any

import attrs

from fitdata_core.access import Action
from fitdata_core.errors import Conflict, InvalidInput, NotFound, Unavailable
from fitdata_core.job_names import IMPORT_RUN
from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus
from fitdata_core.ports.import_files import FileAnalysis
from fitdata_core.rules.csv_mapping import headers_fingerprint, validate_mapping
from fitdata_core.rules.csv_records import rejected
from fitdata_core.rules.import_retention import FILE_DELETED_AT, file_gone
from fitdata_core.services import Actor, Services
from fitdata_core.usecases.common import authorize
from fitdata_core.usecases.imports import csv_source
from fitdata_core.usecases.imports.jobs import ACTIVE_IMPORT_MESSAGE, check_import_rate_limit

__all__ = [
    "REJECTS_ERROR_COLUMN",
    "CsvUpload",
    "confirm_csv",
    "csv_rejects",
    "ensure_may_upload",
    "file_too_large",
    "retry_failed",
    "upload_csv",
]

REJECTS_ERROR_COLUMN = "error"
#: How many of the org's latest jobs are searched for a mapping confirmed for the same headers.
_REMEMBERED_JOBS = 100
_UTF8_BOM = "\ufeff"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
#: Config keys of a job its retry does not take over (the retry has a file of its own).
_NOT_INHERITED = frozenset({"suggestedMapping", FILE_DELETED_AT})


@attrs.frozen
class CsvUpload:
    """The upload's answer: the new job and what the file looks like (API names)."""

    job_id: str
    preview: Mapping[str, Any]


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def file_too_large(limit: int) -> InvalidInput:
    """The refusal of an upload over ``limit`` bytes (400), naming the limit."""
    return InvalidInput(
        f"File too large: the limit is {_megabytes(limit)} ({limit} bytes). "
        "Split the file and upload the parts one after the other.",
        field="file",
    )


async def _capped(chunks: AsyncIterable[bytes], limit: int | None) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if limit is not None and seen > limit:
            raise file_too_large(limit)
        yield chunk


def _extension(filename: str) -> str:
    return "xlsx" if filename.lower().endswith((".xlsx", ".xlsm")) else "csv"


def _key(org_id: str, job_id: str, filename: str) -> str:
    return f"imports/{org_id}/{job_id}/source.{_extension(filename)}"


def _fingerprints(headers: list[str]) -> set[str]:
    # A rejects file is the first file's columns plus ``error``: the same file to its owner,
    # whose confirmed mapping (and date orders) it should get back.
    found = {headers_fingerprint(headers)}
    if len(headers) > 1 and headers[-1].strip().lower() == REJECTS_ERROR_COLUMN:
        found.add(headers_fingerprint(headers[:-1]))
    return found


async def _remembered(
    svc: Services, org_id: str, headers: list[str]
) -> tuple[object, dict[str, str]]:
    """The mapping the org last confirmed for a file with these headers, or these without a
    rejects file's ``error`` column (None without), and the date orders that file's values
    proved (not the ones it only guessed)."""
    fingerprints = _fingerprints(headers)
    async with svc.uow(read_only=True) as uow:
        page = await uow.import_jobs.list_for_org(org_id, limit=_REMEMBERED_JOBS, offset=0)
    for job in page.items:
        config = job.config
        if (
            job.source is ImportSource.CSV
            and config.get("confirmed")
            and config.get("headersFingerprint") in fingerprints
        ):
            guessed = set(config.get("ambiguousDateColumns") or [])
            orders = {
                str(header): str(order)
                for header, order in dict(config.get("dateOrders") or {}).items()
                if header not in guessed
            }
            return config.get("columnMapping"), orders
    return None, {}


async def ensure_may_upload(svc: Services, actor: Actor, org_id: str) -> None:
    """409 when the org has an import that is confirmed or running (an upload still waiting
    for its confirmation does not count: a new upload replaces it)."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        active = await uow.import_jobs.find_active(org_id)
    if any(not csv_source.awaiting_confirmation(job) for job in active):
        raise Conflict(ACTIVE_IMPORT_MESSAGE, code="IMPORT_ACTIVE")


async def _store_and_read(
    svc: Services,
    org_id: str,
    job_id: str,
    *,
    filename: str,
    chunks: AsyncIterable[bytes],
    sheet: str | None,
    max_bytes: int | None,
) -> tuple[str, FileAnalysis]:
    key = _key(org_id, job_id, filename)
    await svc.storage.put_stream(
        key, _capped(chunks, max_bytes), content_type="application/octet-stream"
    )
    today = svc.clock.now().date()

    async def recall(headers: Sequence[str]) -> tuple[object, Mapping[str, str]]:
        # The preview rows and warnings follow the remembered mapping (and its proven date
        # orders: a rejects file may hold only dates like 03/04/1985), decided from one read.
        return await _remembered(svc, org_id, list(headers))

    try:
        found = await svc.import_files.analyse(
            key, filename=filename, sheet=sheet, today=today, recall=recall
        )
    except BaseException:
        await svc.storage.delete(key)
        raise
    return key, found


def _file_config(key: str, filename: str, sheet: str | None, found: FileAnalysis) -> dict[str, Any]:
    detected = found.answer.get("detected") or {}
    return {
        "file": {"key": key, "filename": filename, "sheet": detected.get("sheet") or sheet},
        "headers": list(found.headers),
        "headersFingerprint": headers_fingerprint(found.headers),
        "dateOrders": {h: o.value for h, o in found.date_orders.items()},
        "ambiguousDateColumns": list(found.answer.get("ambiguousDateColumns") or ()),
        "totalRows": found.answer.get("totalRows"),
    }


async def _add_job(svc: Services, actor: Actor, job: ImportJob, *, queue: bool) -> None:
    """Add ``job`` in one unit of work: stale unconfirmed uploads of the org cancelled, 409
    for any other active import, and (``queue``) its first engine message in the outbox."""
    now = svc.clock.now()
    replaced: list[str] = []
    async with svc.uow() as uow:
        await authorize(uow, actor, job.organization_id, Action.IMPORT)
        for found in await uow.import_jobs.find_active(job.organization_id):
            # Locked and read again: a confirm racing this upload either lands first (then
            # this is a 409) or waits and finds the job cancelled (its 409).
            other = await uow.import_jobs.get_for_update(found.id)
            if other is None or not other.is_active:
                continue
            if not csv_source.awaiting_confirmation(other):
                raise Conflict(ACTIVE_IMPORT_MESSAGE, code="IMPORT_ACTIVE")
            stale, _ = other.cancel(now)
            await uow.import_jobs.update(stale)
            replaced.append(str((other.config.get("file") or {}).get("key") or ""))
        try:
            await uow.import_jobs.add(job)
        except Conflict as exc:  # a concurrent upload won the org's one active slot
            raise Conflict(ACTIVE_IMPORT_MESSAGE, code="IMPORT_ACTIVE") from exc
        if queue:
            await uow.outbox.add(svc.job(IMPORT_RUN, job_id=job.id))
        await uow.commit()
    for key in filter(None, replaced):
        # A replaced upload was never confirmed: nothing will read its file again. A file
        # left behind (storage down) is harmless; the new upload stands.
        with contextlib.suppress(Unavailable):
            await svc.storage.delete(key)


async def upload_csv(
    svc: Services,
    actor: Actor,
    org_id: str,
    *,
    filename: str,
    chunks: AsyncIterable[bytes],
    sheet: str | None = None,
    max_bytes: int | None = None,
) -> CsvUpload:
    """Store and preview an uploaded file as a pending CSV job (see the module docstring).

    ``max_bytes``: the cap (None: none, the CLI). Answers 403 for a caller who may not
    import, 409 while another import is confirmed or running, 400 for a file that is too
    large, not text, not a real workbook, or has no data rows, or a ``sheet`` it lacks.
    """
    await ensure_may_upload(svc, actor, org_id)
    await check_import_rate_limit(svc, org_id)
    now = svc.clock.now()
    job_id = svc.ids.new_id()
    key, found = await _store_and_read(
        svc, org_id, job_id, filename=filename, chunks=chunks, sheet=sheet, max_bytes=max_bytes
    )
    config = {
        "source": ImportSource.CSV.value,
        **_file_config(key, filename, sheet, found),
        "suggestedMapping": found.answer.get("suggestedMapping"),
        "uploadedOn": now.date().isoformat(),
        "awaitingConfirmation": True,
    }
    job = ImportJob(
        id=job_id,
        organization_id=org_id,
        source=ImportSource.CSV,
        status=ImportStatus.PENDING,
        phase=ImportPhase.QUEUED,
        config=config,
        started_by=actor.user_id,
        created_at=now,
        enrich=False,
        # Unconfirmed, it waits this long; then the take-over sweep ends it as stale.
        lease_until=now + svc.imports.preview_lease,
    )
    try:
        await _add_job(svc, actor, job, queue=False)
    except BaseException:
        await svc.storage.delete(key)
        raise
    answer = {k: v for k, v in found.answer.items() if k != "ambiguousDateColumns"}
    return CsvUpload(job_id, answer)


def _entities(raw: Mapping[str, Any]) -> dict[str, bool]:
    entities = {name: bool(raw.get(name)) for name in ("members", "plans", "leads")}
    if not any(entities.values()):
        raise InvalidInput("entities must ask for members, plans or leads.", field="entities")
    return entities


async def _csv_job(uow: Any, org_id: str, job_id: str, *, for_update: bool) -> ImportJob:
    job = await (uow.import_jobs.get_for_update if for_update else uow.import_jobs.get)(job_id)
    if job is None or job.organization_id != org_id or job.source is not ImportSource.CSV:
        raise NotFound(f"CSV import job {job_id} not found.")
    assert isinstance(job, ImportJob)
    return job


async def confirm_csv(
    svc: Services,
    actor: Actor,
    org_id: str,
    job_id: str,
    *,
    column_mapping: object,
    entities: Mapping[str, Any],
    dry_run: bool = False,
) -> str:
    """Confirm an upload's mapping and queue its job on the engine; returns the job id.

    404 for an unknown job or another org's (or a job that is not a CSV upload), 409 unless
    it is pending its confirmation, 400 for a mapping naming unknown headers or fields, or
    leaving members without an email column (and the like, see ``validate_mapping``).
    """
    wanted = _entities(entities)
    now = svc.clock.now()
    async with svc.uow() as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        job = await _csv_job(uow, org_id, job_id, for_update=True)
        if not csv_source.awaiting_confirmation(job):
            state = "confirmed already" if job.config.get("confirmed") else job.status.value
            raise Conflict(
                f"CSV import job {job_id} is {state}; only an upload waiting for its "
                "confirmation can be confirmed. Upload the file again to start over.",
                code="IMPORT_NOT_PENDING",
            )
        mapping = validate_mapping(column_mapping, job.config.get("headers") or [], **wanted)
        config = {
            **job.config,
            "columnMapping": mapping.to_json(),
            "entities": wanted,
            "confirmed": True,
            "awaitingConfirmation": False,
        }
        job = attrs.evolve(job, config=config, dry_run=dry_run, lease_until=now + svc.imports.lease)
        await uow.import_jobs.update(job)
        await uow.outbox.add(svc.job(IMPORT_RUN, job_id=job.id))
        await uow.commit()
    return job.id


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


@attrs.define
class _Counter:
    rows: int = 0


async def _rejects_lines(
    svc: Services, job: ImportJob, counter: _Counter | None = None
) -> AsyncIterator[str]:
    headers = list(job.config.get("headers") or [])
    yield _UTF8_BOM + _csv_line([*headers, REJECTS_ERROR_COLUMN])
    entities = job.config.get("entities") or {}
    members, leads = bool(entities.get("members")), bool(entities.get("leads"))
    today = csv_source.today_of(job, svc.clock.now().date())
    async for page in csv_source.pages(svc, job, svc.imports.batch_size):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for record in page:
            errors = rejected(record, members=members, leads=leads, today=today)
            if errors:
                writer.writerow([*record.cells, "; ".join(p.reason for p in errors)])
                if counter is not None:
                    counter.rows += 1
        if out.tell():
            yield out.getvalue()


async def csv_rejects(
    svc: Services, actor: Actor, org_id: str, job_id: str
) -> AsyncIterator[bytes]:
    """The rows job ``job_id`` failed, as CSV bytes (see the module docstring). 404 for an
    unknown job or another org's, 409 for an Arbox job (it has no file) or an upload not
    confirmed yet (nothing ran), 410 once the file sweep deleted its file. Checks happen before
    the first byte is returned."""
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        job = await uow.import_jobs.get(job_id)
    if job is None or job.organization_id != org_id:
        raise NotFound(f"Import job {job_id} not found.")
    if job.source is not ImportSource.CSV:
        raise Conflict(
            "Rejects files are kept for CSV imports only; an Arbox job lists its failed rows "
            "in its errors.",
            code="IMPORT_NO_FILE",
        )
    if not job.config.get("confirmed"):
        raise Conflict(
            f"CSV import job {job_id} has not run: confirm its mapping first.",
            code="IMPORT_NOT_RUN",
        )
    gone = file_gone(job)
    if gone is not None:
        raise gone
    if not (job.config.get("file") or {}).get("key"):
        raise Conflict(
            f"CSV import job {job_id} kept no file to read its rejects from.",
            code="IMPORT_NO_FILE",
        )

    async def encoded() -> AsyncIterator[bytes]:
        async for text in _rejects_lines(svc, job):
            yield text.encode()

    return encoded()


async def retry_failed(
    svc: Services,
    actor: Actor,
    org_id: str,
    job_id: str,
    *,
    column_mapping: object = None,
    dry_run: bool | None = None,
) -> str:
    """Run again, as a new job, just the rows CSV job ``job_id`` failed: read from its stored
    file, under ``column_mapping`` (the owner's corrected mapping; default: the job's own) and
    against the org's plans as they are now. Returns the new job's id (queued at once).

    For values that must be fixed in the file itself, the owner downloads the rejects file,
    corrects it and uploads it like any file (its headers are the same, so the confirmed
    mapping is suggested again). 404 for an unknown job or another org's, 409 while it or
    another import is active or when it failed no row, 400 for a bad mapping, 410 once the
    file sweep deleted its file.
    """
    async with svc.uow(read_only=True) as uow:
        await authorize(uow, actor, org_id, Action.IMPORT)
        parent = await uow.import_jobs.get(job_id)
    if parent is None or parent.organization_id != org_id:
        raise NotFound(f"Import job {job_id} not found.")
    if parent.source is not ImportSource.CSV:
        raise Conflict(
            "Failed rows are retried for CSV imports only; run the Arbox import again instead.",
            code="IMPORT_NO_FILE",
        )
    if parent.is_active or not parent.config.get("confirmed"):
        raise Conflict(
            f"CSV import job {job_id} has not finished; retry its failed rows once it has.",
            code="IMPORT_NOT_FINISHED",
        )
    gone = file_gone(parent)
    if gone is not None:
        raise gone
    if not (parent.config.get("file") or {}).get("key"):
        raise Conflict(
            f"CSV import job {job_id} kept no file to read its failed rows from.",
            code="IMPORT_NO_FILE",
        )
    entities = dict(parent.config.get("entities") or {})
    headers = list(parent.config.get("headers") or [])
    mapping = validate_mapping(
        parent.config.get("columnMapping") if column_mapping is None else column_mapping,
        headers,
        members=bool(entities.get("members")),
        plans=bool(entities.get("plans")),
        leads=bool(entities.get("leads")),
    )
    await ensure_may_upload(svc, actor, org_id)
    await check_import_rate_limit(svc, org_id)
    now = svc.clock.now()
    new_id = svc.ids.new_id()
    key = _key(org_id, new_id, "rejects.csv")
    counter = _Counter()

    async def failed_rows() -> AsyncIterator[bytes]:
        async for text in _rejects_lines(svc, parent, counter):
            yield text.encode()

    await svc.storage.put_stream(key, failed_rows(), content_type=CSV_CONTENT_TYPE)
    rows = counter.rows
    try:
        if rows == 0:
            raise Conflict(
                f"CSV import job {job_id} failed no rows; there is nothing to retry.",
                code="IMPORT_NOTHING_TO_RETRY",
            )
        fields = headers if REJECTS_ERROR_COLUMN in headers else [*headers, REJECTS_ERROR_COLUMN]
        job = ImportJob(
            id=new_id,
            organization_id=org_id,
            source=ImportSource.CSV,
            status=ImportStatus.PENDING,
            phase=ImportPhase.QUEUED,
            config={
                **{k: v for k, v in parent.config.items() if k not in _NOT_INHERITED},
                "file": {"key": key, "filename": "rejects.csv", "sheet": None},
                "headers": fields,
                "headersFingerprint": headers_fingerprint(fields),
                "columnMapping": mapping.to_json(),
                "totalRows": rows,
                "retryOf": parent.id,
            },
            started_by=actor.user_id,
            created_at=now,
            dry_run=parent.dry_run if dry_run is None else dry_run,
            enrich=False,
            lease_until=now + svc.imports.lease,
        )
        await _add_job(svc, actor, job, queue=True)
    except BaseException:
        await svc.storage.delete(key)
        raise
    return new_id
