"""QA plan, recurring renewal: R1–R6, time-travelled with the manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from billing_http_harness import GymUsers, Stack, bearer

from fitdata_adapters.cardcom_sandbox import TOKEN_DECLINES_LATER_CARD
from fitdata_core.rules.billing_periods import next_period_end
from fitdata_core.usecases.billing import run_renewals
from fitdata_core.usecases.organizations import create_organization

pytestmark = pytest.mark.integration


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _period_end(stack: Stack, gym: GymUsers) -> datetime:
    return _when((await stack.status(gym))["currentPeriodEnd"])


async def test_R1_renewal_with_valid_token(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    old_end = await _period_end(stack, gym)
    stack.clock.set(old_end + timedelta(hours=2))

    report = await run_renewals(stack.svc)

    assert report.renewed == 1
    status = await stack.status(gym)
    assert status["status"] == "active"
    assert status["tier"] == "pro"
    assert _when(status["currentPeriodStart"]) == old_end
    assert _when(status["currentPeriodEnd"]) == next_period_end(old_end)
    assert status["failedPaymentCount"] == 0
    assert _when(status["lastChargedAt"]) == stack.clock.now()
    renewals = [t for t in await stack.transactions(gym) if t["kind"] == "renewal"]
    assert [(t["status"], t["amount"]) for t in renewals] == [
        ("completed", {"amount": "249.00", "currency": "ILS"})
    ]
    charges = await stack.token_charges()
    assert [(c["Amount"], c["Charged"]) for c in charges] == [(249, True)]
    assert [m.subject for m in stack.mailer.sent].count(
        "Receipt: fitdata Pro plan, 249.00 ILS"
    ) == 2


async def test_R2_first_renewal_failure_goes_past_due(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym, card=TOKEN_DECLINES_LATER_CARD)
    stack.clock.set(await _period_end(stack, gym) + timedelta(hours=2))

    report = await run_renewals(stack.svc)

    assert report.failed == 1
    status = await stack.status(gym)
    assert status["status"] == "past_due"
    assert status["failedPaymentCount"] == 1
    assert status["tier"] == "pro"  # grace: features stay while dunning runs
    assert status["access"]["level"] == "grace"
    renewals = [t for t in await stack.transactions(gym) if t["kind"] == "renewal"]
    assert [t["status"] for t in renewals] == ["failed"]
    # The gap in the old system (no email) is closed: the owner is told what happens next.
    failed_mail = [m for m in stack.mailer.sent if "payment failed" in m.subject]
    assert [m.to for m in failed_mail] == [gym.owner_email]
    assert "attempt 1 of 3" in failed_mail[0].text


async def test_R3_third_renewal_failure_cancels_to_lite(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym, card=TOKEN_DECLINES_LATER_CARD)
    end = await _period_end(stack, gym)

    reports = []
    for day in range(3):  # the daily sweep, three days running
        stack.clock.set(end + timedelta(days=day, hours=2))
        reports.append(await run_renewals(stack.svc))

    assert [(r.failed, r.cancelled_max_failures) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    status = await stack.status(gym)
    assert status["status"] == "cancelled"
    assert status["tier"] == "lite"
    assert status["cancelReason"] == "max-failed-payments"
    assert status["failedPaymentCount"] == 3
    charges = await stack.token_charges()
    assert len(charges) == 3
    assert not any(c["Charged"] for c in charges)


async def test_R4_no_token_and_period_expired_expires_to_lite(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    async with stack.svc.uow() as uow:  # a subscription whose card was never saved
        sub = await uow.subscriptions.get_by_org_for_update(gym.org_id)
        assert sub is not None
        await uow.subscriptions.save(attrs.evolve(sub, card=None))
        await uow.commit()
    stack.clock.set(await _period_end(stack, gym) + timedelta(hours=2))

    report = await run_renewals(stack.svc)

    assert report.expired_no_token == 1
    status = await stack.status(gym)
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    assert status["cancelReason"] == "expired-no-token"
    assert await stack.token_charges() == []


async def test_R5_cancel_at_period_end_finalises_without_charging(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    cancel = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/cancel", headers=bearer(gym.owner)
    )
    assert cancel.status_code == 200
    stack.clock.set(await _period_end(stack, gym) + timedelta(hours=2))

    report = await run_renewals(stack.svc)

    assert report.cancelled_scheduled == 1
    status = await stack.status(gym)
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    assert status["cancelReason"] == "scheduled-cancel-period-end"
    assert await stack.token_charges() == []
    assert [t["kind"] for t in await stack.transactions(gym)] == ["checkout"]


async def test_R6_per_tick_limit_takes_the_oldest_hundred(stack: Stack) -> None:
    # 101 gyms pay one minute apart, so their periods end one minute apart.
    org_ids: list[str] = []
    for number in range(101):
        org = await create_organization(
            stack.svc, name=f"Gym {number:03d}", owner_email=f"owner{number:03d}@gyms.example.com"
        )
        async with stack.svc.uow() as uow:
            owner = await uow.users.get_by_email(f"owner{number:03d}@gyms.example.com")
        assert owner is not None
        gym = GymUsers(org.id, owner.id, owner.id, owner.id, owner.id, owner.email)
        session = await stack.checkout(gym)
        await stack.pay(session["lowProfileId"])
        await stack.wait_delivered(session["lowProfileId"])
        org_ids.append(org.id)
        stack.clock.advance(timedelta(minutes=1))
    async with stack.svc.uow() as uow:
        last = await uow.subscriptions.get_by_org(org_ids[-1])
    assert last is not None
    assert last.current_period_end is not None
    stack.clock.set(last.current_period_end + timedelta(hours=1))

    first_tick = await run_renewals(stack.svc)  # the default limit: 100 per tick

    assert first_tick.renewed == 100
    async with stack.svc.uow() as uow:
        still_due = await uow.subscriptions.list_due(stack.clock.now(), limit=1000)
        await uow.commit()
    assert [s.organization_id for s in still_due] == [org_ids[-1]]  # the latest period end
    assert len(await stack.token_charges()) == 100

    stack.clock.advance(timedelta(days=1))
    next_tick = await run_renewals(stack.svc)

    assert next_tick.renewed == 1
    assert len(await stack.token_charges()) == 101
