"""Export jobs: the worker side of a member export request, and the stuck-job sweep."""

from __future__ import annotations

from fitdata_core.job_names import EXPORT_MEMBERS, EXPORTS_FAIL_STALE
from fitdata_core.services import Services
from fitdata_core.usecases.exports import process_member_export, sweep_exports
from fitdata_workers.registry import job


@job(EXPORT_MEMBERS)
async def export_members(svc: Services, *, job_id: str) -> None:
    await process_member_export(svc, job_id=job_id)


@job(EXPORTS_FAIL_STALE)
async def exports_fail_stale(svc: Services, *, scheduled_for: str) -> None:
    # "Now", not the tick: a sweep that ran late must still not fail a job that is younger
    # than the threshold at the moment it looks.
    # Also sends lost pending jobs again and removes partial files of killed exports.
    await sweep_exports(svc, svc.clock.now())
