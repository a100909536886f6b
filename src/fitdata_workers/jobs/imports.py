"""Import jobs: one slice of an import run, the take-over sweep and the stored-file sweep."""

from __future__ import annotations

from fitdata_core.job_names import IMPORT_RUN, IMPORTS_SWEEP_FILES, IMPORTS_TAKE_OVER
from fitdata_core.services import Services
from fitdata_core.usecases.imports import run_import, sweep_import_files, take_over_imports
from fitdata_workers.registry import job


@job(IMPORT_RUN)
async def import_run(svc: Services, *, job_id: str) -> None:
    await run_import(svc, job_id)


@job(IMPORTS_TAKE_OVER)
async def imports_take_over(svc: Services, *, scheduled_for: str) -> None:
    # The lease is compared with "now", not the tick: a late sweep must not wake a job whose
    # lease is still running.
    await take_over_imports(svc)


@job(IMPORTS_SWEEP_FILES)
async def imports_sweep_files(svc: Services, *, scheduled_for: str) -> None:
    # As of the injected clock's now (like the other sweeps): a late tick deletes what is due
    # when it runs, never a file still inside its retention.
    await sweep_import_files(svc, svc.clock.now())
