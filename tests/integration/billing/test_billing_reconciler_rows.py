"""QA plan, reconciler: RC1–RC5 (the sweep the scheduler runs every five minutes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from billing_http_harness import Stack

from fitdata_core.model.billing import TransactionStatus
from fitdata_core.usecases.billing import HUNG_MESSAGE, expire_stale, reconcile

pytestmark = pytest.mark.integration


async def _lookups(stack: Stack) -> int:
    calls = (await stack.cardcom.get("/_sandbox/calls")).json()["calls"]
    return sum(c["endpoint"] == "lowprofile/getlpresult" for c in calls)


async def _txn_status(stack: Stack, txn_id: str) -> TransactionStatus:
    async with stack.svc.uow() as uow:
        txn = await uow.billing_transactions.get(txn_id)
    assert txn is not None
    return txn.status


async def test_RC1_paid_pending_row_two_minutes_old_completes(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])
    stack.clock.advance(timedelta(minutes=2))

    report = await reconcile(stack.svc, scheduled=True)

    assert report.completed == 1
    assert report.as_dict()["completed"] == 1
    assert await _txn_status(stack, session["transactionId"]) is TransactionStatus.COMPLETED
    assert (await stack.status(gym))["tier"] == "pro"


async def test_RC2_unpaid_row_eleven_minutes_old_alerts_hung(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)
    stack.clock.advance(timedelta(minutes=11))

    report = await reconcile(stack.svc, scheduled=True)

    assert report.hang_alerted == 1
    hung = [r for r in stack.errors.reports if r.message == HUNG_MESSAGE]
    assert len(hung) == 1
    assert hung[0].level == "warning"
    assert hung[0].context["transaction_id"] == session["transactionId"]
    assert await _txn_status(stack, session["transactionId"]) is TransactionStatus.PENDING


async def test_RC3_alerted_thirty_minutes_ago_is_not_alerted_again(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.checkout(gym)
    stack.clock.advance(timedelta(minutes=11))
    first = await reconcile(stack.svc, scheduled=True)
    stack.clock.advance(timedelta(minutes=30))

    second = await reconcile(stack.svc, scheduled=True)

    assert first.hang_alerted == 1
    assert second.hang_alerted == 0
    assert second.still_pending == 1
    assert len(stack.alerts(HUNG_MESSAGE)) == 1


async def test_RC4_rows_older_than_an_hour_are_left_to_the_stale_sweep(stack: Stack) -> None:
    gym = await stack.gym()
    session = await stack.checkout(gym)
    stack.clock.advance(timedelta(minutes=61))
    lookups_before = await _lookups(stack)

    report = await reconcile(stack.svc, scheduled=True)
    early_sweep = await expire_stale(stack.svc, scheduled=True)

    assert report.as_dict() == {
        "completed": 0,
        "failed": 0,
        "hang_alerted": 0,
        "still_pending": 0,
        "already_processed": 0,
        "unknown": 0,
        "disabled": False,
    }
    assert await _lookups(stack) == lookups_before  # not even asked about
    assert early_sweep.cancelled == 0

    stack.clock.advance(timedelta(days=7))
    stale_sweep = await expire_stale(stack.svc, scheduled=True)

    assert stale_sweep.cancelled == 1
    assert await _txn_status(stack, session["transactionId"]) is TransactionStatus.CANCELLED


async def test_RC5_cardcom_unreachable_reports_and_next_tick_retries(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.suppress_webhooks()
    session = await stack.checkout(gym)
    await stack.pay(session["lowProfileId"])
    stack.clock.advance(timedelta(minutes=3))
    await stack.cardcom.post(
        "/_sandbox/faults", json={"mode": "error", "count": 4, "endpoint": "lowprofile/getlpresult"}
    )

    down = await reconcile(stack.svc, scheduled=True)

    assert down.unknown == 1
    captured = [r for r in stack.errors.reports if r.kind == "exception"]
    assert [r.context["where"] for r in captured] == ["billing-reconcile"]
    assert await _txn_status(stack, session["transactionId"]) is TransactionStatus.PENDING

    stack.clock.advance(timedelta(minutes=5))
    next_tick = await reconcile(stack.svc, scheduled=True)

    assert next_tick.completed == 1
    assert (await stack.status(gym))["tier"] == "pro"
