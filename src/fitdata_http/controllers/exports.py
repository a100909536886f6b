"""``/organizations/{orgId}/export``: queue a members CSV export and follow its job.

``POST /export/members`` answers 202 with the job id; the worker builds the file, stores it
and emails the requester a link. ``GET /export/jobs`` lists the jobs newest first and
``GET /export/jobs/{jobId}`` shows one, with a download link signed at that moment whenever
the job completed (so a link that expired in the email is never a dead end).

Rate limit: 10 requests a minute per caller in the org and per client address, counted by
the use case on the shared rate limiter after the caller is authorized. The client address is
the connection's peer; ``X-Forwarded-For`` is believed only from the proxies named in
``FITDATA_TRUSTED_PROXIES`` (see :mod:`fitdata_http.client_address`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import attrs
from litestar import Controller, Request, get, post

from fitdata_core.access import Action
from fitdata_core.model.jobs import ExportJob, ExportStatus
from fitdata_core.model.organizations import MembershipStatus, Role
from fitdata_core.rules.export_fields import EXPORT_FIELDS
from fitdata_core.usecases import exports
from fitdata_http.client_address import client_address
from fitdata_http.contract import answers
from fitdata_http.deps import ActorDep, OrgIdDep, ServicesDep
from fitdata_http.envelope import Envelope, ok, paged
from fitdata_http.idempotency import IdempotencyDep
from fitdata_http.openapi import BEARER
from fitdata_http.params import (
    ORG_PATH,
    Cursor,
    JobIdPath,
    Limit,
    Offset,
    parse_uuid,
    read_body,
)
from fitdata_http.schemas import json_body, limits

__all__ = [
    "ExportConfigView",
    "ExportJobResponse",
    "ExportQueued",
    "ExportRequest",
    "ExportsController",
]


@attrs.frozen
class ExportQueued:
    """The answer to an export request: ``{"jobId": ...}``."""

    job_id: str


@attrs.frozen
class ExportConfigView:
    """What an export job was asked for: the filters and the columns (empty: all / default)."""

    roles: list[Role]
    statuses: list[MembershipStatus]
    fields: list[str]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> ExportConfigView:
        return cls(
            roles=[Role(value) for value in config.get("roles") or ()],
            statuses=[MembershipStatus(value) for value in config.get("statuses") or ()],
            fields=[str(value) for value in config.get("fields") or ()],
        )


@attrs.frozen
class ExportJobResponse:
    """An export job as the API shows it; ``downloadUrl`` only once it completed."""

    id: str
    kind: str
    status: ExportStatus
    config: ExportConfigView
    started_by: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    row_count: int | None
    file_size: int | None
    error_message: str | None
    download_url: str | None = None

    @classmethod
    def of(cls, job: ExportJob, download_url: str | None = None) -> ExportJobResponse:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            config=ExportConfigView.of(job.config),
            started_by=job.started_by,
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            row_count=job.row_count,
            file_size=job.file_size,
            error_message=job.error_message,
            download_url=download_url,
        )


@attrs.frozen
class ExportRequest:
    """The optional body of an export request (read with the shared
    :func:`~fitdata_http.params.read_body`, so a bad field is a 400 naming it)."""

    roles: list[str] | None = attrs.field(
        default=None, metadata=limits(items={"enum": [role.value for role in Role]})
    )
    statuses: list[str] | None = attrs.field(
        default=None,
        metadata=limits(items={"enum": [status.value for status in MembershipStatus]}),
    )
    fields: list[str] | None = attrs.field(
        default=None, metadata=limits(items={"enum": list(EXPORT_FIELDS)})
    )


_REQUEST_HELP = (
    "`roles` (owner, admin, coach, member), `statuses` (active, invited, suspended, "
    "cancelled) and `fields` (column keys, in the order wanted) are all optional; none "
    "means every member with the default columns."
)


class ExportsController(Controller):
    path = ORG_PATH + "/export"
    tags = ["exports"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @post(
        "/members",
        status_code=202,
        opt=answers(ExportQueued, rate_limited=True),
        summary="Queue a members CSV export (owner, admin; 10 a minute per caller and address)",
    )
    async def export_members(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        idempotency: IdempotencyDep,
        data: Annotated[dict[str, Any] | None, json_body(ExportRequest, _REQUEST_HELP)] = None,
    ) -> Envelope:
        wanted = read_body({} if data is None else data, ExportRequest)

        async def queue() -> Envelope:
            job_id = await exports.request_member_export(
                services,
                actor,
                org_id,
                roles=wanted.roles,
                statuses=wanted.statuses,
                fields=wanted.fields,
                client_ip=client_address(request),
            )
            return ok(ExportQueued(job_id), status_code=202)

        return await idempotency.run(queue, Action.EXPORT)

    @get(
        "/jobs",
        summary="List export jobs, newest first (owner, admin)",
        opt=answers(ExportJobResponse, shape="page"),
    )
    async def list_jobs(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        limit: Limit = 50,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        page = await exports.list_export_jobs(
            services, actor, org_id, limit=limit, offset=offset, cursor=cursor
        )
        return paged(page, ExportJobResponse.of)

    @get(
        "/jobs/{jobId:str}",
        opt=answers(ExportJobResponse),
        summary="One export job; a completed one carries a freshly signed downloadUrl",
    )
    async def get_job(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        jobId: JobIdPath,
    ) -> Envelope:
        job_id = parse_uuid(jobId, "jobId")
        view = await exports.get_export_job(services, actor, org_id, job_id)
        return ok(ExportJobResponse.of(view.job, view.download_url))
