"""The CSV file as an import engine source: what a CSV job keeps, and how its rows are read.

A CSV job's ``config`` holds, from the upload: ``file`` (``key`` in object storage,
``filename``, ``sheet``), ``headers``, ``headersFingerprint``, ``dateOrders`` and the
``suggestedMapping``; and from the confirm: ``columnMapping``, ``entities`` and
``confirmed: true`` (``awaitingConfirmation`` is true from one to the other). Until
confirmed the job is pending but no work: the engine leaves it
alone, and ends it as stale once its preview lease runs out.

The engine's stage steps read the stored file through ``svc.import_files`` a batch at a time
and check each row with :mod:`~fitdata_core.rules.csv_records`; the rest (staging,
checkpoints, apply, take-over) is the engine's own, the same as for Arbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import Any

import attrs

from fitdata_core.model.imports import ImportEntity, RowProblem
from fitdata_core.model.jobs import ImportJob, ImportSource, ImportStatus
from fitdata_core.rules.csv_mapping import ColumnMapping, MappedRecord
from fitdata_core.rules.csv_records import csv_lead_record, csv_member_record, csv_plan_record
from fitdata_core.rules.csv_values import DateOrder
from fitdata_core.rules.import_values import PlanRecord
from fitdata_core.services import Services

__all__ = [
    "awaiting_confirmation",
    "check",
    "column_mapping",
    "date_orders",
    "in_columns",
    "pages",
    "plans",
    "today_of",
]


def awaiting_confirmation(job: ImportJob) -> bool:
    """A CSV upload whose mapping the owner has not confirmed yet."""
    return (
        job.source is ImportSource.CSV
        and job.status is ImportStatus.PENDING
        and bool(job.config.get("awaitingConfirmation"))
    )


def column_mapping(job: ImportJob) -> ColumnMapping:
    """The mapping the owner confirmed (checked at confirm time)."""
    raw = job.config.get("columnMapping") or {}
    return ColumnMapping(raw.get("memberFields") or {}, raw.get("planFields") or {})


#: The fields the merge rules name a problem by (``import_merge``), as the CSV mapping's
#: field names: a CSV job's problem names the owner's column instead.
_MERGE_FIELDS = {"plan_name": "planName"}


def in_columns(job: ImportJob, problems: Sequence[RowProblem]) -> list[RowProblem]:
    """``problems`` of the merge step named the way a CSV row's value problems are: by the
    column the owner mapped the field from (``"Membership: No plan named 'Gold'; ..."``,
    ``field`` the header), not by the engine's field name. Other problems are unchanged."""
    if not problems:
        return list(problems)
    headers = {field: header for header, field in column_mapping(job).member_fields.items()}
    named = []
    for problem in problems:
        header = headers.get(_MERGE_FIELDS.get(problem.field or "", ""))
        if header is not None:
            problem = attrs.evolve(problem, reason=f"{header}: {problem.reason}", field=header)
        named.append(problem)
    return named


def date_orders(job: ImportJob) -> dict[str, DateOrder]:
    """How each column holding slash dates is read, as the upload decided from its values."""
    return {h: DateOrder(v) for h, v in (job.config.get("dateOrders") or {}).items()}


def _file(job: ImportJob) -> dict[str, Any]:
    return dict(job.config.get("file") or {})


def today_of(job: ImportJob, fallback: date) -> date:
    """The date a job's relative values (two-digit years) are read against: its upload day,
    so every read of the file (stage, take-over, rejects) decides alike."""
    raw = job.config.get("uploadedOn")
    return date.fromisoformat(raw) if isinstance(raw, str) else fallback


def pages(
    svc: Services, job: ImportJob, page_size: int, *, plans: bool = False, skip_rows: int = 0
) -> AsyncIterator[Sequence[MappedRecord]]:
    """The job's file rows under its confirmed mapping, ``page_size`` at a time, after its
    first ``skip_rows`` data rows (read past, not mapped)."""
    file = _file(job)
    return svc.import_files.pages(
        file["key"],
        filename=file.get("filename") or "upload.csv",
        sheet=file.get("sheet"),
        mapping=column_mapping(job),
        orders=date_orders(job),
        today=today_of(job, svc.clock.now().date()),
        plans=plans,
        page_size=page_size,
        skip_rows=skip_rows,
    )


def check(entity: ImportEntity, *, today: date) -> Callable[[Any], tuple[Any, list[RowProblem]]]:
    """The row check of the engine's stage step for a CSV row of ``entity``."""
    if entity is ImportEntity.LEADS:
        return csv_lead_record
    return lambda record: csv_member_record(record, today=today)


async def plans(svc: Services, job: ImportJob) -> tuple[int, list[PlanRecord], list[RowProblem]]:
    """The distinct plans the file names (first row of each name wins), and their problems:
    ``(rows, records, problems)`` for the engine's plans step."""
    records: dict[str, PlanRecord] = {}
    problems: list[RowProblem] = []
    async for page in pages(svc, job, 1000, plans=True):
        for row in page:
            record, found = csv_plan_record(row)
            if record is None or record.name in records:
                continue
            records[record.name] = record
            problems += found
    return len(records), list(records.values()), problems
