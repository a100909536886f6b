"""The stale-pending sweep: checkouts nobody paid within a week are cancelled (RC4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from fitdata_core.model.billing import TransactionKind, TransactionStatus
from fitdata_core.services import Services
from fitdata_core.usecases.billing.common import record
from fitdata_core.usecases.billing.config import EXPIRE_BATCH_LIMIT, STALE_AFTER

__all__ = [
    "ExpiryReport",
    "expire_stale",
]


@attrs.frozen
class ExpiryReport:
    """What a stale-checkout sweep did."""

    cancelled: int = 0
    disabled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


async def expire_stale(
    svc: Services, as_of: datetime | None = None, *, scheduled: bool = False
) -> ExpiryReport:
    """Cancel pending checkouts older than seven days as of ``as_of`` (default: now).

    The age and the cancellation time both read ``as_of``, like every sweep (see
    :mod:`~fitdata_core.usecases.billing.renewals`). Renewal rows are left alone: a pending
    renewal may stand for a charge that happened, and the renewal sweep repairs it by looking
    the charge up.
    """
    if scheduled and not svc.billing.schedule_enabled:
        return ExpiryReport(disabled=True)
    as_of = as_of or svc.clock.now()
    cancelled = 0
    async with svc.uow() as uow:
        stale = await uow.billing_transactions.list_by_status(
            TransactionStatus.PENDING, created_before=as_of - STALE_AFTER, limit=EXPIRE_BATCH_LIMIT
        )
        for found in stale:
            if found.kind is not TransactionKind.CHECKOUT:
                continue
            txn = await uow.billing_transactions.get_for_update(found.id)
            if txn is None or txn.status is not TransactionStatus.PENDING:
                continue
            txn, events = txn.cancel(as_of, "expired: unpaid for 7 days")
            await uow.billing_transactions.update(txn)
            await record(uow, txn.organization_id, events)
            cancelled += 1
        await uow.commit()
    return ExpiryReport(cancelled=cancelled)
