"""Import jobs: one slice of an import run, and the take-over sweep."""

from __future__ import annotations

from fitdata_core.services import Services
from fitdata_core.usecases.imports import (
    IMPORT_RUN_JOB,
    IMPORT_TAKE_OVER_JOB,
    run_import,
    take_over_imports,
)
from fitdata_workers.registry import job


@job(IMPORT_RUN_JOB)
async def import_run(svc: Services, *, job_id: str) -> None:
    await run_import(svc, job_id)


@job(IMPORT_TAKE_OVER_JOB)
async def imports_take_over(svc: Services, *, scheduled_for: str) -> None:
    # The lease is compared with "now", not the tick: a late sweep must not wake a job whose
    # lease is still running.
    await take_over_imports(svc)
