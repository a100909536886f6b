"""Scheduled billing sweeps. Each runs as a scheduled job, so the kill switch applies."""

from __future__ import annotations

from datetime import datetime

from fitdata_core.job_names import BILLING_EXPIRE_STALE, BILLING_RECONCILE, BILLING_RENEWALS
from fitdata_core.services import Services
from fitdata_core.usecases.billing import expire_stale, reconcile, run_renewals
from fitdata_workers.registry import job


def _tick(scheduled_for: str) -> datetime:
    return datetime.fromisoformat(scheduled_for)


@job(BILLING_RENEWALS)
async def billing_renewals(svc: Services, *, scheduled_for: str) -> None:
    # "As of" the tick, not the moment a delayed worker picks the job up: a subscription
    # whose period ends a minute after the tick waits for the next one.
    await run_renewals(svc, _tick(scheduled_for), scheduled=True)


@job(BILLING_RECONCILE)
async def billing_reconcile(svc: Services, *, scheduled_for: str) -> None:
    await reconcile(svc, svc.clock.now(), scheduled=True)


@job(BILLING_EXPIRE_STALE)
async def billing_expire_stale(svc: Services, *, scheduled_for: str) -> None:
    await expire_stale(svc, _tick(scheduled_for), scheduled=True)
