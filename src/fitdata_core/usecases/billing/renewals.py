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
Step 3 is done for the charges that finish together, by a recorder task of the sweep (see
:class:`_Recorder`): a renewal hands its charge's outcome over and goes on to the next one.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import attrs

from fitdata_core.errors import FitdataError, NotFound, ProviderError
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
from fitdata_core.model.organizations import Organization
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
    recorder = _Recorder(svc, as_of, outcomes)

    async def renew_claimed() -> None:
        while (claimed := await claims.next()) is not None:
            org_id = claimed if isinstance(claimed, str) else claimed.txn.organization_id
            recorder.charge_started()
            try:
                step = (
                    claimed if isinstance(claimed, _Attempt) else await _prepare(svc, org_id, as_of)
                )
                charged = step if isinstance(step, RenewalOutcome) else await _charge(svc, step)
                if isinstance(charged, RenewalOutcome):
                    outcomes.append(charged)
                else:
                    assert isinstance(step, _Attempt)
                    recorder.add(step, charged)  # step 3, recorded with other charges
            except Exception as exc:  # one bad subscription must not stop the tick
                svc.errors.capture_exception(exc, where="billing-renewals", organization_id=org_id)
                outcomes.append(RenewalOutcome.ERRORS)
            finally:
                recorder.charge_ended()

    try:
        await asyncio.gather(*(renew_claimed() for _ in range(width)))
    finally:
        try:
            await recorder.close()
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
    or as an organization id for the one-subscription path.
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
    outcome = await _charge(svc, step)
    if isinstance(outcome, RenewalOutcome):
        return outcome
    result, mail = await _record_outcome(svc, step, outcome, as_of)
    await emails.send_all(svc, mail)
    return result


async def _charge(svc: Services, step: _Attempt) -> ChargeOutcome | RenewalOutcome:
    """Step 2 of a recorded attempt: what the gateway says (``ERRORS`` when it could not
    say; the row stays pending)."""
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
    return outcome


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


@attrs.frozen
class _Settlement:
    """Step 3 of one charge, worked out under the locks; :func:`_write` stores it."""

    result: RenewalOutcome
    org_id: str
    txn: BillingTransaction | None = None
    sub: PlatformSubscription | None = None
    events: tuple[DomainEvent, ...] = ()
    org: Organization | None = None
    #: Builds the owners' mail once the audience is known (None: no mail).
    mail: Callable[[emails.Audience], list[EmailMessage]] | None = None


async def _settle(
    svc: Services,
    uow: UnitOfWork,
    attempt: _Attempt,
    outcome: ChargeOutcome,
    as_of: datetime,
    locked: tuple[BillingTransaction | None, PlatformSubscription | None, Organization | None],
) -> _Settlement:
    """What the charge's ``outcome`` does to the attempt's transaction, subscription and
    organization, as they are now under this unit of work's locks (``locked``)."""
    txn, sub, org = locked
    org_id = attempt.txn.organization_id
    if txn is None or txn.status is not TransactionStatus.PENDING:
        if outcome.completed and txn is not None and txn.status is TransactionStatus.CANCELLED:
            _alert(svc, "Platform billing renewal charged after its cancellation", txn, outcome)
        return _Settlement(RenewalOutcome.SKIPPED, org_id)  # another sweeper recorded it first
    if sub is None or not _same_period(sub, txn):
        return _orphan(svc, txn, outcome, as_of)
    if org is None:
        raise NotFound(f"Organization {org_id} not found.")

    events: list[DomainEvent]
    mail: Callable[[emails.Audience], list[EmailMessage]]
    if outcome.completed:
        txn, events = txn.complete(as_of, provider_transaction_id=outcome.provider_transaction_id)
        assert sub.current_period_end is not None  # checked by _same_period
        sub, sub_events = sub.renewal_succeeded(
            as_of, period_end=next_period_end(sub.current_period_end)
        )
        result = RenewalOutcome.RENEWED
        mail = functools.partial(
            emails.receipt,
            sub=sub,
            amount=txn.amount,
            provider_transaction_id=outcome.provider_transaction_id,
            renewal=True,
        )
    else:
        reason = outcome.description or "declined"
        txn, events = txn.fail(as_of, reason)
        sub, sub_events = sub.renewal_failed(as_of, reason)
        if sub.status is SubscriptionStatus.CANCELLED:
            result = RenewalOutcome.CANCELLED_MAX_FAILURES
            mail = functools.partial(emails.cancelled, sub=sub)
        else:
            result = RenewalOutcome.FAILED
            mail = functools.partial(
                emails.renewal_failed,
                sub=sub,
                amount=txn.amount,
                max_failures=MAX_FAILED_PAYMENTS,
                retry_after=sub.next_payment_attempt_at or as_of,
            )
    org, tier_events = await sync_tier(uow, org, sub, as_of)
    all_events = (*events, *sub_events, *tier_events)
    return _Settlement(result, org_id, txn, sub, all_events, org, mail)


def _orphan(
    svc: Services, txn: BillingTransaction, outcome: ChargeOutcome, as_of: datetime
) -> _Settlement:
    """The subscription moved on (cancelled, or re-bought) while we charged: keep the truth
    about the money on the transaction and ask a person to look when money was taken."""
    if outcome.completed:
        txn, events = txn.complete(as_of, provider_transaction_id=outcome.provider_transaction_id)
        _alert(
            svc, "Platform billing renewal charged for a subscription that moved on", txn, outcome
        )
    else:
        txn, events = txn.fail(as_of, outcome.description or "declined")
    return _Settlement(RenewalOutcome.SKIPPED, txn.organization_id, txn, events=tuple(events))


async def _write(
    svc: Services, uow: UnitOfWork, done: list[tuple[_Attempt, _Settlement]]
) -> list[list[EmailMessage]]:
    """Store settlements (each kind of row in one statement for all of them) and build their
    mail, to send once the caller has committed. Owners not looked up with the claim are
    looked up here, together."""
    await uow.billing_transactions.update_many([s.txn for _, s in done if s.txn is not None])
    await uow.subscriptions.save_many([s.sub for _, s in done if s.sub is not None])
    await uow.billing_events.add_for_orgs([(s.org_id, e) for _, s in done for e in s.events])
    unknown = [s.org_id for a, s in done if s.mail is not None and a.owners is None]
    owners = await uow.memberships.active_owner_emails_of(unknown, limit=emails.MAX_RECIPIENTS)
    mail: list[list[EmailMessage]] = []
    for attempt, settled in done:
        if settled.mail is None or settled.org is None:
            mail.append([])
            continue
        found = attempt.owners if attempt.owners is not None else owners.get(settled.org_id, [])
        mail.append(settled.mail(emails.audience_from(svc, settled.org, found)))
    return mail


async def _record_outcome(
    svc: Services, attempt: _Attempt, outcome: ChargeOutcome, as_of: datetime
) -> tuple[RenewalOutcome, list[EmailMessage]]:
    """Step 3 for one charge in its own unit of work: the result and the mail to send."""
    org_id = attempt.txn.organization_id
    async with svc.uow() as uow:
        txn = await uow.billing_transactions.get_for_update(attempt.txn.id)
        sub = org = None
        if txn is not None and txn.status is TransactionStatus.PENDING:
            sub = await uow.subscriptions.get_by_org_for_update(org_id)
            if sub is not None and _same_period(sub, txn):
                org = await locked_org(uow, org_id)
        settled = await _settle(svc, uow, attempt, outcome, as_of, (txn, sub, org))
        if settled.txn is None:
            return settled.result, []  # nothing to write
        [mail] = await _write(svc, uow, [(attempt, settled)])
        await uow.commit()
    return settled.result, mail


async def _record_outcomes(
    svc: Services, charged: list[tuple[_Attempt, ChargeOutcome]], as_of: datetime
) -> list[tuple[RenewalOutcome, list[EmailMessage]]]:
    """Step 3 for several charges in one unit of work: their transactions, subscriptions and
    organizations each locked in one statement (in the module's lock order, each kind in id
    order), the changes written in one statement per kind. The organizations must differ."""
    txn_ids = [attempt.txn.id for attempt, _ in charged]
    org_ids = [attempt.txn.organization_id for attempt, _ in charged]
    async with svc.uow() as uow:
        txns = await uow.billing_transactions.get_many_for_update(txn_ids)
        subs = await uow.subscriptions.get_many_by_org_for_update(org_ids)
        orgs = await uow.organizations.get_many_for_update(org_ids)
        done = []
        for attempt, outcome in charged:
            org_id = attempt.txn.organization_id
            locked = (txns.get(attempt.txn.id), subs.get(org_id), orgs.get(org_id))
            done.append((attempt, await _settle(svc, uow, attempt, outcome, as_of, locked)))
        mail = await _write(svc, uow, done)
        await uow.commit()
    return [(settled.result, m) for (_, settled), m in zip(done, mail, strict=True)]


#: The recorder waits up to this long for more charges to finish before it records the ones
#: it has (only while charges are under way), and records at most this many at once.
_RECORD_LINGER_SECONDS = 0.25
_RECORD_BATCH = 64


class _Recorder:
    """Step 3 for a sweep's charges, several at a time (:func:`_record_outcomes`), in a task
    of its own: a renewal hands its charge's outcome over and goes on to the next
    subscription, so waiting for company costs no charging time. Should a batch fail, its
    charges are recorded one by one (one bad subscription must not stop the others). Mail
    goes out after each commit."""

    def __init__(self, svc: Services, as_of: datetime, outcomes: list[RenewalOutcome]) -> None:
        self._svc = svc
        self._as_of = as_of
        self._outcomes = outcomes
        self._waiting: list[tuple[_Attempt, ChargeOutcome]] = []
        self._charging = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._mail: set[asyncio.Task[None]] = set()

    def charge_started(self) -> None:
        self._charging += 1

    def charge_ended(self) -> None:
        self._charging -= 1
        self._changed.set()

    def add(self, attempt: _Attempt, outcome: ChargeOutcome) -> None:
        self._waiting.append((attempt, outcome))
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Record whatever is left and wait for the mail."""
        self._closing = True
        self._changed.set()
        if self._task is not None:
            await self._task
        await asyncio.gather(*self._mail)

    async def _run(self) -> None:
        while self._waiting:
            await self._linger()
            batch = self._take()
            for result, mail in await self._record(batch):
                self._outcomes.append(result)
                if mail:
                    task = asyncio.create_task(emails.send_all(self._svc, mail))
                    self._mail.add(task)
                    task.add_done_callback(self._mail.discard)

    async def _linger(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _RECORD_LINGER_SECONDS
        while len(self._waiting) < _RECORD_BATCH and self._charging and not self._closing:
            left = deadline - loop.time()
            if left <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return

    def _take(self) -> list[tuple[_Attempt, ChargeOutcome]]:
        """Up to a batch, one charge per organization (a batch settles each from one read)."""
        batch: list[tuple[_Attempt, ChargeOutcome]] = []
        later: list[tuple[_Attempt, ChargeOutcome]] = []
        orgs: set[str] = set()
        for item in self._waiting:
            org_id = item[0].txn.organization_id
            if len(batch) < _RECORD_BATCH and org_id not in orgs:
                orgs.add(org_id)
                batch.append(item)
            else:
                later.append(item)
        self._waiting = later
        return batch

    async def _record(
        self, batch: list[tuple[_Attempt, ChargeOutcome]]
    ) -> list[tuple[RenewalOutcome, list[EmailMessage]]]:
        try:
            return await _record_outcomes(self._svc, batch, self._as_of)
        except (
            Exception
        ) as batch_exc:  # any failure: record them one by one, where errors are reported
            # Said out loud: a batch that keeps failing (contention, a bad row) costs a
            # transaction per charge, which operators should see even when each one succeeds.
            self._svc.errors.capture_message(
                "Renewal outcomes could not be recorded together; recording them one by one.",
                level="warning",
                where="billing-renewals",
                charges=len(batch),
                error=type(batch_exc).__name__,
            )
            results = []
            for attempt, outcome in batch:
                try:
                    results.append(await _record_outcome(self._svc, attempt, outcome, self._as_of))
                except Exception as exc:  # one bad subscription must not stop the others
                    self._svc.errors.capture_exception(
                        exc, where="billing-renewals", organization_id=attempt.txn.organization_id
                    )
                    results.append((RenewalOutcome.ERRORS, []))
            return results


def _same_period(sub: PlatformSubscription, txn: BillingTransaction) -> bool:
    return (
        sub.status is not SubscriptionStatus.CANCELLED
        and sub.current_period_end is not None
        and txn.metadata.get("periodEnd") == sub.current_period_end.isoformat()
    )


def _alert(svc: Services, message: str, txn: BillingTransaction, outcome: ChargeOutcome) -> None:
    svc.errors.capture_message(
        message,
        level="error",
        transaction_id=txn.id,
        organization_id=txn.organization_id,
        provider_transaction_id=outcome.provider_transaction_id,
    )
