"""``/organizations/{orgId}/import/csv``: upload a CSV or Excel file, preview its mapping,
confirm it; and per import job, the rejects file and the retry of its failed rows.

The upload reads the multipart body from the request stream itself (see
:mod:`fitdata_http.uploads`), so the size cap (``FITDATA_IMPORT_MAX_UPLOAD_BYTES``) refuses a
file before it is all read. The confirmed job runs on the import engine like any import; the
job endpoints (list, get, cancel, undo) are the ones of ``/import/jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import attrs
from litestar import Controller, Request, get, post
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import QueryParameter
from litestar.response import Stream

from fitdata_core.access import Action
from fitdata_core.rules.import_fields import MEMBER_FIELDS, PLAN_FIELDS
from fitdata_core.usecases.imports import csv_files
from fitdata_http.contract import answers, download_errors
from fitdata_http.controllers.imports import AT_LEAST_ONE_ENTITY, ImportEntities, ImportQueued
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, ok
from fitdata_http.idempotency import IdempotencyDep
from fitdata_http.openapi import BEARER
from fitdata_http.params import ORG_PATH, JobIdPath, parse_uuid, read_body
from fitdata_http.schemas import json_body, limits
from fitdata_http.uploads import open_upload

__all__ = [
    "CsvColumnMapping",
    "CsvConfirm",
    "CsvImportsController",
    "CsvRetry",
    "CsvUploaded",
]

CSV_MEDIA_TYPE = "text/csv"
MAX_SHEET_NAME = 100  # Excel allows 31 characters; anything longer names no sheet


def _header_to_field(vocabulary: Iterable[str]) -> dict[str, Any]:
    """The documented limits of a mapping section: each value is one of ``vocabulary``'s field
    names, or ``""``/null for a column not imported (the keys are the file's own headers)."""
    names = [*vocabulary, ""]
    return limits(
        additional_properties=Schema(
            one_of=[Schema(type=OpenAPIType.STRING, enum=names), Schema(type=OpenAPIType.NULL)]
        )
    )


@attrs.frozen
class CsvColumnMapping:
    """``{memberFields: {"<csv header>": "<field>"}, planFields?: {...}}``; a header mapped to
    null or "" is not imported."""

    member_fields: dict[str, str | None] = attrs.field(
        factory=dict, metadata=_header_to_field(MEMBER_FIELDS)
    )
    plan_fields: dict[str, str | None] | None = attrs.field(
        default=None, metadata=_header_to_field(PLAN_FIELDS)
    )

    def to_json(self) -> dict[str, Any]:
        return {"memberFields": self.member_fields, "planFields": self.plan_fields or {}}


@attrs.frozen
class CsvConfirm:
    """The owner's mapping for an uploaded file, what to import, and ``dryRun``."""

    column_mapping: CsvColumnMapping
    entities: ImportEntities = attrs.field(metadata=AT_LEAST_ONE_ENTITY)
    dry_run: bool = False


@attrs.frozen
class CsvRetry:
    """Optional: a corrected ``columnMapping`` (default: the job's own) and ``dryRun``
    (default: the job's own)."""

    column_mapping: CsvColumnMapping | None = None
    dry_run: bool | None = None


@attrs.frozen
class CsvUploaded:
    """The upload's answer: the pending job and what the file looks like."""

    job_id: str
    headers: list[str]
    suggested_mapping: dict[str, dict[str, str]]
    preview_rows: list[dict[str, str]]
    total_rows: int
    detected: dict[str, str | None]
    warnings: list[str]


_CONFIRM = json_body(
    CsvConfirm,
    "`columnMapping` has the shape of the upload's `suggestedMapping` (send it back as is, or "
    "corrected): `memberFields` maps file headers to member fields (one must be `email` to "
    "import members), `planFields` to plan fields (`name` and `price` to import plans). "
    "`entities` names what to import; `dryRun` runs everything and writes nothing.",
)
_RETRY = json_body(CsvRetry)
_SHEET = Annotated[
    str | None,
    QueryParameter(
        description="The workbook sheet to read (.xlsx; default: the first).",
        max_length=MAX_SHEET_NAME,
    ),
]


@dataclass
class _FileUploadOperation(Operation):
    """The upload's operation, with the multipart body it reads from the stream documented
    (Litestar cannot see a body the handler parses itself)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        properties={
                            "file": Schema(
                                type=OpenAPIType.STRING,
                                format=OpenAPIFormat.BINARY,
                                description="The .csv or .xlsx file.",
                            )
                        },
                        required=["file"],
                    )
                )
            },
        )


class CsvImportsController(Controller):
    path = ORG_PATH + "/import"
    tags = ["imports"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @post(
        "/csv/upload",
        status_code=200,
        opt=answers(CsvUploaded, rate_limited=True),
        summary="Upload a CSV or Excel file: preview and suggested mapping (owner, admin)",
        description=(
            "Multipart form field `file` (.csv or .xlsx, at most FITDATA_IMPORT_MAX_UPLOAD_BYTES,"
            " 5 MB by default). Creates a pending CSV job to confirm with "
            "`POST /import/csv/jobs/{jobId}/confirm`; an earlier upload not confirmed is "
            "cancelled. 409 while another import is confirmed or running. Takes no "
            "Idempotency-Key: a retried upload is safe as it is (it gets a new jobId and "
            "replaces the first, unconfirmed one); the confirm takes the key."
        ),
        # The cap is this route's own, counted as the body streams in (a 400 naming it).
        request_max_body_size=None,
        operation_class=_FileUploadOperation,
    )
    async def upload_csv(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        request: Request[Any, Any, Any],
        sheet: _SHEET = None,
    ) -> Envelope:
        limit = services.imports.max_upload_bytes
        await csv_files.ensure_may_upload(services, actor, org_id)
        upload = await open_upload(request, limit=limit)
        found = await csv_files.upload_csv(
            services,
            actor,
            org_id,
            filename=upload.filename or "upload",
            chunks=upload.chunks(),
            sheet=sheet or None,
            max_bytes=limit,
        )
        answer = found.preview
        return ok(
            CsvUploaded(
                job_id=found.job_id,
                headers=list(answer["headers"]),
                suggested_mapping=dict(answer["suggestedMapping"]),
                preview_rows=list(answer["previewRows"]),
                total_rows=int(answer["totalRows"]),
                detected=dict(answer["detected"]),
                warnings=list(answer["warnings"]),
            )
        )

    @post(
        "/csv/jobs/{jobId:str}/confirm",
        status_code=202,
        opt=answers(ImportQueued),
        summary="Confirm an uploaded file's mapping and run the import (owner, admin)",
    )
    async def confirm_csv_import(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        idempotency: IdempotencyDep,
        jobId: JobIdPath,
        data: Annotated[dict[str, Any], _CONFIRM],
    ) -> Envelope:
        job_id = parse_uuid(jobId, "jobId")
        body = read_body(data, CsvConfirm)

        async def confirm() -> Envelope:
            queued = await csv_files.confirm_csv(
                services,
                actor,
                org_id,
                job_id,
                column_mapping=body.column_mapping.to_json(),
                entities=attrs.asdict(body.entities),
                dry_run=body.dry_run,
            )
            return ok(ImportQueued(queued), status_code=202)

        return await idempotency.run(confirm, Action.IMPORT)

    @get(
        "/jobs/{jobId:str}/rejects",
        media_type=CSV_MEDIA_TYPE,
        opt=download_errors(409, 410),
        summary="Download a CSV import's failed rows as CSV, with an `error` column",
    )
    async def download_import_rejects(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep, jobId: JobIdPath
    ) -> Stream:
        job_id = parse_uuid(jobId, "jobId")
        rows = await csv_files.csv_rejects(services, actor, org_id, job_id)
        return Stream(
            rows,
            media_type=CSV_MEDIA_TYPE + "; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="import-{job_id}-rejects.csv"',
                "Cache-Control": "private, no-store",
            },
        )

    @post(
        "/jobs/{jobId:str}/retry-failed",
        status_code=202,
        opt=answers(ImportQueued, rate_limited=True, errors=(410,)),
        summary="Run a CSV import's failed rows again as a new job (owner, admin)",
    )
    async def retry_failed_import_rows(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        idempotency: IdempotencyDep,
        jobId: JobIdPath,
        data: Annotated[dict[str, Any] | None, _RETRY] = None,
    ) -> Envelope:
        job_id = parse_uuid(jobId, "jobId")
        body = read_body(data or {}, CsvRetry)

        async def retry() -> Envelope:
            new_id = await csv_files.retry_failed(
                services,
                actor,
                org_id,
                job_id,
                column_mapping=None
                if body.column_mapping is None
                else body.column_mapping.to_json(),
                dry_run=body.dry_run,
            )
            return ok(ImportQueued(new_id), status_code=202)

        return await idempotency.run(retry, Action.IMPORT)
