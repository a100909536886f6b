"""Every state machine, driven by random sequences of moves.

A legal move (by the transition table) lands exactly where the table says; an illegal one
raises :class:`IllegalTransition` and leaves the object as it was (it is frozen; the test keeps
using the old value, so "nothing changed" means the call returned nothing new).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_core.errors import BusinessRuleViolation, IllegalTransition
from fitdata_core.model.billing import (
    MAX_FAILED_PAYMENTS,
    SUBSCRIPTION_TRANSITIONS,
    TRANSACTION_TRANSITIONS,
    BillingTransaction,
    CancelReason,
    PlatformSubscription,
    SubscriptionStatus,
    TransactionKind,
    TransactionStatus,
    effective_tier,
)
from fitdata_core.model.jobs import (
    EXPORT_TRANSITIONS,
    IMPORT_TRANSITIONS,
    ExportJob,
    ExportStatus,
    ImportJob,
    ImportPhase,
    ImportSource,
    ImportStatus,
)
from fitdata_core.model.tiers import PlatformTier
from fitdata_core.money import Money
from fitdata_core.statemachine import TransitionTable

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def _at(step: int) -> datetime:
    return T0 + timedelta(minutes=step)


def _table_is_closed(table: TransitionTable[Any], states: type[Any]) -> None:
    """Every state the table names exists, and terminal states have no way out."""
    for source, targets in table.allowed.items():
        assert source in states
        assert targets <= set(states)
    for state in states:
        if table.is_terminal(state):
            assert not any(table.can(state, t) for t in states)


def test_tables_are_well_formed() -> None:
    _table_is_closed(EXPORT_TRANSITIONS, ExportStatus)
    _table_is_closed(IMPORT_TRANSITIONS, ImportStatus)
    _table_is_closed(TRANSACTION_TRANSITIONS, TransactionStatus)
    _table_is_closed(SUBSCRIPTION_TRANSITIONS, SubscriptionStatus)
    assert TRANSACTION_TRANSITIONS.is_terminal(TransactionStatus.COMPLETED)
    assert TRANSACTION_TRANSITIONS.is_terminal(TransactionStatus.CANCELLED)
    assert not SUBSCRIPTION_TRANSITIONS.can(
        SubscriptionStatus.CANCELLED, SubscriptionStatus.PAST_DUE
    )


def _drive(
    obj: Any,
    moves: list[str],
    apply: dict[str, Callable[[Any, datetime], Any]],
    target_of: dict[str, Any],
    table: TransitionTable[Any],
) -> int:
    """Apply ``moves`` in order; returns how many were legal."""
    legal = 0
    for step, move in enumerate(moves):
        target = target_of[move]
        if table.can(obj.status, target):
            moved, events = apply[move](obj, _at(step))
            assert moved.status is target
            assert events, "every legal move reports what happened"
            obj = moved
            legal += 1
        else:
            before = obj
            with pytest.raises(IllegalTransition) as info:
                apply[move](obj, _at(step))
            assert info.value.current == obj.status.value
            assert obj == before
    return legal


# --- export job ------------------------------------------------------------------------------

_EXPORT_APPLY: dict[str, Callable[[Any, datetime], Any]] = {
    "start": lambda j, at: j.start(at),
    "complete": lambda j, at: j.complete(at, row_count=3, file_size=10, file_key="k"),
    "fail": lambda j, at: j.fail(at, "boom"),
}
_EXPORT_TARGET = {
    "start": ExportStatus.IN_PROGRESS,
    "complete": ExportStatus.COMPLETED,
    "fail": ExportStatus.FAILED,
}


@given(st.lists(st.sampled_from(sorted(_EXPORT_APPLY)), max_size=12))
def test_export_job_follows_its_table(moves: list[str]) -> None:
    job = ExportJob(
        id="e1",
        organization_id="o1",
        kind="members",
        status=ExportStatus.PENDING,
        config={},
        started_by="u1",
        created_at=T0,
    )
    legal = _drive(job, moves, _EXPORT_APPLY, _EXPORT_TARGET, EXPORT_TRANSITIONS)
    assert legal <= 2  # pending -> in_progress -> a final state, at most


# --- import job, with its phases -------------------------------------------------------------

_IMPORT_TARGET = {
    "start": ImportStatus.IN_PROGRESS,
    "complete": ImportStatus.COMPLETED,
    "fail": ImportStatus.FAILED,
    "cancel": ImportStatus.CANCELLED,
}
_import_moves = st.one_of(
    st.sampled_from(sorted(_IMPORT_TARGET)), st.sampled_from(list(ImportPhase))
)


@given(st.lists(_import_moves, max_size=16))
def test_import_job_follows_its_table_and_phases_only_move_forward_while_running(
    moves: list[str | ImportPhase],
) -> None:
    job = ImportJob(
        id="i1",
        organization_id="o1",
        source=ImportSource.ARBOX,
        status=ImportStatus.PENDING,
        phase=ImportPhase.QUEUED,
        config={},
        started_by="u1",
        created_at=T0,
    )
    order = list(ImportPhase)
    for step, move in enumerate(moves):
        at = _at(step)
        before = job
        if isinstance(move, ImportPhase):
            legal = job.status is ImportStatus.IN_PROGRESS and order.index(move) >= order.index(
                job.phase
            )
            if legal:
                job, _ = job.enter_phase(move, at)
                assert (job.phase, job.status) == (move, ImportStatus.IN_PROGRESS)
            else:
                with pytest.raises(IllegalTransition):
                    job.enter_phase(move, at)
                assert job == before
            continue
        target = _IMPORT_TARGET[move]
        if IMPORT_TRANSITIONS.can(job.status, target):
            job, _ = getattr(job, move)(at) if move != "fail" else job.fail(at, "boom")
            assert job.status is target
            if target is ImportStatus.COMPLETED:
                assert job.phase is ImportPhase.DONE
        else:
            with pytest.raises(IllegalTransition):
                getattr(job, move)(at) if move != "fail" else job.fail(at, "boom")
            assert job == before
        assert job.is_active == (job.status in {ImportStatus.PENDING, ImportStatus.IN_PROGRESS})


# --- billing transaction ---------------------------------------------------------------------

_TXN_APPLY: dict[str, Callable[[Any, datetime], Any]] = {
    "complete": lambda t, at: t.complete(at, provider_transaction_id="p1"),
    "fail": lambda t, at: t.fail(at, "declined"),
    "cancel": lambda t, at: t.cancel(at, "superseded"),
}
_TXN_TARGET = {
    "complete": TransactionStatus.COMPLETED,
    "fail": TransactionStatus.FAILED,
    "cancel": TransactionStatus.CANCELLED,
}


@given(st.lists(st.sampled_from(sorted(_TXN_APPLY)), max_size=8))
def test_billing_transaction_settles_once_and_never_again(moves: list[str]) -> None:
    txn = BillingTransaction(
        id="t1",
        organization_id="o1",
        kind=TransactionKind.CHECKOUT,
        tier=PlatformTier.PRO,
        amount=Money("249"),
        status=TransactionStatus.PENDING,
        created_at=T0,
    )
    legal = _drive(txn, moves, _TXN_APPLY, _TXN_TARGET, TRANSACTION_TRANSITIONS)
    # The first move settles it for good; every later one is refused.
    assert legal == min(len(moves), 1)


# --- subscription ----------------------------------------------------------------------------

_sub_moves = st.one_of(
    st.tuples(st.just("activate"), st.sampled_from([PlatformTier.PRO, PlatformTier.ELITE])),
    st.tuples(st.just("renewal_succeeded"), st.none()),
    st.tuples(st.just("renewal_failed"), st.none()),
    st.tuples(st.just("schedule_cancel"), st.none()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(st.just("cancel"), st.sampled_from(list(CancelReason))),
)


@given(st.lists(_sub_moves, max_size=25))
def test_subscription_follows_its_table_and_rules(moves: list[tuple[str, Any]]) -> None:
    sub = PlatformSubscription(
        id="s1",
        organization_id="o1",
        tier=PlatformTier.PRO,
        status=SubscriptionStatus.ACTIVE,
        created_at=T0,
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=31),
    )
    for step, (move, arg) in enumerate(moves):
        at = _at(step)
        before = sub
        cancelled = sub.status is SubscriptionStatus.CANCELLED
        if move == "activate":
            sub, _ = sub.activate(at, tier=arg, period_end=at + timedelta(days=31), card=None)
            assert (sub.status, sub.tier, sub.failed_payment_count) == (
                SubscriptionStatus.ACTIVE,
                arg,
                0,
            )
            assert not sub.cancel_at_period_end
        elif move == "renewal_succeeded":
            if cancelled:
                with pytest.raises(IllegalTransition):
                    sub.renewal_succeeded(at, period_end=at)
            else:
                sub, _ = sub.renewal_succeeded(at, period_end=at + timedelta(days=31))
                assert (sub.status, sub.failed_payment_count) == (SubscriptionStatus.ACTIVE, 0)
                assert sub.current_period_start == before.current_period_end
        elif move == "renewal_failed":
            if cancelled:
                with pytest.raises(IllegalTransition):
                    sub.renewal_failed(at, "declined")
            else:
                sub, _ = sub.renewal_failed(at, "declined")
                assert sub.failed_payment_count == before.failed_payment_count + 1
                if sub.failed_payment_count >= MAX_FAILED_PAYMENTS:
                    assert sub.status is SubscriptionStatus.CANCELLED
                    assert sub.cancel_reason is CancelReason.MAX_FAILED_PAYMENTS
                else:
                    assert sub.status is SubscriptionStatus.PAST_DUE
        elif move == "schedule_cancel":
            if cancelled:
                with pytest.raises(BusinessRuleViolation):
                    sub.schedule_cancel(at)
            else:
                sub, _ = sub.schedule_cancel(at)
                assert sub.cancel_at_period_end
                assert sub.status is before.status
        elif move == "resume":
            if cancelled or not sub.cancel_at_period_end:
                with pytest.raises(BusinessRuleViolation):
                    sub.resume(at)
            else:
                sub, _ = sub.resume(at)
                assert not sub.cancel_at_period_end
        else:
            if cancelled:
                with pytest.raises(IllegalTransition):
                    sub.cancel(at, arg)
            else:
                sub, _ = sub.cancel(at, arg)
                assert (sub.status, sub.cancel_reason) == (SubscriptionStatus.CANCELLED, arg)
        if sub is not before:  # a refused move left the (frozen) original in place
            assert SUBSCRIPTION_TRANSITIONS.can(before.status, sub.status)
        # What the org gets always follows the subscription.
        expected = PlatformTier.LITE if sub.status is SubscriptionStatus.CANCELLED else sub.tier
        assert effective_tier(sub) is expected
        if sub.status is SubscriptionStatus.ACTIVE:
            assert sub.failed_payment_count == 0
        if sub.status is not SubscriptionStatus.CANCELLED:
            assert sub.failed_payment_count < MAX_FAILED_PAYMENTS
