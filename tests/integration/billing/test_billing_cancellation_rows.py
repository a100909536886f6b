"""QA plan, cancellation: C1–C8 over HTTP (the period-end sweep is the renewal use case)."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import httpx
import pytest
from billing_http_harness import GymUsers, Stack, bearer

from fitdata_core.usecases.billing import run_renewals
from fitdata_core.usecases.users import set_platform_admin

pytestmark = pytest.mark.integration


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _post(stack: Stack, gym: GymUsers, action: str) -> httpx.Response:
    return await stack.app.post(
        f"/organizations/{gym.org_id}/billing/{action}", headers=bearer(gym.owner)
    )


async def _patch_tier(stack: Stack, gym: GymUsers, tier: str) -> httpx.Response:
    return await stack.app.patch(
        f"/organizations/{gym.org_id}/billing/tier", json={"tier": tier}, headers=bearer(gym.owner)
    )


async def test_C1_owner_cancels_pro_keeps_it_until_period_end(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)

    response = await _post(stack, gym, "cancel")

    assert response.status_code == 200, response.text
    status = response.json()["data"]
    assert status["cancelAtPeriodEnd"] is True
    assert status["status"] == "active"
    assert status["tier"] == "pro"
    assert status["cancellationEffectiveAt"] == status["currentPeriodEnd"]
    assert status["access"] == {
        "level": "full",
        "reason": "cancel-scheduled",
        "until": status["currentPeriodEnd"],
    }
    # Pro features still work meanwhile.
    course = await stack.app.post(
        f"/organizations/{gym.org_id}/courses", json={"name": "Yoga"}, headers=bearer(gym.owner)
    )
    assert course.status_code == 201


async def test_C2_owner_resumes_before_the_sweep(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    await _post(stack, gym, "cancel")

    response = await _post(stack, gym, "resume")

    assert response.status_code == 200, response.text
    assert response.json()["data"]["cancelAtPeriodEnd"] is False
    assert response.json()["data"]["cancellationEffectiveAt"] is None
    # ... and the subscription continues normally: the period end renews it.
    stack.clock.set(_when(response.json()["data"]["currentPeriodEnd"]) + timedelta(hours=1))
    report = await run_renewals(stack.svc, scheduled=True)
    assert report.renewed == 1
    assert (await stack.status(gym))["status"] == "active"


async def test_C3_cancel_then_period_passes_cron_finalises(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    cancelled = (await _post(stack, gym, "cancel")).json()["data"]
    stack.clock.set(_when(cancelled["currentPeriodEnd"]) + timedelta(minutes=30))

    report = await run_renewals(stack.svc, scheduled=True)  # what the daily cron runs

    assert report.cancelled_scheduled == 1
    status = await stack.status(gym)
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    course = await stack.app.post(
        f"/organizations/{gym.org_id}/courses", json={"name": "Yoga"}, headers=bearer(gym.owner)
    )
    assert course.status_code == 403


async def test_C4_cancel_without_current_period_cancels_now_with_a_warning(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)
    async with stack.svc.uow() as uow:
        sub = await uow.subscriptions.get_by_org_for_update(gym.org_id)
        assert sub is not None
        await uow.subscriptions.save(attrs.evolve(sub, current_period_end=None))
        await uow.commit()

    response = await _post(stack, gym, "cancel")

    assert response.status_code == 200, response.text
    status = response.json()["data"]
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    assert status["cancelReason"] == "no-current-period"
    warnings = [r for r in stack.errors.reports if "no current period" in r.message]
    assert [w.level for w in warnings] == ["warning"]


async def test_C5_admin_force_cancels_mid_period(stack: Stack) -> None:
    gym = await stack.gym()
    operator = await stack.gym("Platform Staff")
    # Admin routes want the stored platform-admin flag as well as the token's claim.
    await set_platform_admin(stack.svc, "owner@platform-staff.example.com", True)
    await stack.activate(gym)
    await _post(stack, gym, "cancel")
    elite = await stack.checkout(gym, "elite")  # an in-flight charge

    refused = await stack.app.post(
        f"/admin/organizations/{gym.org_id}/billing/force-cancel", headers=bearer(gym.owner)
    )
    response = await stack.app.post(
        f"/admin/organizations/{gym.org_id}/billing/force-cancel",
        headers=bearer(operator.owner, platform_admin=True),
    )

    assert refused.status_code == 403
    assert response.status_code == 200, response.text
    status = response.json()["data"]
    assert (status["status"], status["tier"]) == ("cancelled", "lite")
    assert status["cancelReason"] == "admin-force-cancel"
    rows = {t["id"]: t["status"] for t in await stack.transactions(gym)}
    assert rows[elite["transactionId"]] == "cancelled"


async def test_C6_patch_tier_lite_while_pro_cancels_at_period_end(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)

    response = await _patch_tier(stack, gym, "lite")

    assert response.status_code == 200, response.text
    status = response.json()["data"]
    assert status["cancelAtPeriodEnd"] is True
    assert (status["status"], status["tier"]) == ("active", "pro")
    assert "subscription.cancel_scheduled" in await stack.event_names(gym)


async def test_C7_patch_tier_pro_while_lite_needs_payment(stack: Stack) -> None:
    gym = await stack.gym()

    response = await _patch_tier(stack, gym, "pro")

    assert response.status_code == 400
    assert response.json()["code"] == "PAYMENT_REQUIRED"
    assert (await stack.status(gym))["tier"] == "lite"


async def test_C8_patch_tier_elite_while_pro_is_unsupported(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)

    response = await _patch_tier(stack, gym, "elite")
    bad = await _patch_tier(stack, gym, "platinum")

    assert response.status_code == 400
    assert response.json()["code"] == "PAID_DOWNGRADE_UNSUPPORTED"
    assert bad.status_code == 400
    assert bad.json()["field"] == "tier"
    assert "lite, pro, elite" in bad.json()["detail"]
    assert (await stack.status(gym))["tier"] == "pro"
