"""Export jobs, import jobs and import-provider configurations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fitdata_adapters.db import tables as t
from fitdata_adapters.db.repositories.base import SqlRepository, fetch_page, older_than
from fitdata_core.model.imports import ImportReport
from fitdata_core.model.jobs import (
    ACTIVE_IMPORT_STATUSES,
    ExportJob,
    ExportStatus,
    ImportJob,
    ImportPhase,
    ImportProviderConfig,
    ImportSource,
    ImportStatus,
)
from fitdata_core.ports.repositories import Page
from fitdata_core.rules.import_retention import FILE_DELETED_AT, FINISHED_IMPORT_STATUSES


def _newest_first(table: sa.Table) -> tuple[sa.ColumnElement[Any], ...]:
    return (table.c.created_at.desc(), table.c.id.desc())


# --- export jobs ---------------------------------------------------------------------------


def _export_values(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "organization_id": job.organization_id,
        "kind": job.kind,
        "status": job.status.value,
        "config": job.config,
        "started_by": job.started_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "row_count": job.row_count,
        "file_size": job.file_size,
        "file_key": job.file_key,
        "error_message": job.error_message,
        "dispatched_at": job.dispatched_at,
        "dispatches": job.dispatches,
    }


def _export(row: Mapping[str, Any]) -> ExportJob:
    return ExportJob(
        id=row["id"],
        organization_id=row["organization_id"],
        kind=row["kind"],
        status=ExportStatus(row["status"]),
        config=dict(row["config"]),
        started_by=row["started_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        row_count=row["row_count"],
        file_size=row["file_size"],
        file_key=row["file_key"],
        error_message=row["error_message"],
        dispatched_at=row["dispatched_at"],
        dispatches=row["dispatches"],
    )


class SqlExportJobRepository(SqlRepository):
    async def add(self, job: ExportJob) -> None:
        await self._db.execute(t.export_jobs.insert().values(_export_values(job)))

    async def get(self, job_id: str) -> ExportJob | None:
        row = await self._db.one_or_none(
            sa.select(t.export_jobs).where(t.export_jobs.c.id == job_id)
        )
        return None if row is None else _export(row)

    async def update(self, job: ExportJob) -> None:
        await self._db.execute(
            t.export_jobs.update().where(t.export_jobs.c.id == job.id).values(_export_values(job))
        )

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ExportJob]:
        e = t.export_jobs
        return await fetch_page(
            self._db,
            sa.select(e).where(e.c.organization_id == org_id),
            _newest_first(e),
            _export,
            limit=limit,
            offset=offset,
            # Newest first, so "after" is "older than": an index range on
            # (organization_id, created_at, id).
            after=older_than(e, *after) if after is not None else None,
        )

    async def list_stale(self, started_before: datetime, *, limit: int) -> list[ExportJob]:
        e = t.export_jobs
        rows = await self._db.all(
            sa.select(e)
            .where(
                e.c.status == ExportStatus.IN_PROGRESS.value,
                e.c.started_at < started_before,
            )
            .order_by(e.c.started_at, e.c.id)
            .limit(limit)
        )
        return [_export(row) for row in rows]

    async def list_waiting(self, dispatched_before: datetime, *, limit: int) -> list[ExportJob]:
        e = t.export_jobs
        last_dispatch = sa.func.coalesce(e.c.dispatched_at, e.c.created_at)
        rows = await self._db.all(
            sa.select(e)
            .where(e.c.status == ExportStatus.PENDING.value, last_dispatch < dispatched_before)
            .order_by(last_dispatch, e.c.id)
            .limit(limit)
        )
        return [_export(row) for row in rows]


# --- import jobs ---------------------------------------------------------------------------


def _import_values(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "organization_id": job.organization_id,
        "source": job.source.value,
        "status": job.status.value,
        "phase": job.phase.value,
        "config": job.config,
        "results": job.report.to_dict(),
        "started_by": job.started_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "error_message": job.error_message,
        "dry_run": job.dry_run,
        "enrich": job.enrich,
        "lease_owner": job.lease_owner,
        "lease_until": job.lease_until,
        "checkpoint": job.checkpoint,
        "cancel_requested": job.cancel_requested,
        "undone_at": job.undone_at,
        "credentials_key_id": job.credentials_key_id,
        "credentials_sealed": job.credentials_sealed,
    }


def _import(row: Mapping[str, Any]) -> ImportJob:
    return ImportJob(
        id=row["id"],
        organization_id=row["organization_id"],
        source=ImportSource(row["source"]),
        status=ImportStatus(row["status"]),
        phase=ImportPhase(row["phase"]),
        config=dict(row["config"]),
        started_by=row["started_by"],
        created_at=row["created_at"],
        report=ImportReport.from_dict(row["results"] or {}),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error_message=row["error_message"],
        dry_run=bool(row["dry_run"]),
        enrich=bool(row["enrich"]),
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        checkpoint={k: int(v) for k, v in (row["checkpoint"] or {}).items()},
        cancel_requested=bool(row["cancel_requested"]),
        undone_at=row["undone_at"],
        credentials_key_id=row["credentials_key_id"],
        credentials_sealed=None
        if row["credentials_sealed"] is None
        else bytes(row["credentials_sealed"]),
    )


class SqlImportJobRepository(SqlRepository):
    async def add(self, job: ImportJob) -> None:
        await self._db.execute(t.import_jobs.insert().values(_import_values(job)))

    async def get(self, job_id: str) -> ImportJob | None:
        row = await self._db.one_or_none(
            sa.select(t.import_jobs).where(t.import_jobs.c.id == job_id)
        )
        return None if row is None else _import(row)

    async def get_for_update(self, job_id: str) -> ImportJob | None:
        row = await self._db.one_or_none(
            sa.select(t.import_jobs).where(t.import_jobs.c.id == job_id).with_for_update()
        )
        return None if row is None else _import(row)

    async def update(self, job: ImportJob) -> None:
        await self._db.execute(
            t.import_jobs.update().where(t.import_jobs.c.id == job.id).values(_import_values(job))
        )

    async def list_for_org(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int = 0,
        after: tuple[datetime, str] | None = None,
    ) -> Page[ImportJob]:
        i = t.import_jobs
        return await fetch_page(
            self._db,
            sa.select(i).where(i.c.organization_id == org_id),
            _newest_first(i),
            _import,
            limit=limit,
            offset=offset,
            after=older_than(i, *after) if after is not None else None,
        )

    async def find_active(self, org_id: str) -> list[ImportJob]:
        i = t.import_jobs
        rows = await self._db.all(
            sa.select(i)
            .where(
                i.c.organization_id == org_id,
                i.c.status.in_(sorted(s.value for s in ACTIVE_IMPORT_STATUSES)),
            )
            .order_by(*_newest_first(i))
        )
        return [_import(row) for row in rows]

    async def list_lease_ended(self, now: datetime, *, limit: int) -> list[ImportJob]:
        i = t.import_jobs
        rows = await self._db.all(
            sa.select(i)
            .where(
                i.c.status.in_(sorted(s.value for s in ACTIVE_IMPORT_STATUSES)),
                sa.or_(i.c.lease_until.is_(None), i.c.lease_until <= now),
            )
            .order_by(i.c.lease_until, i.c.id)
            .limit(limit)
        )
        return [_import(row) for row in rows]

    async def list_files_due(
        self,
        finished_before: datetime,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[ImportJob]:
        i = t.import_jobs
        query = sa.select(i).where(
            i.c.source == ImportSource.CSV.value,
            i.c.status.in_(sorted(s.value for s in FINISHED_IMPORT_STATUSES)),
            i.c.completed_at < finished_before,
            # JSON paths both dialects compile (->> on Postgres, json_extract on SQLite).
            i.c.config[("file", "key")].as_string().is_not(None),
            i.c.config[FILE_DELETED_AT].as_string().is_(None),
        )
        if after is not None:
            # Bound with the columns' types (the UTC datetime type stores its own format).
            key = (
                sa.bindparam(None, after[0], type_=i.c.completed_at.type),
                sa.bindparam(None, after[1], type_=i.c.id.type),
            )
            query = query.where(sa.tuple_(i.c.completed_at, i.c.id) > sa.tuple_(*key))
        rows = await self._db.all(query.order_by(i.c.completed_at, i.c.id).limit(limit))
        return [_import(row) for row in rows]


# --- provider configs ----------------------------------------------------------------------


def _config(row: Mapping[str, Any]) -> ImportProviderConfig:
    return ImportProviderConfig(
        id=row["id"],
        organization_id=row["organization_id"],
        provider=row["provider"],
        credentials_encrypted=bytes(row["credentials_encrypted"]),
        key_id=row["key_id"],
        is_active=bool(row["is_active"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


class SqlImportProviderConfigRepository(SqlRepository):
    async def add(self, config: ImportProviderConfig) -> None:
        await self._db.execute(
            t.import_provider_configs.insert().values(
                id=config.id,
                organization_id=config.organization_id,
                provider=config.provider,
                credentials_encrypted=config.credentials_encrypted,
                key_id=config.key_id,
                is_active=config.is_active,
                created_by=config.created_by,
                created_at=config.created_at,
            )
        )

    async def get_active(self, org_id: str, provider: str) -> ImportProviderConfig | None:
        c = t.import_provider_configs
        row = await self._db.one_or_none(
            sa.select(c)
            .where(c.c.organization_id == org_id, c.c.provider == provider, c.c.is_active)
            .order_by(*_newest_first(c))
            .limit(1)
        )
        return None if row is None else _config(row)

    async def deactivate_all(self, org_id: str, provider: str) -> None:
        c = t.import_provider_configs
        await self._db.execute(
            c.update()
            .where(c.c.organization_id == org_id, c.c.provider == provider, c.c.is_active)
            .values(is_active=False)
        )
