"""QA plan, permissions: P1–P4 over HTTP."""

from __future__ import annotations

import pytest
from billing_http_harness import Stack, bearer

pytestmark = pytest.mark.integration


async def test_P1_admin_not_owner_cannot_check_out(stack: Stack) -> None:
    gym = await stack.gym()

    response = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/checkout",
        json={"tier": "pro"},
        headers=bearer(gym.admin),
    )
    anonymous = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/checkout", json={"tier": "pro"}
    )

    assert response.status_code == 403
    assert anonymous.status_code == 401
    assert await stack.transactions(gym) == []


async def test_P2_coach_cannot_cancel(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym)

    cancel = await stack.app.post(
        f"/organizations/{gym.org_id}/billing/cancel", headers=bearer(gym.coach)
    )
    tier = await stack.app.patch(
        f"/organizations/{gym.org_id}/billing/tier",
        json={"tier": "lite"},
        headers=bearer(gym.coach),
    )

    assert cancel.status_code == 403
    assert tier.status_code == 403
    assert (await stack.status(gym))["cancelAtPeriodEnd"] is False


async def test_P3_member_can_read_billing(stack: Stack) -> None:
    gym = await stack.gym()
    stranger = await stack.gym("Another Gym")
    await stack.activate(gym)

    member = await stack.app.get(f"/organizations/{gym.org_id}/billing", headers=bearer(gym.member))
    history = await stack.app.get(
        f"/organizations/{gym.org_id}/billing/transactions", headers=bearer(gym.member)
    )
    outsider = await stack.app.get(
        f"/organizations/{gym.org_id}/billing", headers=bearer(stranger.owner)
    )

    assert member.status_code == 200
    assert member.json()["data"]["tier"] == "pro"
    assert history.status_code == 200
    assert history.json()["meta"]["total"] == 1
    assert outsider.status_code == 403


async def test_P4_verify_with_another_orgs_low_profile_id_is_refused(stack: Stack) -> None:
    org_a = await stack.gym("Gym A")
    org_b = await stack.gym("Gym B")
    await stack.suppress_webhooks()
    b_session = await stack.checkout(org_b)
    await stack.pay(b_session["lowProfileId"])

    response = await stack.verify(org_a, b_session["lowProfileId"])

    assert response.status_code == 403
    assert response.json()["detail"] == "Transaction does not belong to org"
    assert (await stack.status(org_a))["tier"] == "lite"
    assert (await stack.status(org_b))["tier"] == "lite"  # nothing was settled by A's call
