"""The monthly renewal sweep with dunning (R1–R6, C3).

Per due subscription, three steps:

1. In a unit of work, under the subscription's lock: finalise a scheduled cancellation (R5)
   or a card-less expiry (R4) with no charge; otherwise record a *pending* renewal
   transaction whose ``external_uniq_id`` names the subscription, the period and the attempt.
   That id is unique in the table, so a second sweeper cannot record the same charge.
2. Outside any unit of work (no row lock held across the network): charge the saved token
   with that id. The gateway is idempotent on it, so a repeat never charges twice.
3. In a new unit of work, record the outcome: success advances the period (R1); a decline
   makes the subscription past due (R2) and the last allowed one cancels it (R3).

A crash between 2 and 3 leaves the pending row behind; the next sweep finds it (older than
:data:`~fitdata_core.usecases.billing.config.RENEWAL_LEASE`), looks the charge up with
``find_charge`` and records what happened instead of charging again. A younger pending row
belongs to a sweeper still at work, so it is skipped.

Time: a sweep lives at its ``as_of`` moment (the scheduler's tick, or an operator's
``--at``). Every rule reads it: which subscriptions are due, whether dunning may try a past-due
one again (its ``next_payment_attempt_at``, itself set from the failing sweep's ``as_of``),
the age of a pending renewal; and every time the sweep records (transactions, the
subscription, events, the next attempt promised in the owner's email) is ``as_of`` too. So
sweeps at successive ``--at`` days play dunning day by day within one afternoon, and two
sweeps at the same ``as_of`` make one attempt. Only the claim leases below read the clock:
they time real processes (a crashed sweeper), not billing.

Several sweepers (processes or workers) share the work rather than repeat it: each claims the
oldest due subscriptions in small batches for :data:`RENEWAL_CLAIM_LEASE`
(``claim_due``), skipping the ones another sweeper holds, and drops its claims when it is done.
A crashed sweeper's claims lapse with the lease. The claims only divide the work; the steps
above still guarantee one charge per attempt whoever runs them.

Step 1 runs for a whole claimed batch at once, in the claim's own unit of work: the claim
returns the subscriptions locked and current, so the usual case (a due subscription with a
card, not cancelling, not waiting for its next dunning attempt) records its pending attempt
there, every attempt of the batch in one statement and their events in another; the owners'
addresses for the receipts are looked up for the batch in one more (a few seconds before the
mail goes out). Anything else (a cancellation or expiry, a dunning wait, an attempt recorded
before) takes the one-subscription path above, which sorts it out under its own lock.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import FitdataError, ProviderError
from fitdata_core.events import DomainEvent
from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    StoredCard,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
)
from fitdata_core.ports.infrastructure import EmailMessage
from fitdata_core.ports.providers import ChargeOutcome, ChargeRequest
from fitdata_core.ports.repositories import UnitOfWork
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.services import Services
from fitdata_core.usecases.billing import emails
from fitdata_core.usecases.billing.common import (
    cancel_now,
    locked_org,
    new_transaction_event,
    open_card,
    pending_of_org,
    record,
    sync_tier,
)
from fitdata_core.usecases.billing.config import (
    RENEWAL_LEASE,
)

__all__ = [
    "RENEWAL_CLAIM_LEASE",
    "RenewalOutcome",
    "RenewalReport",
    "renew_subscription",
    "run_renewals",
]


class RenewalOutcome(StrEnum):
    """What a renewal did to one subscription."""

    RENEWED = "renewed"
    FAILED = "failed"
    CANCELLED_MAX_FAILURES = "cancelled_max_failures"
    EXPIRED_NO_TOKEN = "expired_no_token"  # noqa: S105 - an outcome, not a secret
    CANCELLED_SCHEDULED = "cancelled_scheduled"
    SKIPPED = "skipped"
    ERRORS = "errors"


@attrs.frozen
class RenewalReport:
    """How one sweep went. ``disabled`` means the kill switch stopped a scheduled run."""

    renewed: int = 0
    failed: int = 0
    cancelled_max_failures: int = 0
    expired_no_token: int = 0
    cancelled_scheduled: int = 0
    skipped: int = 0
    errors: int = 0
    disabled: bool = False

    @classmethod
    def of(cls, outcomes: list[RenewalOutcome]) -> RenewalReport:
        counts = Counter(outcomes)
        return cls(
            renewed=counts[RenewalOutcome.RENEWED],
            failed=counts[RenewalOutcome.FAILED],
            cancelled_max_failures=counts[RenewalOutcome.CANCELLED_MAX_FAILURES],
            expired_no_token=counts[RenewalOutcome.EXPIRED_NO_TOKEN],
            cancelled_scheduled=counts[RenewalOutcome.CANCELLED_SCHEDULED],
            skipped=counts[RenewalOutcome.SKIPPED],
            errors=counts[RenewalOutcome.ERRORS],
        )

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _renewal_charge_id(sub: PlatformSubscription) -> str:
    """The idempotency key of one renewal attempt: subscription, period end, attempt number.

    A retry after a decline is a new attempt (a gateway answers a reused id with the first
    answer, so it must not be reused); a repeat of the *same* attempt reuses it.
    """
    assert sub.current_period_end is not None  # only due subscriptions get here
    attempt = sub.failed_payment_count + 1
    return f"renew-{sub.id}-{sub.current_period_end:%Y%m%d}-a{attempt}"


async def run_renewals(
    svc: Services,
    as_of: datetime | None = None,
    *,
    scheduled: bool = False,
    limit: int | None = None,
    concurrency: int | None = None,
) -> RenewalReport:
    """Renew every subscription whose period ended by ``as_of`` (default: now).

    At most ``limit`` (default: ``renewal_batch_limit`` from the config, 100) per run, oldest
    period end first; the rest wait for the next run (R6). A scheduled run does nothing while
    ``billing_schedule_enabled`` is off; an operator's one-off run ignores the switch.
    Several sweepers at once share the due subscriptions (see the module docstring); each
    still renews oldest first within its share. Up to ``concurrency`` (default:
    ``renewal_concurrency`` from the config) subscriptions are charged at the same time, since
    each charge mostly waits on the gateway.
    """
    if scheduled and not svc.billing.schedule_enabled:
        return RenewalReport(disabled=True)
    as_of = as_of or svc.clock.now()
    budget = limit if limit is not None else svc.billing.renewal_batch_limit
    width = max(1, concurrency or svc.billing.renewal_concurrency)
    claims = _Claims(svc, as_of, budget=budget, batch=width)
    outcomes: list[RenewalOutcome] = []

    async def renew_claimed() -> None:
        while (claimed := await claims.next()) is not None:
            org_id = claimed if isinstance(claimed, str) else claimed.txn.organization_id
            try:
                if isinstance(claimed, str):
                    outcomes.append(await renew_subscription(svc, org_id, as_of))
                else:
                    outcomes.append(await _charge(svc, claimed, as_of))
            except Exception as exc:  # one bad subscription must not stop the tick
                svc.errors.capture_exception(exc, where="billing-renewals", organization_id=org_id)
                outcomes.append(RenewalOutcome.ERRORS)

    try:
        await asyncio.gather(*(renew_claimed() for _ in range(width)))
    finally:
        await claims.release()
    return RenewalReport.of(outcomes)


#: How long a sweeper's claim on a due subscription keeps other sweepers off it. A batch is
#: claimed only when the previous one is under way, so this needs to cover one batch, with
#: room for a slow Cardcom (the gateway's retries); it is also how long a crashed sweeper's
#: subscriptions wait.
RENEWAL_CLAIM_LEASE = timedelta(minutes=5)


class _Claims:
    """The subscriptions this sweep claimed, handed out oldest period end first.

    Claims are taken ``batch`` at a time (the concurrency), when the previous batch has been
    handed out, so a sweeper holds little more than it is working on and concurrent sweepers
    interleave on the oldest rows. At most ``budget`` in all (the per-run limit). Every batch
    gets its own lease, so a long sweep never claims rows with a lease already run out.
    Each handed out as an attempt already recorded with the claim (see the module docstring)
    or as an organization id for :func:`renew_subscription`.
    """

    def __init__(self, svc: Services, as_of: datetime, *, budget: int, batch: int) -> None:
        self._svc = svc
        self._as_of = as_of
        self._budget = budget
        self._batch = batch
        self._queue: deque[_Attempt | str] = deque()
        self._claimed: list[tuple[datetime, list[str]]] = []
        self._count = 0
        self._lock = asyncio.Lock()
        self._exhausted = False

    async def next(self) -> _Attempt | str | None:
        """The next claimed subscription, claiming a new batch when none is left."""
        async with self._lock:
            if not self._queue and not self._exhausted:
                await self._claim()
            return self._queue.popleft() if self._queue else None

    async def _claim(self) -> None:
        size = min(self._batch, self._budget - self._count)
        if size <= 0:
            self._exhausted = True
            return
        # The clock, not ``as_of``: a lease times a real process (a crashed sweeper's claims
        # must lapse in real minutes), whatever moment the sweep runs "as of".
        now = self._svc.clock.now()
        until = now + RENEWAL_CLAIM_LEASE
        async with self._svc.uow() as uow:
            subs = await uow.subscriptions.claim_due(self._as_of, limit=size, now=now, until=until)
            claimed = await _record_attempts(self._svc, uow, subs, self._as_of)
            await uow.commit()
        org_ids = [sub.organization_id for sub in subs]
        self._claimed.append((until, org_ids))
        self._count += len(org_ids)
        self._queue.extend(claimed)
        if len(subs) < size:
            self._exhausted = True  # nothing more is due, or other sweepers hold the rest

    async def release(self) -> None:
        """Let other sweepers have what this one claimed. Held until the sweep ends, so a
        subscription is tried once per sweep; one that erred is retried by the next sweep
        rather than after the lease."""
        held = [(until, org_ids) for until, org_ids in self._claimed if org_ids]
        if not held:
            return
        async with self._svc.uow() as uow:
            for until, org_ids in held:
                await uow.subscriptions.release_claims(org_ids, until=until)
            await uow.commit()


@attrs.frozen
class _Attempt:
    """A pending renewal attempt recorded in step 1, ready to charge."""

    txn: BillingTransaction
    card: StoredCard
    repair: bool
    #: The owners' addresses when looked up with the batch; None: look them up in step 3.
    owners: tuple[str, ...] | None = None


async def _record_attempts(
    svc: Services, uow: UnitOfWork, claimed: list[PlatformSubscription], as_of: datetime
) -> list[_Attempt | str]:
    """Step 1 for a claimed batch, in the claim's unit of work (which holds the rows locked):
    the usual attempts recorded together, the rest left to :func:`renew_subscription` (their
    organization ids), in the claim's order."""
    attempts = {
        sub.organization_id: _new_attempt(svc, sub, as_of)
        for sub in claimed
        if _plainly_chargeable(sub, as_of)
    }
    added = await uow.billing_transactions.add_many_if_new(list(attempts.values()))
    recorded = [txn for txn in attempts.values() if txn.id in added]
    await uow.billing_events.add_for_orgs(
        [(txn.organization_id, new_transaction_event(txn, as_of)) for txn in recorded]
    )
    owners = await uow.memberships.active_owner_emails_of(
        [txn.organization_id for txn in recorded], limit=emails.MAX_RECIPIENTS
    )
    out: list[_Attempt | str] = []
    for sub in claimed:
        txn = attempts.get(sub.organization_id)
        if txn is None or txn.id not in added or sub.card is None:
            out.append(sub.organization_id)  # its own path decides (a repair, a skip, ...)
        else:
            found = tuple(owners.get(sub.organization_id, ()))
            out.append(_Attempt(txn, sub.card, repair=False, owners=found))
    return out


def _plainly_chargeable(sub: PlatformSubscription, as_of: datetime) -> bool:
    """Due, with a card, not ending at the period's end, not waiting for a dunning retry."""
    return (
        sub.is_due(as_of)
        and not sub.cancel_at_period_end
        and sub.card is not None
        and not sub.awaits_next_attempt(as_of)
    )


async def renew_subscription(svc: Services, org_id: str, as_of: datetime) -> RenewalOutcome:
    """One subscription's renewal as of ``as_of``: the three steps of the module docstring."""
    step = await _prepare(svc, org_id, as_of)
    if isinstance(step, RenewalOutcome):
        return step
    return await _charge(svc, step, as_of)


async def _charge(svc: Services, step: _Attempt, as_of: datetime) -> RenewalOutcome:
    """Steps 2 and 3 of a recorded attempt."""
    org_id = step.txn.organization_id
    txn = step.txn
    external_id = str(txn.external_uniq_id)
    try:
        outcome = await svc.payment_gateway.find_charge(external_id) if step.repair else None
        if outcome is None:
            outcome = await svc.payment_gateway.charge_token(
                ChargeRequest(
                    card_token=open_card(svc, org_id, step.card),
                    card_expiry_mmyy=step.card.expiry_mmyy,
                    amount=txn.amount,
                    external_uniq_id=external_id,
                    description=f"fitdata {txn.tier.value.capitalize()} plan renewal",
                )
            )
    except FitdataError as exc:
        # Unreachable gateway (ProviderError) or a token no key opens: the charge may or may
        # not have happened, so the row stays pending and a later sweep looks it up.
        svc.errors.capture_exception(
            exc,
            where="billing-renewal-charge",
            organization_id=org_id,
            transaction_id=txn.id,
            provider_error=isinstance(exc, ProviderError),
        )
        return RenewalOutcome.ERRORS
    return await _record_outcome(svc, step, outcome, as_of)


async def _prepare(svc: Services, org_id: str, as_of: datetime) -> _Attempt | RenewalOutcome:
    mail: list[EmailMessage] = []
    async with svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org_for_update(org_id)
        if sub is None or not sub.is_due(as_of):
            return RenewalOutcome.SKIPPED  # another sweeper finished it meanwhile
        if sub.cancel_at_period_end or sub.card is None:
            reason, result = (
                (CancelReason.SCHEDULED_PERIOD_END, RenewalOutcome.CANCELLED_SCHEDULED)
                if sub.cancel_at_period_end
                else (CancelReason.EXPIRED_NO_TOKEN, RenewalOutcome.EXPIRED_NO_TOKEN)
            )
            done = await cancel_now(
                svc, uow, org_id, reason, as_of, cancel_pending_transactions=False
            )
            await uow.commit()
            mail = done.mail
        elif sub.awaits_next_attempt(as_of):
            # Dunning tries at most once per spacing of "as of" time, however often the
            # sweep is started at one moment.
            return RenewalOutcome.SKIPPED
        else:
            return await _claim_attempt(svc, uow, sub, as_of)
    await emails.send_all(svc, mail)
    return result


def _new_attempt(svc: Services, sub: PlatformSubscription, as_of: datetime) -> BillingTransaction:
    """The pending renewal transaction of ``sub``'s next attempt (not recorded yet)."""
    assert sub.current_period_end is not None  # due subscriptions have one
    return BillingTransaction(
        id=svc.ids.new_id(),
        organization_id=sub.organization_id,
        kind=TransactionKind.RENEWAL,
        tier=sub.tier,
        amount=svc.billing.price_of(sub.tier),
        status=TransactionStatus.PENDING,
        created_at=as_of,
        metadata={
            "tier": sub.tier.value,
            "periodEnd": sub.current_period_end.isoformat(),
            "attempt": sub.failed_payment_count + 1,
        },
        external_uniq_id=_renewal_charge_id(sub),
    )


async def _claim_attempt(
    svc: Services, uow: UnitOfWork, sub: PlatformSubscription, as_of: datetime
) -> _Attempt | RenewalOutcome:
    assert sub.card is not None  # card-less subscriptions expired above
    txn = _new_attempt(svc, sub, as_of)
    external_id = txn.external_uniq_id
    # Insert first, look second: the usual renewal is a new attempt, and the unique external
    # id tells in the same statement whether this attempt was recorded before.
    if await uow.billing_transactions.add_if_new(txn):
        await record(uow, sub.organization_id, [new_transaction_event(txn, as_of)])
        await uow.commit()
        return _Attempt(txn, sub.card, repair=False)
    for found in await pending_of_org(uow, sub.organization_id, kind=TransactionKind.RENEWAL):
        if found.external_uniq_id == external_id:
            if as_of - found.created_at < RENEWAL_LEASE:
                return RenewalOutcome.SKIPPED  # another sweeper is charging it right now
            return _Attempt(found, sub.card, repair=True)  # a crashed sweeper's: look it up
    return RenewalOutcome.SKIPPED  # this attempt is settled already (another sweeper's)


async def _record_outcome(
    svc: Services, attempt: _Attempt, outcome: ChargeOutcome, as_of: datetime
) -> RenewalOutcome:
    claimed = attempt.txn
    org_id = claimed.organization_id
    async with svc.uow() as uow:
        txn = await uow.billing_transactions.get_for_update(claimed.id)
        if txn is None or txn.status is not TransactionStatus.PENDING:
            if outcome.completed and txn is not None and txn.status is TransactionStatus.CANCELLED:
                _alert(svc, "Platform billing renewal charged after its cancellation", txn, outcome)
            return RenewalOutcome.SKIPPED  # another sweeper recorded it first
        sub = await uow.subscriptions.get_by_org_for_update(org_id)
        if sub is None or not _same_period(sub, txn):
            return await _record_orphan(svc, uow, txn, outcome, as_of)

        events: list[DomainEvent]
        if outcome.completed:
            txn, events = txn.complete(
                as_of, provider_transaction_id=outcome.provider_transaction_id
            )
            assert sub.current_period_end is not None  # checked by _same_period
            sub, sub_events = sub.renewal_succeeded(
                as_of, period_end=next_period_end(sub.current_period_end)
            )
            result = RenewalOutcome.RENEWED
        else:
            reason = outcome.description or "declined"
            txn, events = txn.fail(as_of, reason)
            sub, sub_events = sub.renewal_failed(as_of, reason)
            result = (
                RenewalOutcome.CANCELLED_MAX_FAILURES
                if sub.status is SubscriptionStatus.CANCELLED
                else RenewalOutcome.FAILED
            )
        await uow.billing_transactions.update(txn)
        await uow.subscriptions.save(sub)
        org = await locked_org(uow, org_id)
        org, tier_events = await sync_tier(uow, org, sub, as_of)
        await record(uow, org_id, [*events, *sub_events, *tier_events])
        if attempt.owners is None:
            audience = await emails.audience_of(svc, uow, org)
        else:  # looked up with the batch's claim
            audience = emails.audience_from(svc, org, attempt.owners)
        if result is RenewalOutcome.RENEWED:
            mail = emails.receipt(
                audience,
                sub,
                amount=txn.amount,
                provider_transaction_id=outcome.provider_transaction_id,
                renewal=True,
            )
        elif result is RenewalOutcome.FAILED:
            mail = emails.renewal_failed(
                audience,
                sub,
                amount=txn.amount,
                max_failures=MAX_FAILED_PAYMENTS,
                retry_after=sub.next_payment_attempt_at or as_of,
            )
        else:
            mail = emails.cancelled(audience, sub)
        await uow.commit()
    await emails.send_all(svc, mail)
    return result


def _same_period(sub: PlatformSubscription, txn: BillingTransaction) -> bool:
    return (
        sub.status is not SubscriptionStatus.CANCELLED
        and sub.current_period_end is not None
        and txn.metadata.get("periodEnd") == sub.current_period_end.isoformat()
    )


async def _record_orphan(
    svc: Services,
    uow: UnitOfWork,
    txn: BillingTransaction,
    outcome: ChargeOutcome,
    as_of: datetime,
) -> RenewalOutcome:
    """The subscription moved on (cancelled, or re-bought) while we charged: keep the truth
    about the money on the transaction and ask a person to look when money was taken."""
    if outcome.completed:
        txn, events = txn.complete(as_of, provider_transaction_id=outcome.provider_transaction_id)
        _alert(
            svc, "Platform billing renewal charged for a subscription that moved on", txn, outcome
        )
    else:
        txn, events = txn.fail(as_of, outcome.description or "declined")
    await uow.billing_transactions.update(txn)
    await record(uow, txn.organization_id, events)
    await uow.commit()
    return RenewalOutcome.SKIPPED


def _alert(svc: Services, message: str, txn: BillingTransaction, outcome: ChargeOutcome) -> None:
    svc.errors.capture_message(
        message,
        level="error",
        transaction_id=txn.id,
        organization_id=txn.organization_id,
        provider_transaction_id=outcome.provider_transaction_id,
    )
