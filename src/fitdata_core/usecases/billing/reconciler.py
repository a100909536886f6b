"""The reconciler: finds checkouts whose webhook never came (RC1–RC5, W3, W4).

Every few minutes it asks the gateway about each pending checkout younger than an hour.
A paid one goes through the same activation as the webhook; one still unpaid after ten
minutes raises a "hung" alert, at most once per dedupe window.

Every time rule reads the sweep's ``as_of`` (the lookback, the hang age, the alert dedupe),
and a checkout it activates starts its period at ``as_of``, so ``fitdata billing reconcile
--at T`` behaves as a tick at T would.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import ProviderError
from fitdata_core.model.billing import BillingTransaction, TransactionKind, TransactionStatus
from fitdata_core.services import Services
from fitdata_core.usecases.billing.activation import ActivationOutcome, settle_checkout
from fitdata_core.usecases.billing.config import (
    ALERT_DEDUPE_WINDOW,
    HANG_AFTER,
    RECONCILE_BATCH_LIMIT,
    RECONCILE_LOOKBACK,
)

__all__ = [
    "HUNG_MESSAGE",
    "ReconcileOutcome",
    "ReconcileReport",
    "reconcile",
]

HUNG_MESSAGE = "Platform billing checkout hung"


class ReconcileOutcome(StrEnum):
    """What reconciling one pending checkout did."""

    COMPLETED = "completed"
    FAILED = "failed"
    HANG_ALERTED = "hang_alerted"
    STILL_PENDING = "still_pending"
    ALREADY_PROCESSED = "already_processed"
    UNKNOWN = "unknown"


@attrs.frozen
class ReconcileReport:
    """What a reconciler run did, transaction by transaction."""

    completed: int = 0
    failed: int = 0
    hang_alerted: int = 0
    still_pending: int = 0
    already_processed: int = 0
    unknown: int = 0
    disabled: bool = False

    @classmethod
    def of(cls, outcomes: list[ReconcileOutcome]) -> ReconcileReport:
        counts = Counter(outcomes)
        return cls(
            completed=counts[ReconcileOutcome.COMPLETED],
            failed=counts[ReconcileOutcome.FAILED],
            hang_alerted=counts[ReconcileOutcome.HANG_ALERTED],
            still_pending=counts[ReconcileOutcome.STILL_PENDING],
            already_processed=counts[ReconcileOutcome.ALREADY_PROCESSED],
            unknown=counts[ReconcileOutcome.UNKNOWN],
        )

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


async def reconcile(
    svc: Services, as_of: datetime | None = None, *, scheduled: bool = False
) -> ReconcileReport:
    """Settle pending checkouts created within the last hour (older ones are left to
    :func:`~fitdata_core.usecases.billing.expiry.expire_stale`: RC4)."""
    if scheduled and not svc.billing.schedule_enabled:
        return ReconcileReport(disabled=True)
    as_of = as_of or svc.clock.now()
    async with svc.uow() as uow:
        pending = await uow.billing_transactions.list_by_status(
            TransactionStatus.PENDING,
            created_after=as_of - RECONCILE_LOOKBACK,
            limit=RECONCILE_BATCH_LIMIT,
        )
    outcomes = [
        await _reconcile_one(svc, txn, as_of)
        for txn in pending
        if txn.kind is TransactionKind.CHECKOUT and txn.low_profile_id
    ]
    return ReconcileReport.of(outcomes)


async def _reconcile_one(
    svc: Services, txn: BillingTransaction, as_of: datetime
) -> ReconcileOutcome:
    try:
        outcome = await settle_checkout(svc, txn, at=as_of)
    except ProviderError as exc:
        svc.errors.capture_exception(
            exc,
            where="billing-reconcile",
            transaction_id=txn.id,
            organization_id=txn.organization_id,
        )
        return ReconcileOutcome.UNKNOWN  # the next tick retries (RC5)
    if outcome is ActivationOutcome.COMPLETED:
        return ReconcileOutcome.COMPLETED
    if outcome is ActivationOutcome.FAILED:
        return ReconcileOutcome.FAILED
    if outcome is ActivationOutcome.DEFERRED:
        return await _maybe_alert(svc, txn, as_of)
    if outcome is ActivationOutcome.ALREADY_PROCESSED:
        return ReconcileOutcome.ALREADY_PROCESSED
    return ReconcileOutcome.UNKNOWN


async def _maybe_alert(svc: Services, txn: BillingTransaction, as_of: datetime) -> ReconcileOutcome:
    age = as_of - txn.created_at
    if age <= HANG_AFTER:
        return ReconcileOutcome.STILL_PENDING
    async with svc.uow() as uow:
        current = await uow.billing_transactions.get_for_update(txn.id)
        if current is None or current.status is not TransactionStatus.PENDING:
            return ReconcileOutcome.ALREADY_PROCESSED
        if current.alerted_at is not None and as_of - current.alerted_at < ALERT_DEDUPE_WINDOW:
            return ReconcileOutcome.STILL_PENDING  # alerted recently (RC3)
        await uow.billing_transactions.update(current.mark_alerted(as_of))
        await uow.commit()
    svc.errors.capture_message(
        HUNG_MESSAGE,
        level="warning",
        transaction_id=txn.id,
        organization_id=txn.organization_id,
        low_profile_id=txn.low_profile_id,
        age_minutes=int(age.total_seconds() // 60),
    )
    return ReconcileOutcome.HANG_ALERTED
