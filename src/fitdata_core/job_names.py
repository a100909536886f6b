"""The names of background jobs, spelled once.

A job name is what a use case writes into the outbox (``svc.job(EXPORT_MEMBERS, ...)``), what
the scheduler fires, and what the workers register a handler (and a Dramatiq actor) under, so
all three import it from here. Add a feature's job names here.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BILLING_EXPIRE_STALE",
    "BILLING_RECONCILE",
    "BILLING_RENEWALS",
    "EXPORTS_FAIL_STALE",
    "EXPORT_MEMBERS",
    "IMPORTS_SWEEP_FILES",
    "IMPORTS_TAKE_OVER",
    "IMPORT_RUN",
]

#: Run one member export (argument ``job_id``): ``process_member_export``.
EXPORT_MEMBERS: Final = "export_members"
#: Scheduled: fail exports stuck in progress (argument ``scheduled_for``).
EXPORTS_FAIL_STALE: Final = "exports_fail_stale"
#: Scheduled daily: charge subscriptions whose period ended (argument ``scheduled_for``).
BILLING_RENEWALS: Final = "billing_renewals"
#: Scheduled: settle hung pending checkouts (argument ``scheduled_for``).
BILLING_RECONCILE: Final = "billing_reconcile"
#: Scheduled daily: cancel pending transactions too old to complete (argument ``scheduled_for``).
BILLING_EXPIRE_STALE: Final = "billing_expire_stale"
#: Run a slice of one import (argument ``job_id``): ``run_import``; it queues its own
#: continuation until the job ends.
IMPORT_RUN: Final = "import_run"
#: Scheduled: wake imports whose lease ended (their worker died) (argument ``scheduled_for``).
IMPORTS_TAKE_OVER: Final = "imports_take_over"
#: Scheduled: delete the stored files of CSV imports finished longer ago than the retention
#: period (argument ``scheduled_for``).
IMPORTS_SWEEP_FILES: Final = "imports_sweep_files"
