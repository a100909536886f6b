"""``/organizations/{orgId}/import``: start an import, follow, cancel and undo its job; and
``/organizations/{orgId}/leads``.

``POST /import`` takes the spec's ImportConfigDto (plus ``dryRun`` and ``enrich``) and answers
202 with the job id; the import engine runs it in the background (workers, or in process
when embedded). Credentials given inline are used for that job only: never stored as the
org's credentials, never echoed, never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs
from litestar import Controller, delete, get, post
from litestar.openapi.spec import Schema

from fitdata_adapters.converter import to_camel
from fitdata_core.access import Action
from fitdata_core.model.catalog import Lead
from fitdata_core.model.imports import Progress, RowProblem, Tally
from fitdata_core.model.jobs import ImportJob, ImportPhase, ImportSource, ImportStatus
from fitdata_core.ports.providers import SourceCredentials
from fitdata_core.rules.import_retention import file_deleted_at
from fitdata_core.usecases import imports
from fitdata_core.usecases.imports import ImportRequest, UndoReport
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
    "AT_LEAST_ONE_ENTITY",
    "ImportConfigView",
    "ImportEntities",
    "ImportFileView",
    "ImportJobView",
    "ImportQueued",
    "ImportsController",
    "LeadView",
    "LeadsController",
    "MemberFields",
    "NewImport",
    "UndoView",
]


@attrs.frozen
class ImportEntities:
    """``{members, plans, leads?}``: what to import."""

    members: bool = False
    plans: bool = False
    leads: bool = False


@attrs.frozen
class MemberFields:
    """``memberFields``: the member fields the import writes (``true``). A field ``false`` or
    left out is treated as not given: it never overwrites a stored value. Without
    ``memberFields`` every field is written; the email and the status always are."""

    first_name: bool | None = None
    last_name: bool | None = None
    phone: bool | None = None
    birth_date: bool | None = None
    gender: bool | None = None
    plan_name: bool | None = None
    membership_start: bool | None = None
    membership_end: bool | None = None

    def flags(self) -> dict[str, bool]:
        """The flags as the request gave them (camelCase names, the ones given)."""
        given = {name: getattr(self, attribute) for name, attribute in _MEMBER_FIELDS.items()}
        return {name: value for name, value in given.items() if value is not None}


_MEMBER_FIELDS = imports.MEMBER_FIELD_ATTRIBUTES

#: The documented rule of an ``entities`` body field: at least one entity asked for (the
#: import refuses an import of nothing).
AT_LEAST_ONE_ENTITY = limits(
    any_of=[
        Schema(required=[name], properties={name: Schema(const=True)})
        for name in ("members", "plans", "leads")
    ]
)


@attrs.frozen(repr=False)
class NewImport:
    """The spec's ImportConfigDto plus ``dryRun`` and ``enrich``."""

    # Only Arbox here: CSV files have routes of their own.
    source: ImportSource = attrs.field(metadata=limits(enum=[ImportSource.ARBOX.value]))
    entities: ImportEntities = attrs.field(metadata=AT_LEAST_ONE_ENTITY)
    arbox_api_key: str | None = None
    arbox_email: str | None = None
    arbox_password: str | None = None
    member_fields: MemberFields | None = None
    email_whitelist: list[str] | None = None
    dry_run: bool = False
    enrich: bool = True

    def __repr__(self) -> str:  # the credentials are secrets
        return f"NewImport(source={self.source.value!r}, dry_run={self.dry_run})"

    def request(self) -> ImportRequest:
        inline = None
        if self.arbox_api_key or self.arbox_email or self.arbox_password:
            inline = SourceCredentials(
                api_key=self.arbox_api_key or None,
                email=self.arbox_email or None,
                password=self.arbox_password or None,
            )
        return ImportRequest(
            source=self.source,
            plans=self.entities.plans,
            members=self.entities.members,
            leads=self.entities.leads,
            credentials=inline,
            member_fields=None if self.member_fields is None else self.member_fields.flags(),
            email_whitelist=None if self.email_whitelist is None else tuple(self.email_whitelist),
            dry_run=self.dry_run,
            enrich=self.enrich,
        )


@attrs.frozen
class ImportQueued:
    job_id: str


@attrs.frozen
class ImportFileView:
    """The uploaded file a CSV job reads: its storage key, its name, the sheet read."""

    key: str
    filename: str
    sheet: str | None


@attrs.frozen
class ImportConfigView:
    """What a job keeps of its request. Arbox jobs: ``entities`` and, when given,
    ``memberFields`` and ``emailWhitelist``; CSV jobs: the file, its headers and the mapping
    (``confirmed`` once the owner confirmed it, ``retryOf`` for a retry, ``fileDeletedAt`` once
    the file sweep deleted its file). A key the job's kind does not have is null."""

    source: ImportSource
    entities: ImportEntities | None
    member_fields: list[str] | None
    email_whitelist: list[str] | None
    file: ImportFileView | None
    headers: list[str] | None
    headers_fingerprint: str | None
    date_orders: dict[str, str] | None
    ambiguous_date_columns: list[str] | None
    total_rows: int | None
    suggested_mapping: dict[str, dict[str, str]] | None
    uploaded_on: str | None
    awaiting_confirmation: bool | None
    column_mapping: dict[str, dict[str, str]] | None
    confirmed: bool | None
    retry_of: str | None
    #: When the stored file was deleted (its retention ended); its rejects and retry are 410.
    file_deleted_at: datetime | None

    @classmethod
    def of(cls, job: ImportJob) -> ImportConfigView:
        config = job.config
        entities = config.get("entities")
        file = config.get("file")
        return cls(
            source=job.source,
            entities=None
            if entities is None
            else ImportEntities(**{name: bool(entities.get(name)) for name in _ENTITY_NAMES}),
            file=None
            if file is None
            else ImportFileView(str(file.get("key")), str(file.get("filename")), file.get("sheet")),
            file_deleted_at=file_deleted_at(job),
            **{name: config.get(to_camel(name)) for name in _PLAIN_CONFIG},
        )


_ENTITY_NAMES = tuple(f.name for f in attrs.fields(ImportEntities))
#: The config keys shown as they are stored.
_PLAIN_CONFIG = tuple(
    f.name
    for f in attrs.fields(ImportConfigView)
    if f.name not in {"source", "entities", "file", "file_deleted_at"}
)


@attrs.frozen
class ImportJobView:
    """An import job as the API shows it (never its credentials)."""

    id: str
    source: ImportSource
    status: ImportStatus
    phase: ImportPhase
    dry_run: bool
    enrich: bool
    config: ImportConfigView
    #: Per entity (``plans``, ``members``, ``leads``, ``enrichment``): rows done of the total.
    progress: dict[str, Progress]
    #: Per entity: what happened to its rows.
    results: dict[str, Tally]
    #: The row problems kept in detail (the first ``MAX_REPORTED_ROW_ERRORS``).
    errors: list[RowProblem]
    error_count: int
    warning_count: int
    error_message: str | None
    cancel_requested: bool
    started_by: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    undone_at: datetime | None

    @classmethod
    def of(cls, job: ImportJob) -> ImportJobView:
        report = job.report
        return cls(
            id=job.id,
            source=job.source,
            status=job.status,
            phase=job.phase,
            dry_run=job.dry_run,
            enrich=job.enrich,
            config=ImportConfigView.of(job),
            progress=dict(report.progress),
            results=dict(report.results),
            errors=list(report.problems),
            error_count=report.error_count,
            warning_count=report.warning_count,
            error_message=job.error_message,
            cancel_requested=job.cancel_requested,
            started_by=job.started_by,
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            undone_at=job.undone_at,
        )


@attrs.frozen
class UndoConflictView:
    entity: str
    key: str
    reason: str


@attrs.frozen
class UndoView:
    reverted: int
    conflicts: list[UndoConflictView]

    @classmethod
    def of(cls, report: UndoReport) -> UndoView:
        return cls(
            report.reverted, [UndoConflictView(c.entity, c.key, c.reason) for c in report.conflicts]
        )


@attrs.frozen
class LeadView:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    source: str | None
    status: str
    external_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadView:
        return cls(
            id=lead.id,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            phone=lead.phone,
            source=lead.source,
            status=lead.status,
            external_id=lead.external_id,
            created_at=lead.created_at,
        )


_NEW_IMPORT = json_body(
    NewImport,
    '`source` is "arbox"; `entities` names what to import (`members`, `plans`, `leads`). '
    "Credentials: `arboxApiKey` (Business API) and/or `arboxEmail` + `arboxPassword` "
    "(Management API), used for this import only; without them the stored provider config "
    'is used. `memberFields` (flags, e.g. `{"firstName": true, "phone": true}`) limits '
    "which member fields are written: a field not set to true never overwrites a stored value; "
    "without it every field is written (the email and status always are). `emailWhitelist` "
    "limits which members get memberships (the others are counted as skipped; plans and leads "
    "are not filtered). `dryRun` runs everything and writes nothing; `enrich` (default true) "
    "fills profile details per member.",
)


class ImportsController(Controller):
    path = ORG_PATH + "/import"
    tags = ["imports"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @post(
        "/",
        status_code=202,
        opt=answers(ImportQueued, rate_limited=True),
        summary="Start an import (owner, admin; one at a time)",
    )
    async def start_import(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        idempotency: IdempotencyDep,
        data: Annotated[dict[str, Any], _NEW_IMPORT],
    ) -> Envelope:
        if isinstance(data, dict) and data.get("memberFields") is not None:
            # Before structuring: an unknown field gets the list of the allowed ones.
            imports.written_member_fields(data["memberFields"])
        body = read_body(data, NewImport)

        async def start() -> Envelope:
            job_id = await imports.start_import(services, actor, org_id, body.request())
            return ok(ImportQueued(job_id), status_code=202)

        # A retried request with the same Idempotency-Key gets the first job, not a 409.
        return await idempotency.run(start, Action.IMPORT)

    @get(
        "/jobs",
        opt=answers(ImportJobView, shape="page"),
        summary="List import jobs, newest first (owner, admin)",
    )
    async def list_import_jobs(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        limit: Limit = 50,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        page = await imports.list_import_jobs(
            services, actor, org_id, limit=limit, offset=offset, cursor=cursor
        )
        return paged(page, ImportJobView.of)

    @get(
        "/jobs/{jobId:str}",
        opt=answers(ImportJobView),
        summary="One import job: status, progress, results, errors",
    )
    async def get_import_job(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep, jobId: JobIdPath
    ) -> Envelope:
        job = await imports.get_import_job(services, actor, org_id, parse_uuid(jobId, "jobId"))
        return ok(ImportJobView.of(job))

    @delete(
        "/jobs/{jobId:str}",
        status_code=200,
        opt=answers(ImportJobView),
        summary="Cancel a pending or running import (what landed stays)",
    )
    async def cancel_import_job(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep, jobId: JobIdPath
    ) -> Envelope:
        job = await imports.cancel_import(services, actor, org_id, parse_uuid(jobId, "jobId"))
        return ok(ImportJobView.of(job))

    @post(
        "/jobs/{jobId:str}/undo",
        status_code=200,
        opt=answers(UndoView),
        summary="Undo a completed import (rows changed since are listed, not touched)",
    )
    async def undo_import_job(
        self, services: ServicesDep, actor: ActorDep, org_id: OrgIdDep, jobId: JobIdPath
    ) -> Envelope:
        report = await imports.undo_import(services, actor, org_id, parse_uuid(jobId, "jobId"))
        return ok(UndoView.of(report))


class LeadsController(Controller):
    path = ORG_PATH + "/leads"
    tags = ["imports"]  # noqa: RUF012 - Litestar reads these as class attributes
    security = BEARER

    @get(
        "/",
        opt=answers(LeadView, shape="page"),
        summary="List the organization's leads (owner, admin, coach)",
    )
    async def list_leads(
        self,
        services: ServicesDep,
        actor: ActorDep,
        org_id: OrgIdDep,
        limit: Limit = 50,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Envelope:
        page = await imports.list_leads(
            services, actor, org_id, limit=limit, offset=offset, cursor=cursor
        )
        return paged(page, LeadView.of)
