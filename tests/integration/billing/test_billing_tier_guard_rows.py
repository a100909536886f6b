"""QA plan, tier guard: T1–T6 against the catalog endpoints of the real app."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from billing_http_harness import AppServer, GymUsers, Stack, bearer, build_runtime
from litestar import get

from fitdata_core.model.tiers import Feature
from fitdata_core.usecases.billing import run_renewals
from fitdata_http.envelope import Envelope, ok
from fitdata_http.guards import requires_feature

pytestmark = pytest.mark.integration


async def _post(stack: Stack, gym: GymUsers, what: str, body: dict[str, Any]) -> httpx.Response:
    return await stack.app.post(
        f"/organizations/{gym.org_id}/{what}", json=body, headers=bearer(gym.owner)
    )


def _refused_for(response: httpx.Response, feature: str) -> bool:
    return (
        response.status_code == 403
        and response.json()["detail"] == f'Feature "{feature}" requires a higher platform tier'
    )


async def test_T1_lite_org_may_create_membership_plans(stack: Stack) -> None:
    gym = await stack.gym()

    response = await _post(
        stack, gym, "plans", {"name": "Monthly", "kind": "membership", "price": "199"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["price"] == {"amount": "199.00", "currency": "ILS"}


async def test_T2_lite_org_class_pack_plan_is_refused(stack: Stack) -> None:
    gym = await stack.gym()
    body = {"name": "10 classes", "kind": "class_pack", "price": "450", "sessionCount": 10}

    on_lite = await _post(stack, gym, "plans", body)
    await stack.activate(gym, "pro")
    on_pro = await _post(stack, gym, "plans", body)

    assert _refused_for(on_lite, "class_packs")
    assert on_pro.status_code == 201, on_pro.text


async def test_T3_lite_org_courses_are_refused(stack: Stack) -> None:
    gym = await stack.gym()

    create = await _post(stack, gym, "courses", {"name": "Yoga"})
    listing = await stack.app.get(f"/organizations/{gym.org_id}/courses", headers=bearer(gym.owner))

    assert _refused_for(create, "courses")
    assert _refused_for(listing, "courses")


async def test_T4_pro_org_second_location_needs_elite(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym, "pro")

    first = await _post(stack, gym, "locations", {"name": "Main hall"})
    second_on_pro = await _post(stack, gym, "locations", {"name": "Annex"})
    # Moving up: cancel pro (runs to its period end), then buy elite.
    await stack.app.post(f"/organizations/{gym.org_id}/billing/cancel", headers=bearer(gym.owner))
    await stack.activate(gym, "elite")
    second_on_elite = await _post(stack, gym, "locations", {"name": "Annex"})

    assert first.status_code == 201, first.text
    assert _refused_for(second_on_pro, "multiple_locations")
    assert second_on_elite.status_code == 201, second_on_elite.text


async def test_T5_downgrade_revokes_features_on_the_next_request(stack: Stack) -> None:
    gym = await stack.gym()
    await stack.activate(gym, "pro")
    headers = bearer(gym.owner)  # one session (token) throughout
    before = await stack.app.post(
        f"/organizations/{gym.org_id}/courses", json={"name": "Yoga"}, headers=headers
    )
    cancelled = await stack.app.post(f"/organizations/{gym.org_id}/billing/cancel", headers=headers)
    period_end = datetime.fromisoformat(cancelled.json()["data"]["currentPeriodEnd"])
    stack.clock.set(period_end + timedelta(minutes=1))
    report = await run_renewals(stack.svc, scheduled=True)  # the cron flips the tier

    after = await stack.app.post(
        f"/organizations/{gym.org_id}/courses", json={"name": "Pilates"}, headers=headers
    )

    assert before.status_code == 201
    assert report.cancelled_scheduled == 1
    assert _refused_for(after, "courses")


@get("/probe/no-org-param", guards=[requires_feature(Feature.COURSES)])
async def _probe_without_org() -> Envelope:
    return ok({"reached": True})


async def test_T6_guard_without_org_id_param_passes(stack: Stack) -> None:
    gym = await stack.gym()  # lite: an org route with this guard refuses it
    server = AppServer()
    server.start(
        lambda: build_runtime(stack.settings, stack.clock, stack.mailer, stack.errors),
        extra_route_handlers=[_probe_without_org],
    )
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as client:
            passed = await client.get("/probe/no-org-param", headers=bearer(gym.owner))
            anonymous = await client.get("/probe/no-org-param")
            org_route = await client.get(
                f"/organizations/{gym.org_id}/courses", headers=bearer(gym.owner)
            )
    finally:
        server.stop()

    assert passed.status_code == 200
    assert passed.json() == {"data": {"reached": True}}
    assert anonymous.status_code == 401  # the guard still authenticates
    assert _refused_for(org_route, "courses")
